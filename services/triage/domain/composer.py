"""What helps an agent write a reply, decided without I/O: saved replies' placeholders, the
rule against one saved reply sent word for word to many people, and the invitation to move a
public conversation to private messages where the platform allows it.

Placeholders are ``{name}`` (the customer's first name, from the platform's display name),
``{handle}`` and ``{reference}`` (the latest booking, order or file reference the customer
wrote in the thread). One the desk cannot fill stays in the text as it is, visible, and a
reply still holding one is refused before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.triage.domain.similarity import similarity, sketch

K = TypeVar("K", bound=Hashable)

__all__ = [
    "PLACEHOLDERS",
    "Filled",
    "Invitation",
    "closest",
    "fill",
    "first_name",
    "generalise",
    "invitation",
    "latest_reference",
    "references",
    "same_text",
    "unchanged_to_many",
    "unfilled",
]

PLACEHOLDERS = ("name", "handle", "reference")
"""The placeholders the desk fills; any other ``{word}`` is left for the agent."""

_PLACEHOLDER = re.compile(r"\{([a-z][a-z_]{0,29})\}")
# A reference: 5 to 20 capitals and digits, with at least one of each, parts joined by
# hyphens or slashes ("KD29XF", "BOS-20417", "UA1469"); "LHR" and "482" are not references.
_REFERENCE = re.compile(
    r"(?<![\w-])(?=[A-Z0-9/-]*\d)(?=[A-Z0-9/-]*[A-Z])[A-Z0-9]+(?:[-/][A-Z0-9]+)*(?![\w-])"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Filled:
    """A saved reply's text for one conversation, and the placeholders still in it."""

    text: str
    unfilled: tuple[str, ...]


def unfilled(text: str) -> tuple[str, ...]:
    """The placeholders left in ``text``, each once, in order."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(text)))


def fill(template: str, values: Mapping[str, str]) -> Filled:
    """The template with every placeholder whose value is known replaced; the others stay
    as ``{placeholder}`` so the agent sees what to write."""

    def value(match: re.Match[str]) -> str:
        known = values.get(match.group(1), "").strip()
        return known or str(match.group(0))

    text = _PLACEHOLDER.sub(value, template)
    return Filled(text, unfilled(text))


def first_name(display_name: str) -> str:
    """The name a reply greets: the first word of the platform's display name ("Sam A." ->
    "Sam"); "" when there is none or it is only an initial."""
    words = display_name.split()
    if not words or len(words[0].rstrip(".")) < 2:
        return ""
    return words[0]


def references(texts: Sequence[str]) -> tuple[str, ...]:
    """Every reference-like token of the customer's messages, each once, in order."""
    found = (t for message in texts for t in _REFERENCE.findall(message) if 5 <= len(t) <= 20)
    return tuple(dict.fromkeys(str(t) for t in found))


def generalise(answer: str, values: Mapping[str, str], refs: Sequence[str]) -> str:
    """Another customer's answer made a template: their name, handle and references become
    ``{name}``, ``{handle}`` and ``{reference}``, so a suggestion never carries one person's
    booking number to another (``fill`` then puts in this customer's, or leaves them
    visibly unfilled)."""
    swaps = [(ref, "{reference}") for ref in refs]
    swaps += [(values[key], "{" + key + "}") for key in ("handle", "name") if values.get(key)]
    for old, placeholder in swaps:
        answer = re.sub(rf"(?<![\w@]){re.escape(old)}(?!\w)", placeholder, answer)
    return answer


def latest_reference(texts: Sequence[str]) -> str:
    """The last reference-like token of the customer's messages (oldest first), or ""."""
    for message in reversed(texts):
        found = [t for t in _REFERENCE.findall(message) if 5 <= len(t) <= 20]
        if found:
            return str(found[-1])
    return ""


def same_text(a: str, b: str) -> bool:
    """Whether two replies say the same words (spacing and line breaks aside)."""
    return _SPACE.sub(" ", a).strip() == _SPACE.sub(" ", b).strip()


def unchanged_to_many(person: str, earlier_people: Collection[str]) -> bool:
    """Whether a saved reply sent word for word to ``person`` would reach a second person
    unchanged: true when the workspace already sent it unchanged to someone else. The first
    person may get it (and get it again); everyone after must get an edited reply. Filling
    the placeholders is not an edit: a name does not make an answer personal."""
    return any(other != person for other in earlier_people)


def closest(
    text: str, candidates: Sequence[tuple[K, str]], floor: float, limit: int
) -> list[tuple[K, float]]:
    """The candidates whose text is most like ``text`` by the incidents' similarity (MinHash
    of content words, their 4-grams and pairs: French and English alike), at least ``floor``,
    most alike first."""
    mine = sketch(text)
    scored = [(key, similarity(mine, sketch(theirs))) for key, theirs in candidates]
    kept = sorted((pair for pair in scored if pair[1] >= floor), key=lambda p: -p[1])
    return kept[:limit]


@dataclass(frozen=True, slots=True)
class Invitation:
    """Whether the desk offers to move the conversation to private messages, the reply text
    it prefills (the agent edits it; nothing is sent by itself), and why when it is not."""

    offered: bool
    text: str
    reason: str


_NOT_OFFERED = {
    "dm": "The conversation is already private.",
    "bluesky": (
        "Bluesky has no private reply to a post: its chat reaches only people who allow "
        "messages from the account (by default, accounts they follow), and Écoute does not "
        "deliver Bluesky chat."
    ),
}


def invitation(
    platform: str, kind: str, name: str, brand_handle: str, brand_account_id: str
) -> Invitation:
    """The prefilled reply that moves a public conversation to private messages:

    - X: a public reply with the brand's direct-message deep link
      (``https://x.com/messages/compose?recipient_id=…``, known once the brand has posted
      from that account in the workspace; without it, the @handle to write to);
    - Facebook and Instagram comments: a reply saying to message the Page, which the agent
      may send publicly or as Meta's private reply to the comment (``"private": true`` on
      the reply: ``POST /{page-id}/messages`` with ``recipient: {comment_id}``);
    - Mastodon: a reply asking for a direct (mentioned-people-only) post to the brand;
    - not offered on Bluesky, nor in a conversation that is already private.
    """
    if kind == "dm":
        return Invitation(False, "", _NOT_OFFERED["dm"])
    if platform == "bluesky":
        return Invitation(False, "", _NOT_OFFERED["bluesky"])
    hello = f"Hi {name}, " if name else "Hi, "
    why = "so we can look at your account without sharing personal details here."
    if platform == "x":
        if brand_account_id:
            where = f"https://x.com/messages/compose?recipient_id={brand_account_id}"
        else:
            where = f"@{brand_handle}" if brand_handle else "our account"
        return Invitation(True, f"{hello}please send us a direct message ({where}) {why}", "")
    if platform in ("facebook", "instagram"):
        return Invitation(True, f"{hello}please send us a private message from our page {why}", "")
    if platform == "mastodon":
        target = f"@{brand_handle}" if brand_handle else "us"
        return Invitation(
            True, f"{hello}please write to {target} in a direct (private) mention {why}", ""
        )
    return Invitation(False, "", f"{platform or 'This platform'} has no private messages here.")
