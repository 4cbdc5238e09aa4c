"""connectors.normalize: examples from real header shapes, then properties (hypothesis).

Example values marked "Enron" are copied from ../shared/data/enron/maildir; the French ones
are the shapes our first users' mail carries (Outlook FR, Thunderbird, Gmail in French).
"""

from __future__ import annotations

import email.header
import email.parser
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.normalize import (
    AUTOMATED_LOCAL_PARTS,
    decode_header_text,
    is_automated_address,
    normalize_address,
    normalize_message_id,
    parse_address_list,
    parse_date,
    thread_subject,
)

EXO_DN = (
    "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
    "/cn=Recipients/cn=abc123-jane"
)
EXO_KEY = "x500:" + EXO_DN.lower()
NOTES_KEY = "x500:/o=enron/ou=na/cn=recipients/cn=notesaddr/cn=a478079f-55e1f3b0-862566fa-612229"

# ------------------------------------------------------------------------------------------
# normalize_address
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Jane.Doe@Fabrikam.COM ", "jane.doe@fabrikam.com"),
        ("  <jane.doe@fabrikam.com>\r\n", "jane.doe@fabrikam.com"),
        ('"jane.doe@fabrikam.com"', "jane.doe@fabrikam.com"),
        ("'jane.doe@fabrikam.com'", "jane.doe@fabrikam.com"),
        ("mailto:Jane.Doe@Fabrikam.com", "jane.doe@fabrikam.com"),
        ("jane.doe@fabrikam.com.", "jane.doe@fabrikam.com"),  # absolute FQDN
        ("Jane+CRM@Fabrikam.com", "jane+crm@fabrikam.com"),
        ("o'brien@exemple.ie", "o'brien@exemple.ie"),
        # Enron: consecutive and leading dots in the local part are real recipients.
        ("k..allen@enron.com", "k..allen@enron.com"),
        ("K..Allen@ENRON.com", "k..allen@enron.com"),
        (".ward@enron.com", ".ward@enron.com"),
        ("carol.st.@enron.com", "carol.st.@enron.com"),
        ("anchordesk_daily@anchordesk.zdlists.com", "anchordesk_daily@anchordesk.zdlists.com"),
        # IDNA: A-labels decoded, U-labels NFC lower case; both spellings are one key.
        ("jean@xn--caf-dma.fr", "jean@café.fr"),
        ("Jean@CAFÉ.FR", "jean@café.fr"),
        ("jean@cafe\u0301.fr", "jean@café.fr"),  # decomposed é (macOS input)
        ("contact@XN--BCHER-KVA.example", "contact@bücher.example"),
        ("a@例え。テスト", "a@例え.テスト"),  # ideographic full stop separates labels
        ("Élodie.Dupré@Exemple.fr", "élodie.dupré@exemple.fr"),  # SMTPUTF8 local part
        ("a@xn--zz.com", "a@xn--zz.com"),  # not valid punycode: kept verbatim, still stable
    ],
)
def test_normalize_address_examples(raw: str, key: str) -> None:
    assert normalize_address(raw) == key
    assert normalize_address(key) == key


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "jane.doe",  # no @
        "@fabrikam.com",
        "jane@",
        "jane doe@fabrikam.com",  # space inside
        "jane@fabrikam com",
        "jane@localhost",  # no dot in the domain
        "jane@fabrikam..com",
        "jane@.fabrikam.com",
        "jane@fabrikam.com@other.com",
        "jane,doe@fabrikam.com",
        "jane@[192.0.2.1]",  # address literals: nobody we track mails from one
        "All Enron Worldwide@ENRON",  # Enron (Notes group name)
        "??SAll Enron Worldwide@ENRON",
        "x" * 250 + "@fabrikam.com",  # longer than 254
        "undisclosed-recipients:;",
        "/o=",  # a DN with nothing in it
        "jane\x00@fabrikam.com",
    ],
)
def test_normalize_address_rejects(raw: str) -> None:
    assert normalize_address(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        EXO_DN,
        "EX:" + EXO_DN,
        f"<{EXO_DN}>",
        f"  ex:{EXO_DN.upper()}  ",
        "x500:" + EXO_DN,
        EXO_DN.replace(" (", "\r\n\t("),  # folded inside the DN
    ],
)
def test_legacy_dn_forms(raw: str) -> None:
    assert normalize_address(raw) == EXO_KEY


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("</O=ENRON/OU=NA/CN=RECIPIENTS/CN=PALLEN>", "x500:/o=enron/ou=na/cn=recipients/cn=pallen"),
        # Enron glued the SMTP domain onto Notes-gateway DNs, sometimes inside quotes.
        (NOTES_KEY[5:] + "@enron.com", NOTES_KEY),
        ("'" + NOTES_KEY[5:] + "'@enron.com", NOTES_KEY),
        ("/O=ENRON/OU=NA/CN=RECIPIENTS/CN=Notesaddr/cn=" + NOTES_KEY.rpartition("=")[2], NOTES_KEY),
        # IMCEA encapsulation ([MS-OXCMAIL] 2.1.3.1.8): "_" is "/", "+XX" a byte; domain dropped.
        (
            "IMCEAEX-_O=ENRON_OU=NA_CN=RECIPIENTS_CN=PALLEN@ENRON.com",
            "x500:/o=enron/ou=na/cn=recipients/cn=pallen",
        ),
        (
            "IMCEAEX-_o=ExchangeLabs_ou=Exchange+20Administrative+20Group+20+28FYDIBOHF23SPDLT+29"
            "_cn=Recipients_cn=abc123-jane@eurprd01.prod.outlook.com",
            EXO_KEY,
        ),
    ],
)
def test_enron_and_imcea_dns(raw: str, key: str) -> None:
    assert normalize_address(raw) == key
    assert normalize_address(key) == key


