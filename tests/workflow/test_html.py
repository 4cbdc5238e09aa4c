"""Pixel insertion and link rewriting keep the document and change only http(s) hrefs."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from syncd.tracking.html import add_pixel, rewrite_links


class Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


def hrefs(document: str) -> list[str | None]:
    parser = Hrefs()
    parser.feed(document)
    return parser.hrefs


def test_rewrite_and_pixel() -> None:
    doc = ('<html><body><p>Voir <a class=x href="https://a.test/?q=1&amp;r=2">ici</a>,\n'
           '<a href="mailto:x@y.test">mail</a> et <A HREF=\'http://b.test\'>b</A></p>'
           '</body></html>')
    out = add_pixel(rewrite_links(doc, lambda u: f"https://t.test/c?{len(u)}"), "https://t/o.gif")
    assert hrefs(out) == ["https://t.test/c?23", "mailto:x@y.test", "https://t.test/c?13"]
    assert out.endswith('<img src="https://t/o.gif" width="1" height="1" alt="" '
                        'style="display:block;border:0;width:1px;height:1px"></body></html>')
    assert ">ici</a>,\n" in out and 'class="x"' in out


urls = st.from_regex(r"https?://[a-z]{1,8}\.test/[a-z0-9?=&%]{0,12}", fullmatch=True)
texts = st.text(alphabet=st.characters(blacklist_characters="<>&\"'"), max_size=15)


@given(parts=st.lists(st.tuples(texts, urls), max_size=6), tail=texts)
def test_every_link_is_rewritten_and_the_text_is_kept(parts: list[tuple[str, str]],
                                                       tail: str) -> None:
    doc = "".join(f'{t}\r\n<a href="{u}">{t}</a>' for t, u in parts) + tail
    seen: list[str] = []

    def link_for(url: str) -> str:
        seen.append(url)
        return f"https://t.test/{len(seen)}"

    out = rewrite_links(doc, link_for)
    assert seen == [u for _, u in parts]
    assert hrefs(out) == [f"https://t.test/{i + 1}" for i in range(len(parts))]
    assert out.replace("<", "").count("a href") == len(parts)
    assert out.endswith(tail)
