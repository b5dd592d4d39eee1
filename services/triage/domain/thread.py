"""Conversation context for a decision: what the brand did last in the thread.

A post that only makes sense in its thread ("DM sent", "@Delta UA1469", "I did.", a link to
a screenshot) needs an answer when the brand has just answered or asked for details, and a
"merci c'est réglé" or a plain "thanks!" closes the case. The caller (the event consumer)
knows the conversation; it passes a ``Thread`` to ``Triage.decide``. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.triage.domain.normalise import normalise

__all__ = ["ANSWERED", "ASKED", "NONE", "Thread", "asks_for_details", "closes", "is_details"]

ANSWERED = "answered"  # the brand wrote the last message before this post
ASKED = "asked"  # ... and asked for something: a reference, a DM, a detail, a check
NONE = "none"  # the brand has not written in this conversation yet

# The brand's message asks the customer for something (normalised text).
_ASKS = re.compile(
    r"\?|(?<!\w)(?:dm|d\.m|direct message|private message|message prive|mp|en prive|"
    r"send (?:us|me)|share (?:your|the|with)|(?:please|pls|kindly) (?:send|share|provide|"
    r"confirm|follow|reach|check|try|let|call|contact|dm|email|reply|tell|give|fill)|"
    r"let (?:us|me) know|reach out|follow (?:us|the link)|fill (?:in|out)|"
    r"pouvez-vous|pourriez-vous|envoyez-(?:nous|moi)|merci de (?:nous|me)|"
    r"(?:indiquer|communiquer|transmettre|preciser)(?:-nous)?)(?!\w)"
)
# Short acknowledgements that close a thread when nothing else is asked or reported.
_ACKNOWLEDGES = re.compile(
    r"(?<!\w)(?:ok|okay|k|kk|will do|got it|noted|sure|cool|great|perfect|perfecto|awesome|"
    r"brilliant|lovely|cheers|thanks?|thank you|thx|ty|appreciated?|much appreciated|"
    r"d'accord|dac|ca marche|parfait|entendu|compris|super|top|nickel|merci\w*|bonne journee|"
    r"bonne soiree|all good|no worries|sounds good|that works|done)(?!\w)"
)
_LETTERS = re.compile(r"[^\W\d_]{2,}")
# "ok but ...", "merci mais ...": the thanks comes with a but.
_CONTRAST = re.compile(
    r"(?<!\w)(?:but|however|though|except|yet|mais|sauf|pourtant|cependant)(?!\w)"
)
_CLOSING_WORDS = 8  # a thanks longer than this usually carries something more: the model reads it
# Families that mean the post still carries something to act on.
_OPEN_FAMILIES = frozenset(
    {
        "safety",
        "outage",
        "money",
        "refund",
        "access",
        "problem",
        "followup",
        "notresolved",
        "request",
        "question",
        "abuse",
    }
)
# A reference the brand asked for: a code with digits, an e-mail, a link, "DM sent", "done".
_DETAILS = re.compile(
    r"(?<!\w)(?:[a-z]*\d[a-z\d-]{2,}|[\w.+-]+@[\w-]+\.\w+|url|dm|dms|dm'd|dmed|sent|replied|"
    r"done|did|i did|messaged|emailed|envoye|envoyee|c'est fait|fait)(?!\w)"
)


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a post sits in its conversation, as the caller knows it.

    ``brand_last``: "answered" (the brand wrote the last message before this post),
    "asked" (and that message asked for details: a reference, a DM, a check) or "none" (the
    brand has not written in this conversation). ``parent_text``: the brand's message this
    post replies to, when known; a question or a request for details in it counts as
    "asked" even when the caller only said "answered".
    """

    brand_last: str = ANSWERED
    parent_text: str = ""

    @property
    def after_brand(self) -> bool:
        return self.brand_last in (ANSWERED, ASKED)

    @property
    def brand_asked(self) -> bool:
        if self.brand_last == ASKED:
            return True
        return self.after_brand and asks_for_details(self.parent_text)

    def context(self) -> tuple[str, ...]:
        """The model's thread flags (``features.FLAGS``) that hold for this post."""
        if not self.after_brand:
            return ()
        return ("thread_reply", "thread_asked") if self.brand_asked else ("thread_reply",)


def asks_for_details(text: str) -> bool:
    """Does a brand's message ask the customer for something (a reference, a DM, a check)?"""
    return bool(text) and _ASKS.search(normalise(text)) is not None


def closes(norm: str, cues: dict[str, int]) -> bool:
    """A reply that closes the case: the rules say it is settled ("all sorted", "c'est
    réglé"), or it only thanks or acknowledges, in a few words, with no question, ask,
    problem or "but" in it."""
    if "resolved" in cues and not ("notresolved" in cues or "followup" in cues):
        return True
    if "?" in norm or any(family in cues for family in _OPEN_FAMILIES):
        return False
    if _CONTRAST.search(norm):
        return False
    words = [w for w in _LETTERS.findall(norm) if w not in ("url", "user")]
    if not words or len(words) > _CLOSING_WORDS:
        return False
    return "praise" in cues or _ACKNOWLEDGES.search(norm) is not None


def closes_thread(norm: str, cues: dict[str, int], thread: Thread) -> bool:
    """A thanks or an "ok" closes a thread the brand answered; where the brand asked for
    something ("which store?", "can you try...?"), "Done." or "sure thing" carries on."""
    if not thread.after_brand or thread.brand_asked or is_details(norm):
        return False
    return closes(norm, cues)


def is_details(norm: str) -> bool:
    """A short reply that hands over what was asked: a reference, an e-mail, a link, "DM
    sent", "done" (at most six words besides handles)."""
    words = [w for w in norm.split() if w != "@user"]
    return 0 < len(words) <= 6 and _DETAILS.search(norm) is not None