def test_imcea_that_is_not_a_dn_stays_an_address() -> None:
    assert normalize_address("IMCEAEX-nothing+20here@Gateway.example") == (
        "imceaex-nothing+20here@gateway.example"
    )


def test_normalize_address_tolerates_non_str() -> None:
    assert normalize_address(None) is None  # type: ignore[arg-type]
    assert normalize_address(42) is None  # type: ignore[arg-type]


def test_surrogate_escaped_bytes_are_repaired() -> None:
    # compat32 hands raw 8-bit header bytes over as lone surrogates.
    raw = "ren\udcc3\udca9e@exemple.fr"
    assert normalize_address(raw) == "renée@exemple.fr"


# ------------------------------------------------------------------------------------------
# parse_address_list
# ------------------------------------------------------------------------------------------


def test_enron_folded_plain_list() -> None:
    value = (  # Enron allen-p/inbox/13 (start of it)
        "wes.colwell@enron.com, georgeanne.hodges@enron.com, rob.milnthorp@enron.com, \n"
        "\tjohn.zufferli@enron.com, peggy.hedstrom@enron.com, \n"
        "\tthomas.myers@enron.com, s..bradford@enron.com, lloyd.will@enron.com"
    )
    keys = [key for _, key in parse_address_list(value)]
    assert keys == [
        "wes.colwell@enron.com",
        "georgeanne.hodges@enron.com",
        "rob.milnthorp@enron.com",
        "john.zufferli@enron.com",
        "peggy.hedstrom@enron.com",
        "thomas.myers@enron.com",
        "s..bradford@enron.com",
        "lloyd.will@enron.com",
    ]


def test_enron_list_with_brackets_and_notes_dn() -> None:
    value = (  # Enron shapes: "legal <.taylor@enron.com>", Notes DNs with or without quotes
        "mary.cook@enron.com, t..hodge@enron.com, legal <.taylor@enron.com>, \n"
        "\telizabeth.sager@enron.com, carol.st.@enron.com, \n"
        f"\t{NOTES_KEY[5:]}@enron.com, \n"
        f"\t'{NOTES_KEY[5:]}'@enron.com, jae.black@enron.com"
    )
    assert parse_address_list(value) == [
        ("", "mary.cook@enron.com"),
        ("", "t..hodge@enron.com"),
        ("legal", ".taylor@enron.com"),
        ("", "elizabeth.sager@enron.com"),
        ("", "carol.st.@enron.com"),
        ("", NOTES_KEY),  # the quoted copy is the same key: kept once
        ("", "jae.black@enron.com"),
    ]


def test_enron_x_to_unquoted_last_first_names() -> None:
    value = (  # Enron X-To: Outlook's unquoted "Last, First </o=...>"
        "Nemec, Gerald </O=ENRON/OU=NA/CN=RECIPIENTS/CN=Gnemec>, Williams III, Bill "
        "</O=ENRON/OU=NA/CN=RECIPIENTS/CN=BWILLIA5>, Van Gelder, John "
        "</O=ENRON/OU=NA/CN=RECIPIENTS/CN=JVANGELD>"
    )
    assert parse_address_list(value) == [
        ("Nemec, Gerald", "x500:/o=enron/ou=na/cn=recipients/cn=gnemec"),
        ("Williams III, Bill", "x500:/o=enron/ou=na/cn=recipients/cn=bwillia5"),
        ("Van Gelder, John", "x500:/o=enron/ou=na/cn=recipients/cn=jvangeld"),
    ]


