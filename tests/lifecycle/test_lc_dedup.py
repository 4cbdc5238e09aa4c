"""The duplicate finder: unit cases a French sales team meets, and properties."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from syncd.lifecycle.dedup import Options, Record, compare, find_duplicates
from syncd.lifecycle.normalize import company, fold, person_name, phone_e164, split_name

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
names = st.text(st.sampled_from("aàâeéèêëiîïoôuùûüyçœæ -'AÉÈÇBCDFGHJKLMNPQRSTVWXZ"),
                max_size=25)


def rec(rid: int, name: str = "", email: str = "", phone: str = "", comp: str = "",
        domains: tuple[str, ...] = ()) -> Record:
    return Record(id=rid, name=name, email=email, phone=phone, company=comp,
                  domains=frozenset(domains))


def pairs(records: list[Record], **opts: object) -> set[frozenset[int | str]]:
    return {frozenset((c.a, c.b)) for c in find_duplicates(records, Options(**opts))}  # type: ignore[arg-type]


def test_accents_case_and_word_order_do_not_matter() -> None:
    assert fold("Hélène  DUPRÉ-Lefèvre") == "helene dupre lefevre"
    assert fold("Œuvre Æther Straße") == "oeuvre aether strasse"
    assert person_name("Mme Hélène Dupré") == "helene dupre"
    a = rec(1, "Hélène Dupré", comp="Fabrikam SAS")
    for other in ("Helene Dupre", "DUPRE Hélène", "Dupré, Hélène"):
        score, reasons = compare(a, rec(2, other, comp="Fabrikam"))
        assert score == 1.0, other
        assert "same name" in reasons and "same company" in reasons


def test_same_address_decides_alone() -> None:
    score, reasons = compare(rec(1, "J. Dupont", "jd@fabrikam.com"),
                             rec(2, "Jeanne Martin", "jd@fabrikam.com"))
    assert score == 1.0 and reasons == ["same address jd@fabrikam.com"]


def test_phones_compare_in_e164_with_the_default_region() -> None:
    assert phone_e164("06 12 34 56 78") == "+33612345678"
    assert phone_e164("+33 (0)6 12 34 56 78") == "+33612345678"
    assert phone_e164("0033 6 12 34 56 78") == "+33612345678"
    assert phone_e164("020 7946 0958", "GB") == "+442079460958"
    assert phone_e164("n/a") == "" and phone_e164("12") == ""
    score, reasons = compare(rec(1, "Helene Dupre", phone="06 12 34 56 78"),
                             rec(2, "H. Dupré", phone="+33612345678"))
    assert score >= 0.95 and "same phone +33612345678" in reasons


def test_colleagues_sharing_a_switchboard_and_a_company_are_not_one_person() -> None:
    a = rec(1, "Jeanne Martin", phone="01 40 00 00 00", comp="Fabrikam",
            domains=("fabrikam.com",))
    b = rec(2, "Paul Durand", phone="01 40 00 00 00", comp="Fabrikam",
            domains=("fabrikam.com",))
    score, _ = compare(a, b)
    assert score < 0.6
    assert pairs([a, b]) == set()


def test_a_shared_name_alone_is_weaker_than_a_confirmed_one() -> None:
    alone, reasons = compare(rec(1, "Jean Martin"), rec(2, "Jean Martin"))
    confirmed, _ = compare(rec(1, "Jean Martin", comp="Northwind"),
                           rec(2, "Jean Martin", comp="Northwind SARL"))
    assert alone < confirmed == 1.0 and "nothing else to compare" in reasons
    different_company, _ = compare(rec(1, "Jean Martin", comp="Northwind"),
                                   rec(2, "Jean Martin", comp="Contoso Pharma"))
    assert different_company < 0.8


def test_accounts_match_on_domain_and_company_name() -> None:
    a = rec(1, comp="Boulangeries Martin S.A.R.L.", domains=("martin.fr",))
    b = rec(2, comp="boulangeries martin", domains=("martin.fr",))
    c = rec(3, comp="Martin Transports")
    assert pairs([a, b, c]) == {frozenset((1, 2))}


def test_typos_are_found_across_blocks_and_big_blocks_stay_bounded() -> None:
    rng = random.Random(7)
    crowd = [rec(i, f"Jean {''.join(rng.choices('bcdfglmnprstv', k=7))}")
             for i in range(10, 1010)]
    target = [rec(1, "Jean-Baptiste Lefebvre", comp="Fabrikam"),
              rec(2, "Jean-Baptiste Lefèbre", comp="Fabrikam")]
    found = pairs(crowd + target, max_block=50, window=5)
    assert frozenset((1, 2)) in found


def test_two_sources_are_linked_only_across() -> None:
    recs = [Record(id=1, name="Anne Petit", email="a@x.fr", group="a"),
            Record(id=2, name="Anne Petit", email="a@x.fr", group="a"),
            Record(id=3, name="Anne Petit", email="a@x.fr", group="b")]
    assert pairs(recs, cross_groups_only=True) == {frozenset((1, 3)), frozenset((2, 3))}


def test_split_name() -> None:
    assert split_name("Dupré, Hélène") == ("Hélène", "Dupré")
    assert split_name("Hélène  Dupré") == ("Hélène", "Dupré")
    assert split_name("Dupré") == ("", "Dupré")


@given(text)
def test_normalisers_are_idempotent(value: str) -> None:
    for f in (fold, person_name, company):
        once = f(value)
        assert f(once) == once
    e164 = phone_e164(value)
    assert phone_e164(e164) == e164


@given(names, names, names, names, st.booleans())
def test_scores_are_symmetric(n1: str, n2: str, c1: str, c2: str, phone: bool) -> None:
    a = rec(1, n1, comp=c1, phone="06 12 34 56 78" if phone else "")
    b = rec(2, n2, comp=c2, phone="+33612345678")
    assert compare(a, b)[0] == compare(b, a)[0]
    assert 0.0 <= compare(a, b)[0] <= 1.0


@given(st.lists(st.tuples(names, st.sampled_from(["", "Fabrikam", "Northwind SARL"])),
                max_size=12), st.randoms(use_true_random=False))
def test_found_pairs_do_not_depend_on_record_order(rows: list[tuple[str, str]],
                                                    rnd: random.Random) -> None:
    records = [rec(i, n, comp=c) for i, (n, c) in enumerate(rows)]
    shuffled = records[:]
    rnd.shuffle(shuffled)
    assert pairs(records) == pairs(shuffled)
    # and when blocks overflow into sorted neighbourhoods
    assert pairs(records, max_block=3, window=2) == pairs(shuffled, max_block=3, window=2)


@given(names)
def test_accent_folding_never_separates_a_name_from_its_ascii_spelling(name: str) -> None:
    ascii_name = fold(name)
    if person_name(name):
        assert compare(rec(1, name, comp="Fabrikam"), rec(2, ascii_name, comp="Fabrikam"))[0] == 1.0


@given(st.from_regex(r"(\+|00)?[0-9 ().-]{0,18}", fullmatch=True),
       st.sampled_from(["FR", "BE", "CH", "GB", "US"]))
def test_phone_normalisation_is_idempotent_on_phone_like_input(raw: str, region: str) -> None:
    e164 = phone_e164(raw, region)
    assert e164 == "" or (e164.startswith("+") and e164[1:].isdigit())
    assert phone_e164(e164, region) == e164
