"""Form definitions and field validation (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.forms.definitions import FormDef, FormError, load_dir
from syncd.forms.validate import validate

FORM = FormDef.model_validate({
    "name": "demo", "title": "Démo", "lang": "fr",
    "fields": [
        {"name": "email", "type": "email", "required": True, "maps_to": "email"},
        {"name": "nom", "required": True, "maps_to": "name", "max_length": 20},
        {"name": "tel", "type": "tel", "maps_to": "phone"},
        {"name": "effectif", "type": "integer", "min": 1, "max": 500},
        {"name": "budget", "type": "number"},
        {"name": "pays", "type": "select", "choices": ["France", "Belgique"]},
        {"name": "site", "type": "url"},
        {"name": "rgpd", "type": "checkbox", "required": True},
        {"name": "message", "type": "textarea", "max_length": 50},
    ]})


def test_clean_values() -> None:
    out = validate(FORM, {"email": " Jane.Dupont@Fabrikam.TEST ", "nom": "  Jeanne   d'Arc ",
                          "tel": "01 23 45 67 89", "effectif": "12", "budget": "1 500,5"
                          .replace(" ", ""), "pays": "France", "site": "https://x.test",
                          "rgpd": "on", "message": "Bonjour\nà vous", "website": ""})
    assert out.ok, out.errors
    assert out.values == {"email": "jane.dupont@fabrikam.test", "nom": "Jeanne d'Arc",
                          "tel": "+33123456789", "effectif": 12, "budget": 1500.5,
                          "pays": "France", "site": "https://x.test", "rgpd": True,
                          "message": "Bonjour\nà vous"}


@pytest.mark.parametrize(("data", "errors"), [
    ({}, {"email": "Ce champ est obligatoire.", "nom": "Ce champ est obligatoire.",
          "rgpd": "Ce champ est obligatoire."}),
    ({"email": "pas-une-adresse", "nom": "x" * 21, "rgpd": "on"},
     {"email": "Adresse e-mail invalide.", "nom": "20 caractères au maximum."}),
    ({"email": "a@b.test", "nom": "N", "rgpd": "on", "effectif": "douze", "pays": "Suisse",
      "tel": "12", "site": "javascript:alert(1)", "budget": "nan"},
     {"effectif": "Nombre entier attendu.", "pays": "Choisissez une des valeurs proposées.",
      "tel": "Numéro de téléphone invalide.", "site": "Adresse web (http ou https) attendue.",
      "budget": "Nombre attendu."}),
    ({"email": "a@b.test", "nom": "N", "rgpd": "on", "effectif": "0"},
     {"effectif": "Valeur minimale : 1."}),
    ({"email": "a@b.test", "nom": "N", "rgpd": "on", "admin": "1"}, {"admin": "Champ inconnu."}),
    ({"email": ["a@b.test"], "nom": 5, "rgpd": "maybe", "effectif": True},
     {"email": "Valeur de type incorrect.", "nom": "Valeur de type incorrect.",
      "rgpd": "Valeur de type incorrect.", "effectif": "Valeur de type incorrect."}),
    ({"email": "a@b.test", "nom": "N\x00", "rgpd": "on"}, {"nom": "Caractères non autorisés."}),
])
def test_errors_per_field(data: dict[str, Any], errors: dict[str, str]) -> None:
    assert validate(FORM, data).errors == errors


def test_repeated_keys() -> None:
    out = validate(FORM, {"email": "a@b.test", "nom": "N", "rgpd": "on"}, frozenset({"nom"}))
    assert out.errors == {"nom": "Champ donné plusieurs fois."}


def test_script_is_data_not_an_error() -> None:
    out = validate(FORM, {"email": "a@b.test", "nom": "<script>x</script>", "rgpd": "on"})
    assert out.ok and out.values["nom"] == "<script>x</script>"  # escaped where shown


def test_definition_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({
        "title": "T", "colour": "red", "allowed_origins": ["www.x.test"],
        "fields": [{"name": "email", "type": "text", "maps_to": "email", "required": True},
                   {"name": "Nom!"}, {"name": "p", "type": "select"}]}))
    (tmp_path / "no-email.yaml").write_text(yaml.safe_dump({"title": "T", "fields": [
        {"name": "nom"}]}))
    (tmp_path / "Bad Name.yaml").write_text("title: T\n")
    with pytest.raises(FormError) as caught:
        load_dir(tmp_path)
    text = "\n".join(caught.value.problems)
    for expected in ["bad.yaml: colour: unknown key",
                     "bad.yaml: allowed_origins: 'www.x.test' is not an origin",
                     "bad.yaml: fields.0: the field mapped to email must have type email",
                     "bad.yaml: fields.1.name: use lower-case letters",
                     "bad.yaml: fields.2: a select field needs choices",
                     "no-email.yaml: exactly one required field must have maps_to: email",
                     "Bad Name.yaml: a form's file name is its URL"]:
        assert expected in text, (expected, text)


def test_shipped_example_is_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert "contact" in load_dir(repo / "config" / "forms")