def test_exchange_dn_with_spaces_and_parentheses() -> None:
    value = f"Jane Roe <EX:{EXO_DN}>, {EXO_DN.replace('jane', 'bob')}, zoe@contoso.com"
    assert parse_address_list(value) == [
        ("Jane Roe", EXO_KEY),
        ("", EXO_KEY.replace("jane", "bob")),
        ("", "zoe@contoso.com"),
    ]


def test_french_display_names() -> None:
    value = (
        '"Dupré, Élodie" <Elodie.Dupre@Exemple.fr>, '
        "=?utf-8?q?Fran=C3=A7ois_L=C3=A9v=C3=AAque?= <francois@exemple.fr>, "
        "=?iso-8859-1?b?RnLpZOlyaWMgTGVm6HZyZQ==?= <fred@exemple.fr>, "
        "'Chloé Martin' <chloe@exemple.fr>, "
        "=?UTF-8?B?QW5uZS1Tb3BoaWUgTcO8bGxlcg==?= <asm@exemple.de>"
    )
    assert parse_address_list(value) == [
        ("Dupré, Élodie", "elodie.dupre@exemple.fr"),
        ("François Lévêque", "francois@exemple.fr"),
        ("Frédéric Lefèvre", "fred@exemple.fr"),
        ("Chloé Martin", "chloe@exemple.fr"),
        ("Anne-Sophie Müller", "asm@exemple.de"),
    ]


def test_encoded_word_with_comma_inside_is_one_name() -> None:
    # "Dupont, Renée" B-encoded: the comma must not split the entry (decode after parsing).
    value = "=?utf-8?b?RHVwb250LCBSZW7DqWU=?= <renee@exemple.fr>, paul@exemple.fr"
    assert parse_address_list(value) == [
        ("Dupont, Renée", "renee@exemple.fr"),
        ("", "paul@exemple.fr"),
    ]


def test_raw_comma_inside_encoded_word() -> None:
    # Illegal but seen: a raw comma inside a Q-encoded "Nom, Prénom"; quoted or not.
    value = '=?utf-8?q?Dupont,_Ren=C3=A9e?= <r@x.fr>, "=?utf-8?q?Martin,_Chlo=C3=A9?=" <c@x.fr>'
    assert parse_address_list(value) == [("Dupont, Renée", "r@x.fr"), ("Martin, Chloé", "c@x.fr")]


def test_whole_entry_as_one_encoded_word() -> None:
    # Some mailers encode "Jane Doe <jane@x.com>" as a single word; decode and read it.
    assert parse_address_list("=?utf-8?b?SmFuZSBEb2UgPGphbmVAeC5jb20+?=") == [
        ("Jane Doe", "jane@x.com")
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("undisclosed-recipients:;", []),
        ("Undisclosed recipients:;", []),
        ("destinataires inconnus:;", []),
        ("Cc:;", []),
        ("", []),
        ("   \r\n\t", []),
        (None, []),
        (
            "Équipe Ventes: a@exemple.fr, Bob <b@exemple.fr>;, c@exemple.com",
            [("", "a@exemple.fr"), ("Bob", "b@exemple.fr"), ("", "c@exemple.com")],
        ),
        ("a@x.com; b@y.com", [("", "a@x.com"), ("", "b@y.com")]),  # Outlook's semicolons
        ("a@x.com b@y.com", [("", "a@x.com"), ("", "b@y.com")]),  # space-separated
        ("a@x.com (Jane Doe)", [("Jane Doe", "a@x.com")]),  # RFC 822 comment name
        ('"jane@x.com" <Jane@X.com>', [("", "jane@x.com")]),  # name repeating the address
        ('"jane@x.com" <jane.doe@x.com>', [("jane@x.com", "jane.doe@x.com")]),
    ],
)
def test_parse_address_list_shapes(value: str | None, expected: list[tuple[str, str]]) -> None:
    assert parse_address_list(value) == expected


def test_duplicates_kept_once_first_wins() -> None:
    value = "Jane <jane@x.com>, JANE@X.COM, Other Name <jane@x.com>, bob@y.com, <Bob@Y.com>"
    assert parse_address_list(value) == [("Jane", "jane@x.com"), ("", "bob@y.com")]


def test_junk_is_skipped_and_the_rest_kept() -> None:
    value = "a@x.com, not an address, b@y, <>, All Enron Worldwide@ENRON, c@z.com, @@, d@w.org"
    keys = [key for _, key in parse_address_list(value)]
    assert keys == ["a@x.com", "c@z.com", "d@w.org"]


