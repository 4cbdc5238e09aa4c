"""Check a submission against its form: every field, every problem, in the visitor's language.

Input is what the web layer parsed: strings from a urlencoded body, or JSON values. Output is
the cleaned values, or errors keyed by field name (``_form`` for the whole submission).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from connectors.normalize import normalize_address
from syncd.forms.definitions import FieldDef, FormDef

MESSAGES = {
    "fr": {
        "required": "Ce champ est obligatoire.",
        "type": "Valeur de type incorrect.",
        "too_long": "{limit} caractères au maximum.",
        "email": "Adresse e-mail invalide.",
        "tel": "Numéro de téléphone invalide.",
        "integer": "Nombre entier attendu.",
        "number": "Nombre attendu.",
        "min": "Valeur minimale : {min:g}.",
        "max": "Valeur maximale : {max:g}.",
        "choice": "Choisissez une des valeurs proposées.",
        "url": "Adresse web (http ou https) attendue.",
        "control": "Caractères non autorisés.",
        "unknown": "Champ inconnu.",
        "repeated": "Champ donné plusieurs fois.",
        "summary": "Le formulaire contient des erreurs.",
        "thanks": "Merci, votre demande a bien été reçue.",
        "submit": "Envoyer",
        "required_mark": "obligatoire",
    },
    "en": {
        "required": "This field is required.",
        "type": "Wrong type of value.",
        "too_long": "At most {limit} characters.",
        "email": "Not a valid email address.",
        "tel": "Not a valid phone number.",
        "integer": "A whole number is expected.",
        "number": "A number is expected.",
        "min": "The minimum is {min:g}.",
        "max": "The maximum is {max:g}.",
        "choice": "Choose one of the values offered.",
        "url": "A web address (http or https) is expected.",
        "control": "Characters that are not allowed.",
        "unknown": "Unknown field.",
        "repeated": "Field given more than once.",
        "summary": "The form has errors.",
        "thanks": "Thank you, your request has been received.",
        "submit": "Send",
        "required_mark": "required",
    },
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SIMPLE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"on", "true", "1", "yes", "oui"}
_FALSE = {"", "off", "false", "0", "no", "non"}


@dataclass
class Outcome:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check(fd: FieldDef, raw: Any, msg: Mapping[str, str]) -> tuple[Any, str | None]:
    if fd.type == "checkbox":
        checked: bool
        if isinstance(raw, bool):
            checked = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            checked = raw.strip().lower() in _TRUE
        elif raw is None:
            checked = False
        else:
            return None, msg["type"]
        if fd.required and not checked:
            return None, msg["required"]
        return checked, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, msg["required"] if fd.required else None
    if fd.type in ("integer", "number"):
        return _number(fd, raw, msg)
    if not isinstance(raw, str):
        return None, msg["type"]
    if _CONTROL.search(raw):
        return None, msg["control"]
    value = raw.strip() if fd.type != "textarea" else raw.strip("\r\n ")
    if fd.type != "textarea":
        value = " ".join(value.split())
    if len(value) > fd.limit:
        return None, msg["too_long"].format(limit=fd.limit)
    if fd.type == "email":
        key = normalize_address(value) if _SIMPLE_EMAIL.match(value) else None
        if not key or key.startswith("x500:"):
            return None, msg["email"]
        return key, None
    if fd.type == "tel":
        try:
            number = phonenumbers.parse(value, "FR")
        except phonenumbers.NumberParseException:
            return None, msg["tel"]
        if not phonenumbers.is_possible_number(number):
            return None, msg["tel"]
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    if fd.type == "select":
        if value not in fd.choices:
            return None, msg["choice"]
        return value, None
    if fd.type == "url" and not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
        return None, msg["url"]
    return value, None


def _number(fd: FieldDef, raw: Any, msg: Mapping[str, str]) -> tuple[Any, str | None]:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None, msg["type"]
    text = raw.strip().replace(",", ".") if isinstance(raw, str) else raw
    try:
        value: float | int = int(text) if fd.type == "integer" else float(text)
    except (TypeError, ValueError):
        return None, msg[fd.type]
    if fd.type == "integer" and isinstance(raw, float) and not raw.is_integer():
        return None, msg["integer"]
    if isinstance(value, float) and not math.isfinite(value):
        return None, msg["number"]
    if fd.min is not None and value < fd.min:
        return None, msg["min"].format(min=fd.min)
    if fd.max is not None and value > fd.max:
        return None, msg["max"].format(max=fd.max)
    return value, None


def validate(form: FormDef, data: Mapping[str, Any], repeated: frozenset[str] = frozenset()
             ) -> Outcome:
    """Check every field. ``repeated`` names keys a urlencoded body gave more than once."""
    msg = MESSAGES[form.lang]
    out = Outcome()
    known = {f.name for f in form.fields} | {form.honeypot}
    for key in data:
        if key not in known:
            out.errors[str(key)[:60]] = msg["unknown"]
    for key in repeated:
        if key in known:
            out.errors[key] = msg["repeated"]
    for fd in form.fields:
        if fd.name in out.errors:
            continue
        value, error = _check(fd, data.get(fd.name), msg)
        if error:
            out.errors[fd.name] = error
        elif value is not None:
            out.values[fd.name] = value
    return out


def honeypot_filled(form: FormDef, data: Mapping[str, Any]) -> bool:
    value = data.get(form.honeypot)
    return value not in (None, "") and not (isinstance(value, str) and not value.strip())
