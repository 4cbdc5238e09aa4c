"""Comparable forms of names, companies and phone numbers for matching and duplicate finding.

Every function here is idempotent (normalising a normalised value changes nothing; the property
tests check it) and total: odd input gives an empty key, never an exception.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from syncd.crm import normalize_company_name

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Civilities say nothing about identity: "M. Jean Dupont" is "Jean Dupont".
_CIVILITIES = frozenset({"m", "mr", "mme", "mlle", "mrs", "ms", "dr", "pr", "me", "monsieur",
                         "madame", "mademoiselle"})


def fold(text: str) -> str:
    """Lower-case ASCII with accents removed and punctuation as single spaces.

    `Hélène  Dupré-Lefèvre` -> `helene dupre lefevre`; ligatures and compatibility forms too
    (`Œ` -> `oe`, full-width letters), which NFKD alone does not all cover.
    """
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    text = text.replace("ß", "ss")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_NON_ALNUM.sub(" ", ascii_text.lower()).split())


def person_name(text: str) -> str:
    """A person's name, folded, civilities dropped. Token order is kept (callers compare with a
    token-order-insensitive scorer, so `Dupré Hélène` still matches `Hélène Dupré`)."""
    tokens = fold(text).split()
    kept = [t for t in tokens if t not in _CIVILITIES]
    return " ".join(kept if kept else tokens)


def name_key(text: str) -> str:
    """`person_name` with its words sorted: `Dupré Hélène` and `M. Hélène DUPRE` share it."""
    return " ".join(sorted(person_name(text).split()))


def same_person_name(a: str, b: str) -> bool:
    """Equal name keys of at least two words: a first name alone says too little to link two
    records automatically."""
    key = name_key(a)
    return " " in key and key == name_key(b)


def company(text: str) -> str:
    """Company name without legal forms or accents (`Boulangeries Martin S.A.R.L.`)."""
    return normalize_company_name(text)


def phone_e164(raw: str, region: str = "FR") -> str:
    """The number in E.164 (`+33612345678`), or "" when it does not parse as a possible number.

    `region` applies to numbers written without an international prefix (`06 12 34 56 78`).
    An E.164 input stays as it is, so the function is idempotent.
    """
    raw = raw.strip()
    if not raw or not any(ch.isdigit() for ch in raw):
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_name(full: str) -> tuple[str, str]:
    """(first, last) from a display name: `Dupré, Hélène` and `Hélène Dupré` both give
    ("Hélène", "Dupré"); a single word is a last name."""
    full = " ".join(full.split())
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.rpartition(" ")
    return first, last