def test_unbalanced_quote_salvages_addresses() -> None:
    keys = [key for _, key in parse_address_list('"Doe, Jane <jane@x.com>, bob@y.com')]
    assert keys == ["jane@x.com", "bob@y.com"]


def test_header_object_and_surrogates() -> None:
    # compat32 returns email.header.Header for 8-bit values; raw UTF-8 arrives as surrogates.
    header = email.header.Header("François <fr@exemple.fr>", "utf-8")
    assert parse_address_list(header) == [("François", "fr@exemple.fr")]  # type: ignore[arg-type]
    assert parse_address_list("Fran\udcc3\udca7ois <fr@exemple.fr>") == [
        ("François", "fr@exemple.fr")
    ]


def test_fast_and_parser_paths_agree() -> None:
    plain = "Jane.Doe@X.com, k..allen@enron.com, bob@y.org"
    # A "<...>" anywhere sends the header through the parser; keys must not change.
    assert [k for _, k in parse_address_list(plain)] == [
        k for _, k in parse_address_list(plain + ", <zed@z.com>")
    ][:3]


def test_big_distribution_list() -> None:
    value = ", ".join(f"user{n}@exemple.fr" for n in range(5000)) + ', "Doe, J" <j@x.com>'
    result = parse_address_list(value)
    assert len(result) == 5001
    assert result[-1] == ("Doe, J", "j@x.com")


# ------------------------------------------------------------------------------------------
# normalize_message_id
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (  # Enron
            "<18782981.1075855378110.JavaMail.evans@thyme>",
            "18782981.1075855378110.JavaMail.evans@thyme",
        ),
        ("<ABC.123@Host.Example.COM>", "ABC.123@host.example.com"),  # left part keeps its case
        ("  <CAH+w=7y@mail.gmail.com>  ", "CAH+w=7y@mail.gmail.com"),
        ("<a@x.fr> <b@x.fr>", "a@x.fr"),  # References: the first one
        ("<a@x.fr> (Jean's message of lun. 3 mars 2025)", "a@x.fr"),
        ("Your message of Mon, 3 Mar <A@B.C>", "A@b.c"),
        ("abc@HOST.example", "abc@host.example"),  # bare
        ("<abc\r\n def@Host>", "abcdef@host"),  # folded inside
        (
            "<AM0PR01MB1234.eurprd01.prod.exchangelabs.com@AM0PR01MB1234.EURPRD01.PROD.OUTLOOK.COM>",
            "AM0PR01MB1234.eurprd01.prod.exchangelabs.com@am0pr01mb1234.eurprd01.prod.outlook.com",
        ),
    ],
)
def test_normalize_message_id(value: str, expected: str) -> None:
    assert normalize_message_id(value) == expected
    assert normalize_message_id(expected) == expected


@pytest.mark.parametrize("value", [None, "", " ", "<>", "<@host>", "<abc@>", "<12345>", "garbage"])
def test_normalize_message_id_garbage(value: str | None) -> None:
    assert normalize_message_id(value) is None


