"""Form definitions: one YAML file per form in the forms directory; the file name is the
form's name and URL (``/f/<name>``)::

    title: Demande de démonstration
    lang: fr                       # fr | en: messages shown to the visitor
    allowed_origins: ["https://www.contoso.fr"]   # sites that may embed or post it
    honeypot: website              # a hidden field people leave empty and robots fill in
    owner: {email: alice@contoso.fr}              # or {round_robin: [a@..., b@...]}
    fields:
      - {name: email, label: E-mail, type: email, required: true, maps_to: email}
      - {name: nom, label: Nom, maps_to: name, max_length: 200}
      - {name: pays, type: select, choices: [France, Belgique, Suisse]}

Raises WorkflowError-like `FormError` listing every problem of every file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from syncd.problems import ProblemsError, pydantic_problems

FIELD_TYPES = ("text", "email", "tel", "textarea", "integer", "number", "select", "checkbox",
               "url")
LEAD_FIELDS = ("email", "name", "company", "title", "phone")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_FORM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class FormError(ProblemsError):
    """Unusable form definitions; `problems` lists every issue, one line each."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDef(_Strict):
    name: str
    label: str = ""
    type: Literal["text", "email", "tel", "textarea", "integer", "number", "select", "checkbox",
                  "url"] = "text"
    required: bool = False
    max_length: int | None = Field(default=None, ge=1, le=20000)
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    maps_to: Literal["email", "name", "company", "title", "phone"] | None = None
    help: str = ""
    autocomplete: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits and _ (starting with a letter)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> FieldDef:
        if self.type == "select" and not self.choices:
            raise ValueError("a select field needs choices")
        if self.choices and self.type != "select":
            raise ValueError("choices only apply to type select")
        if self.maps_to == "email" and self.type != "email":
            raise ValueError("the field mapped to email must have type email")
        return self

    @property
    def limit(self) -> int:
        if self.max_length is not None:
            return self.max_length
        return {"textarea": 5000, "email": 320, "url": 2000}.get(self.type, 200)

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class OwnerRule(_Strict):
    email: str | None = None
    round_robin: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one(self) -> OwnerRule:
        if bool(self.email) == bool(self.round_robin):
            raise ValueError("give either email or round_robin")
        return self


class FormDef(_Strict):
    name: str
    title: str
    description: str = ""
    lang: Literal["fr", "en"] = "fr"
    submit_label: str | None = None
    success_message: str | None = None
    redirect_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    honeypot: str = "website"
    owner: OwnerRule | None = None
    source: str | None = None
    fields: tuple[FieldDef, ...]

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"{origin!r} is not an origin such as https://www.example.com")
        return tuple(o.lower() for o in value)

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s]+$", value):
            raise ValueError("redirect_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> FormDef:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"field names used twice: {', '.join(dupes)}")
        emails = [f for f in self.fields if f.maps_to == "email"]
        if len(emails) != 1 or not emails[0].required:
            raise ValueError("exactly one required field must have maps_to: email")
        targets = [f.maps_to for f in self.fields if f.maps_to]
        if len(targets) != len(set(targets)):
            raise ValueError("two fields map to the same lead field")
        if self.honeypot in names:
            raise ValueError(f"honeypot {self.honeypot!r} is also a field name")
        return self

    @property
    def lead_source(self) -> str:
        return (self.source or f"form:{self.name}")[:50]

    @property
    def email_field(self) -> FieldDef:
        return next(f for f in self.fields if f.maps_to == "email")


def load_file(path: Path) -> tuple[FormDef | None, list[str]]:
    if not _FORM_NAME.match(path.stem):
        return None, [f"{path.name}: a form's file name is its URL: use a-z, 0-9, - and _"]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path.name}: cannot read: {exc}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [f"{path.name}: not valid YAML{at}: {getattr(exc, 'problem', exc)}"]
    if not isinstance(data, dict):
        return None, [f"{path.name}: expected a mapping with title and fields"]
    try:
        return FormDef.model_validate({**data, "name": path.stem}), []
    except ValidationError as exc:
        return None, pydantic_problems(path.name, exc, ": ")


def load_dir(directory: Path | None) -> dict[str, FormDef]:
    """Raises FormError listing every problem."""
    if directory is None or not directory.is_dir():
        return {}
    forms: dict[str, FormDef] = {}
    problems: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        form, errs = load_file(path)
        problems.extend(errs)
        if form is not None:
            forms[form.name] = form
    if problems:
        raise FormError(problems)
    return forms
