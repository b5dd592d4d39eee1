"""Mastodon (and other fediverse) HTML content as the plain text a person wrote."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "li", "blockquote", "pre"}
_INVISIBLE = {"invisible"}  # Mastodon hides the scheme and tail of long links in these spans


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0
        self._stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
            return
        if tag in _BLOCKS and self.parts and not self.parts[-1].endswith("\n\n"):
            self.parts.append("\n\n")
        classes = set((dict(attrs).get("class") or "").split())
        hidden = bool(classes & _INVISIBLE)
        self._stack.append(hidden)
        if hidden:
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br",):
            return
        if self._stack and self._stack.pop():
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(content: str) -> str:
    """Paragraphs and line breaks kept, tags and hidden link parts dropped, entities decoded."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    text = unescape("".join(parser.parts))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