# ------------------------------------------------------------------------------------------
# parse_date
# ------------------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 7 Dec 2001 10:06:42 -0800 (PST)", utc(2001, 12, 7, 18, 6, 42)),  # Enron
        ("Mon, 4 Jan 2044 14:48:58 -0800 (PST)", utc(2044, 1, 4, 22, 48, 58)),  # Enron, sic
        ("Mon, 03 Mar 2025 14:05:00 +0100", utc(2025, 3, 3, 13, 5)),
        ("Mon, 3 Mar 2025 14:05:00 GMT", utc(2025, 3, 3, 14, 5)),
        ("Mon, 3 Mar 2025 14:05:00 -0000", utc(2025, 3, 3, 14, 5)),
        # Zones the stdlib does not know (it would silently return a naive time).
        ("Mon, 3 Mar 2025 14:05:00 CET", utc(2025, 3, 3, 13, 5)),
        ("Mon, 3 Jun 2025 14:05:00 CEST", utc(2025, 6, 3, 12, 5)),
        ("Mon, 3 Mar 2025 14:05:00 MEZ", utc(2025, 3, 3, 13, 5)),
        ("Mon, 3 Mar 2025 14:05:00 GMT+0200", utc(2025, 3, 3, 12, 5)),
        ("Mon, 3 Mar 2025 14:05:00 UTC-5", utc(2025, 3, 3, 19, 5)),
        ("Mon, 3 Mar 2025 14:05:00 (CEST)", utc(2025, 3, 3, 12, 5)),
        ("Mon, 3 Mar 2025 14:05:00 PST", utc(2025, 3, 3, 22, 5)),
        ("Mon, 3 Mar 2025 14:05:00 EDT", utc(2025, 3, 3, 18, 5)),
        ("Mon, 3 Mar 2025 2:05 PM EST", utc(2025, 3, 3, 19, 5)),
        # JavaScript's Date.toString(), French locale.
        (
            "Mon Mar 03 2025 14:05:00 GMT+0100 (heure normale d’Europe centrale)",
            utc(2025, 3, 3, 13, 5),
        ),
        # Missing zone: UTC.
        ("Mon, 3 Mar 2025 14:05:00", utc(2025, 3, 3, 14, 5)),
        # Two-digit years (stdlib pivot: 69..99 -> 19xx, 00..68 -> 20xx).
        ("Mon, 3 Mar 25 14:05:00 +0100", utc(2025, 3, 3, 13, 5)),
        ("Wed, 3 Mar 99 14:05 GMT", utc(1999, 3, 3, 14, 5)),
        ("3 mars 25 14:05", utc(2025, 3, 3, 14, 5)),
        # French.
        ("lun. 3 mars 2025 14:05:00 +0100", utc(2025, 3, 3, 13, 5)),
        ("mar. 4 mars 2025 09:00:00 +0100", utc(2025, 3, 4, 8, 0)),  # mar. = mardi here
        ("3 mars 2025 14:05", utc(2025, 3, 3, 14, 5)),
        ("1er janvier 2025 à 08h30", utc(2025, 1, 1, 8, 30)),
        ("12 janv. 2025 10:00 +0100", utc(2025, 1, 12, 9, 0)),
        ("12 févr. 2025 10:00", utc(2025, 2, 12, 10, 0)),
        ("12 fevr. 2025 10:00", utc(2025, 2, 12, 10, 0)),
        ("12 FÉVRIER 2025 10:00 CET", utc(2025, 2, 12, 9, 0)),
        ("2 avr. 2025 10:00", utc(2025, 4, 2, 10, 0)),
        ("mer. 14 mai 2025 10:00:00 +0200", utc(2025, 5, 14, 8, 0)),
        ("14 juil. 2024 10:00", utc(2024, 7, 14, 10, 0)),
        ("15 août 2024 14:05:00 +0200", utc(2024, 8, 15, 12, 5)),
        ("15 aout 2024 14:05", utc(2024, 8, 15, 14, 5)),
        ("5 sept. 2024 10:00", utc(2024, 9, 5, 10, 0)),
        ("5 oct. 2024 10:00", utc(2024, 10, 5, 10, 0)),
        ("5 nov. 2024 10:00", utc(2024, 11, 5, 10, 0)),
        ("15 déc. 2024 18:00", utc(2024, 12, 15, 18, 0)),
        ("15 decembre 2024 18:00", utc(2024, 12, 15, 18, 0)),
        ("vendredi 20 juin 2025 16:45:10 CEST", utc(2025, 6, 20, 14, 45, 10)),
        ("3 mars 2025", utc(2025, 3, 3)),  # date only: midnight UTC
        # Machine formats that sloppy tools put in Date.
        ("2025-03-03T14:05:00Z", utc(2025, 3, 3, 14, 5)),
        ("2025-03-03 14:05:00+01:00", utc(2025, 3, 3, 13, 5)),
    ],
)
def test_parse_date_examples(value: str, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "demain matin",
        "Mon, 3 Mar 1960 14:05:00 +0000",  # before 1970
        "Mon, 3 Mar 2150 14:05:00 +0000",  # after 2100
        "Thu, 01 Jan 1970 00:00:00 +0100",  # 1969 in UTC
        "Tue, 30 Feb 2025 10:00:00 +0000",
        "Mon, 3 Mar 2025 25:05:00 +0000",
        "Mon, 3 Mar 2025 14:05:00 +9999",  # a broken offset makes the date suspect
        "03/03/2025 14:05",  # day/month order unknowable
        "x" * 500,
    ],
)
def test_parse_date_rejects(value: str | None) -> None:
    assert parse_date(value) is None


