"""Text normalisation shared by language detection and the rule scorer.

One canonical form lets every lexicon be written once: lower case, no accents,
plain apostrophes, URLs and handles replaced by placeholders. It accepts both
live traffic (case, accents, handles, URLs, emoji, HTML) and the pre-cleaned
French exports where a line break became a literal "n" glued to the next word.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["MAX_CHARS", "normalise"]

MAX_CHARS = 5_000

_TAG = re.compile(r"<[^<>]{0,300}>")
# Only well-formed entities: html.unescape alone also rewrites "&not coffee" to "¬ coffee",
# so a second normalisation would change the text again.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_URL = re.compile(r"(?:https?://|www\.)\S*")
_BARE_URL = re.compile(r"[a-z0-9.-]+\.(?:com|fr|net|org|ly|co|io|me|gl|be|us|eu|tv)/\S*")
_HANDLE = re.compile(r"@(?<![\w@]@)[a-z0-9_]{1,30}")

# Characters compatibility folding leaves alone but that split one word into two
# spellings ("n’ai" vs "n'ai"), or that are invisible.
_CHAR_MAP = {
    "\u2019": "'",
    "\u2018": "'",
    "\u201b": "'",
    "\u02bc": "'",
    "\u2032": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u0153": "oe",
    "\u00e6": "ae",
    "\u00df": "ss",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\u00ad": "",
}
_SPECIAL = re.compile("[" + "".join(_CHAR_MAP) + "]")

# Pre-cleaned exports glue a line break as "n" onto the next word ("bonjournje").
# Only French function words are unglued: "n" + word is never itself a word here,
# so live text is unaffected. A vowel before a run of 2+ "n" keeps one ("riennje").
_GLUE_WORDS = (
    "je|tu|nous|vous|moi|mon|ma|mes|le|la|les|merci|bonjour|bonsoir|hello|salut|"
    "depuis|plus|pas|mais|pour|quand|pourquoi|comment|rien|toujours|impossible|"
    "aucun|aucune|svp|cordialement|bref|donc|alors|sinon|par|avec|sans|ca|cela"
)
_GLUED = re.compile(r"n{1,3}(?=(?:" + _GLUE_WORDS + r")(?![a-z])|[jc]'[a-z])")
_VOWELS = frozenset("aeiouy")


def _unglue(match: re.Match[str]) -> str:
    start = match.start()
    prev = match.string[start - 1] if start else ""
    if prev == "n":  # inside a longer run of "n": not a glued line break
        return match.group()
    if prev in _VOWELS and match.end() - start >= 2:
        return "n "
    return " "


def _unescape(match: re.Match[str]) -> str:
    return html.unescape(match.group())


def _map_char(match: re.Match[str]) -> str:
    return _CHAR_MAP[match.group()]


def _repair_surrogates(text: str) -> str:
    """Join valid surrogate pairs, replace lone ones: later steps must not raise."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def normalise(text: str) -> str:
    """Return the canonical form of ``text``; never raises on any str."""
    if not isinstance(text, str) or not text:
        return ""
    s = text[:MAX_CHARS]
    if "&" in s:
        s = _ENTITY.sub(_unescape, s)
    if "<" in s:
        s = _TAG.sub(" ", s)
    if s.isascii():  # fast path (most English posts): no Unicode folding, no extra copies
        s = s.lower()
    else:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. badly decoded UTF-16)
            s = _repair_surrogates(s)
        # NFKD = NFKC's compatibility folding, decomposed, so accents can be dropped.
        s = _COMBINING.sub("", unicodedata.normalize("NFKD", s)).lower()
        s = _SPECIAL.sub(_map_char, s)
    if "http" in s or "www." in s:
        s = _URL.sub(" url ", s)
    if "/" in s:
        s = _BARE_URL.sub(" url ", s)
    if "@" in s:
        s = _HANDLE.sub(" @user ", s)
    if "n" in s:
        unglued = _GLUED.sub(_unglue, s)
        if unglued != s:  # "nbonjournje": the first word was glued to the next one
            unglued = _GLUED.sub(_unglue, unglued)
        s = unglued
    s = " ".join(s.split())
    return s[:MAX_CHARS]
