"""Templates for mail subjects and bodies: Jinja2's sandbox, HTML autoescaped.

Field values come from strangers (a web form, a prospect's display name): in an HTML body they
are escaped; a subject is plain text and loses its line breaks (no header injection). The
sandbox refuses attribute access to internals, so a template cannot reach Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment


class _Lenient(Undefined):
    """A missing value renders empty (a lead without a name), as mail merges do."""


@lru_cache(maxsize=1)
def _env(html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=html, undefined=_Lenient, keep_trailing_newline=True)


@lru_cache(maxsize=1)
def _checker() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined)


def check_template(source: str) -> None:
    """Raises ValueError when ``source`` is not a valid template."""
    try:
        _checker().parse(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template error at line {exc.lineno}: {exc.message}") from None


def render_html(source: str, context: Mapping[str, Any]) -> str:
    return _env(True).from_string(source).render(**context)


def render_text(source: str, context: Mapping[str, Any]) -> str:
    """Plain text on one line (subjects, addresses, task titles)."""
    return " ".join(_env(False).from_string(source).render(**context).split())