# ------------------------------------------------------------------------------------------
# decode_header_text
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("Plain  subject\r\n\tfolded", "Plain subject folded"),
        ("=?utf-8?q?R=C3=A9union_de_lancement?=", "Réunion de lancement"),
        ("=?UTF-8?Q?R=C3=A9union?= =?UTF-8?Q?_budget?=", "Réunion budget"),  # gap dropped
        ("Devis =?iso-8859-1?q?n=B042?= pour =?utf-8?b?w4lsb2RpZQ==?=", "Devis n°42 pour Élodie"),
        ("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=", "€"),  # a UTF-8 character split in two words
        ("=?iso-8859-1?q?c=9Cur?=", "cœur"),  # windows-1252 bytes under a Latin-1 label
        ("=?utf-8?q?caf=E9?=", "café"),  # Latin-1 bytes under a UTF-8 label
        ("=?x-unknown?q?na=C3=AFve?=", "naïve"),  # unknown charset: UTF-8 guess
        ("=?x-unknown?q?=FF=FE=81?=", "\ufffd" * 3),  # ... not UTF-8 nor 1252: replacement
        ("=?utf-8*fr?q?=C3=A9t=C3=A9?=", "été"),  # RFC 2231 language suffix
        ("=?utf-8?b?w6l0w6k?=", "été"),  # missing base64 padding
        ("=?utf-8?b?!?= ok", "=?utf-8?b?!?= ok"),  # broken payload kept literally
        ("TR:\x00 ctrl\x1bchars", "TR: ctrl chars"),
        ("Ren\udcc3\udca9e", "Renée"),  # compat32 surrogate-escaped 8-bit bytes
        ("Ren\udce9e", "Renée"),  # ... in Latin-1
    ],
)
def test_decode_header_text(value: str | None, expected: str) -> None:
    assert decode_header_text(value) == expected


# ------------------------------------------------------------------------------------------
# thread_subject
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: West Position", "West Position"),  # Enron
        ("Re: [Fwd: Hey carl]", "Hey carl"),  # Enron (Netscape forward wrapper)
        ("FW: [Fwd: Fwd: More cows]", "More cows"),  # Enron
        ("Re: Re: Re: Budget", "Budget"),
        ("RE : TR: Réf. : Devis n°42", "Devis n°42"),
        ("RÉF: Contrat", "Contrat"),
        ("Ref : Contrat", "Contrat"),
        ("TR : Invitation", "Invitation"),
        ("Fwd: FW: Fw: x", "x"),
        ("AW: WG: Angebot", "Angebot"),
        ("Re[2]: Planning", "Planning"),
        ("RE(3): Planning", "Planning"),
        ("SV: Offert", "Offert"),
        ("RV: Propuesta", "Propuesta"),
        ("[EXTERNAL] RE: Renouvellement", "Renouvellement"),
        ("RE: [EXT] Fwd: Renouvellement", "Renouvellement"),
        ("[External Email] Re: Offre", "Offre"),
        ("RE\u00a0: Offre", "Offre"),  # French non-breaking space before the colon
        ("RE\u202f:\u00a0Offre", "Offre"),
        ("  re :  re:  Offre   spéciale ", "Offre spéciale"),
        ("Proposal (fwd)", "Proposal"),
        ("Re:", ""),
        ("", ""),
        # Not prefixes.
        ("Area: 51", "Area: 51"),
        ("Reunion: demain", "Reunion: demain"),
        ("Resume: Jean Dupont", "Resume: Jean Dupont"),
        ("Trading: Q3", "Trading: Q3"),
        ("[Action requise] Facture", "[Action requise] Facture"),
    ],
)
def test_thread_subject(subject: str, expected: str) -> None:
    assert thread_subject(subject) == expected
    assert thread_subject(expected) == expected


# ------------------------------------------------------------------------------------------
# is_automated_address
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "noreply@exemple.fr",
        "no-reply@exemple.fr",
        "no_reply@exemple.fr",
        "do-not-reply@exemple.fr",
        "donotreply@exemple.fr",
        "ne-pas-repondre@impots.gouv.fr",
        "nepasrepondre@exemple.fr",
        "ne-pas-répondre@exemple.fr",
        "mailer-daemon@exemple.fr",
        "MAILER-DAEMON@exemple.fr",
        "postmaster@exemple.fr",
        "bounce@exemple.fr",
        "bounces@exemple.fr",
        "bounce-12345-abc@mail.exemple.fr",
        "ventes-bounces@lists.exemple.org",  # Mailman
        "notification@exemple.fr",
        "notifications@github.com",
        "alert@exemple.fr",
        "alerts@exemple.fr",
        "security.alerts@exemple.fr",
        "newsletter@exemple.fr",
        "calendar-noreply@google.com",
    ],
)
def test_automated(key: str) -> None:
    assert is_automated_address(key)


