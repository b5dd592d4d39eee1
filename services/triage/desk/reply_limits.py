"""How long a reply may be on each platform, counted as that platform counts, so the desk
refuses before sending what the platform would refuse after (the only table of these limits:
the composer's counter reads it through ``POST /v1/conversations/{id}/reply-check``).

From the platforms' documentation (checked December 2026):

- X: 280 weighted characters for a post by a standard account; code points of Latin-1 and
  general punctuation weigh 1, others (CJK, emoji) 2, an emoji sequence 2, and every URL 23
  (the t.co link it becomes), after NFC normalisation (docs.x.com, counting characters;
  twitter-text's config v3). Direct messages: 10,000 characters.
- Bluesky: a post's text is at most 300 graphemes (app.bsky.feed.post lexicon); a chat
  message 1,000 graphemes (chat.bsky.convo.defs#messageInput).
- Mastodon: 500 characters by default (an instance may raise it), counted as grapheme
  clusters with every URL as 23 and a remote mention as its local part only; a direct
  message is a status too.
- Instagram: a direct message's text is UTF-8 and under 1,000 bytes (Instagram messaging
  API, send message); a comment reply 2,200 characters (Instagram's caption and comment limit).
- Messenger: 2,000 characters (Send API, message.text). Facebook: a comment 8,000 characters.
- WhatsApp: a text message's body 4,096 characters (Cloud API, text messages).

Graphemes are counted here by a close approximation of Unicode's extended grapheme clusters
(combining marks, joiners, variation selectors, skin tones, flags, keycaps and tags stay with
their base), which the standard library does not provide.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Unit = Literal["x", "graphemes", "mastodon", "characters", "bytes"]

UNIT_WORDS: dict[Unit, str] = {
    "x": "characters (a link counts as 23)",
    "graphemes": "characters",
    "mastodon": "characters (a link counts as 23)",
    "characters": "characters",
    "bytes": "bytes",
}


@dataclass(frozen=True, slots=True)
class Limit:
    maximum: int
    unit: Unit


PUBLIC: dict[str, Limit] = {
    "x": Limit(280, "x"),
    "bluesky": Limit(300, "graphemes"),
    "mastodon": Limit(500, "mastodon"),
    "instagram": Limit(2_200, "characters"),
    "facebook": Limit(8_000, "characters"),
    "messenger": Limit(2_000, "characters"),
    "whatsapp": Limit(4_096, "characters"),
    "threads": Limit(500, "characters"),
    "youtube": Limit(10_000, "characters"),
}
PRIVATE: dict[str, Limit] = {
    "x": Limit(10_000, "characters"),
    "bluesky": Limit(1_000, "graphemes"),
    "mastodon": Limit(500, "mastodon"),
    "instagram": Limit(1_000, "bytes"),
    "facebook": Limit(2_000, "characters"),  # a Page's private messages go through Messenger
    "messenger": Limit(2_000, "characters"),
    "whatsapp": Limit(4_096, "characters"),
}


def limit_for(platform: str, kind: str) -> Limit | None:
    """The limit of a reply in a conversation of this platform and kind (None: no known
    limit, e.g. a generic producer's messages)."""
    return (PRIVATE if kind == "dm" else PUBLIC).get(platform)


URL_LENGTH = 23
_TLDS = "com|net|org|fr|io|co|uk|de|eu|be|ch|es|it|nl|me|ly|app|dev|info|biz|ca|us"
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"]+"
    r"|(?<![@\w.-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:" + _TLDS + r")\b(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w", re.UNICODE)

# A code point that never starts a grapheme: it joins the one before.
_EXTEND = {0x200D, 0x20E3} | set(range(0xFE00, 0xFE10)) | set(range(0x1F3FB, 0x1F400))
_EMOJI_JOINERS = {0x200D, 0xFE0F, 0x20E3} | set(range(0x1F3FB, 0x1F400))


def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """The text's user-perceived characters (see the module's note on the approximation)."""
    clusters: list[str] = []
    joined = False  # the previous code point was a zero-width joiner
    for ch in text:
        cp = ord(ch)
        extends = (
            cp in _EXTEND
            or 0xE0020 <= cp <= 0xE007F
            or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        )
        pairs = (
            _is_regional(cp)
            and clusters
            and len(clusters[-1]) == 1
            and _is_regional(ord(clusters[-1]))
        )
        if clusters and (extends or joined or pairs):
            clusters[-1] += ch
        else:
            clusters.append(ch)
        joined = cp == 0x200D
    return clusters


def _x_weight(cluster: str) -> int:
    """twitter-text's weight of one grapheme: an emoji sequence 2, else per code point."""
    if len(cluster) > 1 and any(ord(c) in _EMOJI_JOINERS or _is_regional(ord(c)) for c in cluster):
        return 2
    return sum(1 if _light(ord(c)) else 2 for c in cluster)


def _light(cp: int) -> bool:
    return (
        cp <= 0x10FF or 0x2000 <= cp <= 0x200D or 0x2010 <= cp <= 0x201F or 0x2032 <= cp <= 0x2037
    )


def _without_urls(text: str) -> tuple[str, int]:
    """The text with its URLs taken out, and how many there were."""
    count = 0
    kept: list[str] = []
    at = 0
    for match in _URL.finditer(text):
        url = match.group(0)
        trimmed = url.rstrip(_TRAILING)
        kept.append(text[at : match.start()])
        kept.append(url[len(trimmed) :])
        at = match.end()
        count += 1
    kept.append(text[at:])
    return "".join(kept), count


def measure(text: str, unit: Unit) -> int:
    """The text's length as the platform counts it."""
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "characters":
        return len(text)
    if unit == "graphemes":
        return len(graphemes(text))
    if unit == "mastodon":
        rest, urls = _without_urls(_REMOTE_MENTION.sub(r"@\1", text))
        return len(graphemes(rest)) + URL_LENGTH * urls
    rest, urls = _without_urls(unicodedata.normalize("NFC", text))
    return sum(_x_weight(g) for g in graphemes(rest)) + URL_LENGTH * urls


@dataclass(frozen=True, slots=True)
class Measured:
    """A reply's length against its platform's limit (``maximum`` None: no known limit)."""

    length: int
    maximum: int | None
    unit: Unit

    @property
    def over(self) -> bool:
        return self.maximum is not None and self.length > self.maximum


def check(text: str, platform: str, kind: str) -> Measured:
    limit = limit_for(platform, kind)
    if limit is None:
        return Measured(len(text), None, "characters")
    return Measured(measure(text, limit.unit), limit.maximum, limit.unit)


def refusal(measured: Measured, platform: str) -> str:
    """What the agent (or an API client) reads when a reply is over the limit."""
    label = {"x": "X", "whatsapp": "WhatsApp", "youtube": "YouTube"}.get(platform, platform.title())
    return (
        f"A reply on {label} may be at most {measured.maximum:,} "
        f"{UNIT_WORDS[measured.unit]}: this one counts {measured.length:,}."
    )
