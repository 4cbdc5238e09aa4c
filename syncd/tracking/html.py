"""Put the pixel into an HTML body and send its links through the click endpoint.

The standard library's HTMLParser finds each ``<a href>`` start tag and its position; only
those tags are replaced, so the rest of the document stays byte for byte what the template
produced (a serialising parser such as lxml would re-write it, and mail clients are picky).
"""

from __future__ import annotations

import html as htmllib
from collections.abc import Callable
from html.parser import HTMLParser


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, str]] = []  # (line, col, raw tag, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        raw = self.get_starttag_text()
        if href and raw and href.strip().lower().startswith(("http://", "https://")):
            line, col = self.getpos()
            self.found.append((line, col, raw, href.strip()))


def rewrite_links(document: str, link_for: Callable[[str], str]) -> str:
    """Replace every http(s) ``href`` with ``link_for(original url)``."""
    parser = _Anchors()
    parser.feed(document)
    parser.close()
    if not parser.found:
        return document
    # HTMLParser counts lines by "\n" only (str.splitlines would also split on \r, \x85...)
    starts = [0]
    for text in document.split("\n"):
        starts.append(starts[-1] + len(text) + 1)
    out: list[str] = []
    pos = 0
    for line, col, raw, href in parser.found:
        offset = starts[line - 1] + col
        if document[offset:offset + len(raw)] != raw:
            continue  # defensive: positions always match for a str fed in one piece
        new_tag = _replace_href(raw, link_for(href))
        out.append(document[pos:offset])
        out.append(new_tag)
        pos = offset + len(raw)
    out.append(document[pos:])
    return "".join(out)


def _replace_href(raw: str, url: str) -> str:
    """The start tag with its href attribute (whatever its quoting) set to ``url``."""
    attrs: list[tuple[str, str | None]] = []

    class _One(HTMLParser):
        def handle_starttag(self, tag: str, found: list[tuple[str, str | None]]) -> None:
            attrs.extend(found)

    _One().feed(raw)
    parts = ["<a"]
    for name, value in attrs:
        if name == "href":
            value = url
        parts.append(f" {name}" if value is None
                     else f' {name}="{htmllib.escape(value, quote=True)}"')
    return "".join(parts) + (" />" if raw.endswith("/>") else ">")


def add_pixel(document: str, pixel_url: str) -> str:
    """Append a 1x1 image before ``</body>`` (or at the end)."""
    tag = (f'<img src="{htmllib.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
           'style="display:block;border:0;width:1px;height:1px">')
    lower = document.lower()
    at = lower.rfind("</body>")
    if at < 0:
        return document + tag
    return document[:at] + tag + document[at:]