@pytest.mark.parametrize(
    "key",
    [
        "info@exemple.fr",
        "contact@exemple.fr",
        "ventes@exemple.fr",
        "support@exemple.fr",
        "jane.doe@exemple.fr",
        "notify@exemple.fr",
        "bouncer@exemple.fr",
        "knoreply@exemple.fr",
        "x500:/o=enron/ou=na/cn=recipients/cn=noreply",
        "noreply",  # not a key
        "",
    ],
)
def test_not_automated(key: str) -> None:
    assert not is_automated_address(key)


def test_automated_list_is_documented() -> None:
    assert "no-reply" in AUTOMATED_LOCAL_PARTS
    assert "info" not in AUTOMATED_LOCAL_PARTS


@pytest.mark.parametrize(
    "value",
    [
        '"x <@' + "a" * 50_000,  # salvage regex on a long run without "@"
        "Re: " * 20_000 + "x",  # prefix stripping
        "(" + "a@" * 20_000,
        "<" * 50_000,
        '"' * 50_001,
        "=?" * 30_000,
        "</o=" * 20_000,
        "," * 100_000,
        "=?utf-8?q?" + "a" * 100_000,
        "/o=" + "@" * 4_000,
    ],
    ids=lambda value: repr(value[:12]),
)
@pytest.mark.timeout(60)  # a hang guard, not a speed assertion (benchmarks live in bench/)
def test_hostile_sizes_are_handled(value: str) -> None:
    # Quadratic regexes once turned these into 10-second calls; they must return, with sane
    # types, and never raise.
    assert isinstance(parse_address_list(value), list)
    assert isinstance(thread_subject(value), str)
    assert isinstance(decode_header_text(value), str)
    assert parse_date(value) is None
    assert normalize_message_id(value) is None or "@" in str(normalize_message_id(value))
    assert normalize_address(value) is None or isinstance(normalize_address(value), str)


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

# Every code point, lone surrogates included (they reach us through surrogateescape).
any_text = st.text(st.characters(exclude_categories=()))

# Address-ish text: ASCII letters plus accented letters whose case maps round-trip.
_letters = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉèÈçÇüÜ0123456789")
_word = st.text(_letters, min_size=1, max_size=8)
_local = st.lists(_word, min_size=1, max_size=3).map(".".join) | st.sampled_from(
    ["k..allen", ".ward", "o'brien", "jane+crm", "a_b-c"]
)
_domain = st.lists(_word, min_size=2, max_size=4).map(".".join) | st.sampled_from(
    ["xn--caf-dma.fr", "café.fr", "CAFE\u0301.FR", "xn--bcher-kva.example", "例え。テスト"]
)
_dn = st.sampled_from(
    [EXO_DN, "/O=ENRON/OU=NA/CN=RECIPIENTS/CN=PALLEN", NOTES_KEY[5:] + "@enron.com"]
)
addresses = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain),
    _dn,
    st.builds(lambda prefix, dn: prefix + dn, st.sampled_from(["EX:", "x500:", "<", "'"]), _dn),
)
wrapped_addresses = st.builds(
    lambda left, address, right: f"{left}{address}{right}",
    st.sampled_from(["", " ", "<", '"', "mailto:", "\t<"]),
    addresses,
    st.sampled_from(["", " ", ">", '"', ".", "\r\n"]),
)

# Header-ish text: fragments that stress the parser (quotes, groups, comments, DNs, words).
_fragment = st.one_of(
    addresses,
    _word,
    st.sampled_from(
        [
            ", ",
            ",",
            ";",
            ":",
            " ",
            "<",
            ">",
            '"',
            "'",
            "(",
            ")",
            "\\",
            "\r\n\t",
            "@",
            "[",
            "]",
            "=?utf-8?q?R=C3=A9mi?=",
            "=?iso-8859-1?b?6Q==?=",
            "=?x?q?",
            "?=",
            "/o=",
            "EX:",
            "undisclosed-recipients:;",
            "IMCEAEX-_O=X_CN=Y@x.com",
            "Dupré, Élodie",
            "\udcc3\udca9",
            "\x00",
        ]
    ),
)
header_text = st.lists(_fragment, max_size=12).map("".join)


@given(st.one_of(any_text, wrapped_addresses))
def test_prop_normalize_address_idempotent(raw: str) -> None:
    key = normalize_address(raw)
    if key is not None:
        assert normalize_address(key) == key
        assert key == key.strip() and len(key) <= 1029


@given(addresses)
def test_prop_normalize_address_case_insensitive(address: str) -> None:
    key = normalize_address(address)
    assert normalize_address(address.upper()) == key
    assert normalize_address(address.lower()) == key
    assert normalize_address(address.swapcase()) == key


