# ruff: noqa: E501  (the HTML template below keeps one element per line, however long)
"""The hosted form page: plain accessible HTML (labels, required marks, errors tied to their
fields with aria-describedby, an error summary announced to screen readers), usable as is or
in an iframe. Everything shown is autoescaped; browser validation is off (``novalidate``) so
that visitors see the server's messages, in the form's language."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, Template

from syncd.forms.definitions import FormDef
from syncd.forms.validate import MESSAGES

_PAGE = """<!doctype html>
<html lang="{{ form.lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ form.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}
label{display:block;font-weight:600;margin-top:1rem}
input,textarea,select{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
input[type=checkbox]{width:auto}
.error{color:#a00000}
[aria-invalid=true]{border:2px solid #a00000}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
button{margin-top:1.5rem;padding:.6rem 1.4rem;font:inherit}
</style>
</head>
<body>
<main>
<h1>{{ form.title }}</h1>
{% if thanks %}
<p role="status" id="thanks">{{ thanks }}</p>
{% else %}
{% if form.description %}<p>{{ form.description }}</p>{% endif %}
{% if errors %}
<div role="alert" id="error-summary" tabindex="-1">
<p class="error">{{ msg.summary }}</p>
<ul>{% for name, text in errors.items() %}<li><a href="#f-{{ name }}">{{ labels.get(name, name) }}</a> : {{ text }}</li>{% endfor %}</ul>
</div>
{% endif %}
<form method="post" action="{{ action }}" novalidate accept-charset="utf-8">
{% for f in form.fields %}
{% set err = errors.get(f.name) %}
{% set val = values.get(f.name, "") %}
<div class="field">
{% if f.type == "checkbox" %}
<label for="f-{{ f.name }}"><input type="checkbox" id="f-{{ f.name }}" name="{{ f.name }}" value="on"{% if val %} checked{% endif %}{% if f.required %} aria-required="true"{% endif %}{% if err %} aria-invalid="true" aria-describedby="e-{{ f.name }}"{% endif %}> {{ f.display }}{% if f.required %} <span aria-hidden="true">*</span>{% endif %}</label>
{% else %}
<label for="f-{{ f.name }}">{{ f.display }}{% if f.required %} <span aria-hidden="true">*</span><span class="hp"> ({{ msg.required_mark }})</span>{% endif %}</label>
{% if f.help %}<small id="h-{{ f.name }}">{{ f.help }}</small>{% endif %}
{% set attrs %} id="f-{{ f.name }}" name="{{ f.name }}"{% if f.required %} required aria-required="true"{% endif %}{% if err %} aria-invalid="true" aria-describedby="e-{{ f.name }}{% if f.help %} h-{{ f.name }}{% endif %}"{% elif f.help %} aria-describedby="h-{{ f.name }}"{% endif %}{% if autocomplete.get(f.name) %} autocomplete="{{ autocomplete[f.name] }}"{% endif %}{% endset %}
{% if f.type == "textarea" %}
<textarea{{ attrs }} rows="5" maxlength="{{ f.limit }}">{{ val }}</textarea>
{% elif f.type == "select" %}
<select{{ attrs }}><option value=""></option>{% for c in f.choices %}<option{% if c == val %} selected{% endif %}>{{ c }}</option>{% endfor %}</select>
{% else %}
<input{{ attrs }} type="{{ input_types[f.type] }}" value="{{ val }}" maxlength="{{ f.limit }}"{% if f.type in ("integer", "number") %} inputmode="{{ 'numeric' if f.type == 'integer' else 'decimal' }}"{% endif %}>
{% endif %}
{% endif %}
{% if err %}<p class="error" id="e-{{ f.name }}">{{ err }}</p>{% endif %}
</div>
{% endfor %}
<div class="hp" aria-hidden="true"><label for="f-{{ form.honeypot }}">Ne pas remplir / leave empty</label><input type="text" id="f-{{ form.honeypot }}" name="{{ form.honeypot }}" tabindex="-1" autocomplete="off" value=""></div>
<button type="submit">{{ form.submit_label or msg.submit }}</button>
</form>
{% endif %}
</main>
</body>
</html>
"""
_INPUT_TYPES = {"text": "text", "email": "email", "tel": "tel", "integer": "text",
                "number": "text", "url": "url"}
_AUTOCOMPLETE = {"email": "email", "name": "name", "company": "organization",
                 "title": "organization-title", "phone": "tel"}


@lru_cache(maxsize=1)
def _template() -> Template:
    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(_PAGE)


def render_form(form: FormDef, action: str, values: Mapping[str, Any] | None = None,
                errors: Mapping[str, str] | None = None, thanks: str | None = None) -> str:
    """``action`` is relative (the form's name) so that the page also works under a path
    prefix added by a reverse proxy."""
    autocomplete = {f.name: f.autocomplete or _AUTOCOMPLETE.get(f.maps_to or "", "")
                    for f in form.fields}
    shown = {k: ("" if v is None else v) for k, v in (values or {}).items()
             if isinstance(v, (str, int, float, bool))}
    return _template().render(
        form=form, action=action, values=shown, errors=dict(errors or {}), thanks=thanks,
        msg=MESSAGES[form.lang], labels={f.name: f.display for f in form.fields},
        input_types=_INPUT_TYPES, autocomplete=autocomplete)