@given(st.one_of(any_text, header_text))
def test_prop_parse_address_list_total(value: str) -> None:
    result = parse_address_list(value)
    keys = [key for _, key in result]
    assert len(keys) == len(set(keys))
    for name, key in result:
        assert normalize_address(key) == key
        assert name == " ".join(name.split())
        assert all(not 0xD800 <= ord(char) <= 0xDFFF for char in name)


@given(st.lists(addresses, min_size=1, max_size=6), st.sampled_from([", ", ",\r\n\t", "; "]))
def test_prop_parse_address_list_finds_every_address(items: list[str], separator: str) -> None:
    result = [key for _, key in parse_address_list(separator.join(items))]
    expected = list(dict.fromkeys(k for k in map(normalize_address, items) if k is not None))
    assert result == expected


_subject_prefix = st.sampled_from(
    [
        "Re: ",
        "RE : ",
        "Fwd: ",
        "FW:",
        "TR: ",
        "Réf. : ",
        "RÉF:",
        "AW: ",
        "WG: ",
        "Re[2]: ",
        "[EXTERNAL] ",
        "[EXT] ",
        " ",
        "TR\u00a0: ",
    ]
)
subjects = st.builds(
    lambda prefixes, body: "".join(prefixes) + body, st.lists(_subject_prefix), any_text
)


@given(st.one_of(any_text, subjects))
def test_prop_thread_subject_idempotent(subject: str) -> None:
    once = thread_subject(subject)
    assert thread_subject(once) == once


@given(st.lists(_subject_prefix, min_size=1), _word)
def test_prop_thread_subject_strips_prefix_runs(prefixes: list[str], body: str) -> None:
    assert thread_subject("".join(prefixes) + body) == body


_date_fragment = st.one_of(
    st.integers(0, 3000).map(str),
    st.sampled_from(
        [
            "Mon,",
            "lun.",
            "mar.",
            "3",
            "31",
            "mars",
            "févr.",
            "Dec",
            "août",
            "14:05",
            "14:05:00",
            "14h05",
            "+0100",
            "-0800",
            "(PST)",
            "CEST",
            "GMT+0200",
            "UTC-5",
            "pm",
            "Z",
            "T",
            "-",
            "2025-03-03T14:05:00Z",
            "à",
            "\udcc3",
        ]
    ),
)
date_text = st.lists(_date_fragment, max_size=8).map(" ".join)


@given(st.one_of(any_text, date_text))
def test_prop_parse_date_total(value: str) -> None:
    parsed = parse_date(value)
    if parsed is not None:
        assert parsed.tzinfo is UTC
        assert 1970 <= parsed.year <= 2100


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.booleans(),
)
def test_prop_format_datetime_round_trip(naive: datetime, offset: int, usegmt: bool) -> None:
    instant = naive.replace(microsecond=0, tzinfo=UTC)
    local = instant.astimezone(timezone(timedelta(minutes=offset)))
    text = format_datetime(instant, usegmt=True) if usegmt else format_datetime(local)
    assert parse_date(text) == instant


@given(st.one_of(any_text, header_text))
def test_prop_decode_header_text_total(value: str) -> None:
    text = decode_header_text(value)
    assert text == " ".join(text.split())
    assert all(ord(char) >= 0x20 and not 0xD800 <= ord(char) <= 0xDFFF for char in text)


@given(st.one_of(any_text, header_text))
def test_prop_message_id_idempotent(value: str) -> None:
    once = normalize_message_id(value)
    if once is not None:
        assert normalize_message_id(once) == once


@given(any_text)
def test_prop_is_automated_total(value: str) -> None:
    assert isinstance(is_automated_address(value), bool)


# ------------------------------------------------------------------------------------------
# The real corpus
# ------------------------------------------------------------------------------------------


@pytest.mark.enron
def test_enron_sample(shared_dir: Path) -> None:
    """Every 40th Enron message: dates all parse, address keys are fixed points."""
    maildir = shared_dir / "data" / "enron" / "maildir"
    if not maildir.exists():
        pytest.skip(f"{maildir} is absent")
    files = sorted(path for path in maildir.glob("*/*/*") if path.is_file())[::40]
    assert files
    parser = email.parser.BytesHeaderParser()
    for path in files:
        message = parser.parsebytes(path.read_bytes())
        date = message.get("Date")
        if date is not None:
            assert parse_date(str(date)) is not None, (path, date)
        for field in ("From", "To", "Cc", "X-To", "X-cc"):
            for value in message.get_all(field) or []:
                for _, key in parse_address_list(str(value)):
                    assert normalize_address(key) == key, (path, key)
        message_id = message.get("Message-ID")
        if message_id is not None:
            assert normalize_message_id(str(message_id)) is not None, (path, message_id)
