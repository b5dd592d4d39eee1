"""Reasons an agent can believe: a cue family with the post's own phrase, or model evidence.

Every reason names what actually raised the decision: a rule family and the phrase of the
post it found ('reports an outage: "plus d'internet"', "safety risk: smoke"), or, when no
family explains a need, the words of the post the model weighed most, checked by taking
them out (the need score must fall). A lone common word ("chat", "top", "franchement")
is never shown on its own: evidence is a two-word phrase, or a word that is neither
frequent nor a function word. Pure: no I/O.
"""

from __future__ import annotations

from services.triage.domain.danger import kind_of
from services.triage.domain.language import STOPWORDS

__all__ = [
    "FAULT_REASONS",
    "MAX_QUOTE",
    "NO_NEED_REASONS",
    "SIGNAL_REASONS",
    "danger_reasons",
    "is_plain_word",
    "is_telling_pair",
    "quote",
]

MAX_QUOTE = 40  # characters of a quoted phrase

# Rule families that mean a fault, in the order an agent reads them.
FAULT_REASONS = (
    ("outage", "reports an outage"),
    ("money", "mentions money lost"),
    ("refund", "asks for money back"),
    ("access", "reports lost access"),
)
# Families that explain a need when no fault does (quoted only when the model weighs them up).
SIGNAL_REASONS = (
    ("followup", "follows up on an open case"),
    ("notresolved", "says it is not resolved"),
    ("problem", "reports a problem"),
    ("request", "asks for an action"),
    ("question", "asks a question"),
    ("details", "gives booking or case details"),
)
NO_NEED_REASONS = {
    "complaint": "venting with nothing concrete",
    "praise": "praise with nothing to act on",
    "banter": "chit-chat with nothing to act on",
    "spam": "looks like spam",
    "abuse": "insults with nothing to act on",
    "brand": "written by the brand",
    "other": "no problem or question found",
    "problem": "no problem or question found",
    "question": "no problem or question found",
    "request": "no problem or question found",
}
# Frequent words that say nothing on their own, beyond the function words: greetings,
# politeness, fillers, and the generic words of care traffic.
_PLAIN = STOPWORDS | frozenset(
    [
        "url",
        "user",
        "bonjour",
        "bonsoir",
        "hello",
        "hi",
        "hey",
        "merci",
        "thanks",
        "thank",
        "please",
        "svp",
        "stp",
        "anything",
        "something",
        "would",
        "could",
        "should",
        "also",
        "just",
        "really",
        "franchement",
        "vraiment",
        "bien",
        "top",
        "chat",
        "open",
        "good",
        "great",
        "nice",
        "love",
        "like",
        "lol",
        "mdr",
        "ok",
        "okay",
        "yes",
        "non",
        "oui",
        "day",
        "today",
        "time",
        "people",
        "guys",
        "ever",
        "even",
        "make",
        "made",
        "going",
        "gonna",
        "want",
        "know",
        "think",
        "thing",
        "things",
        "still",
        "again",
        "never",
        "always",
        "voila",
        "bref",
        "genre",
        "grave",
        "trop",
        "tres",
        "tout",
        "tous",
        "rien",
        "aucun",
        "jamais",
        "encore",
        "toujours",
        "deja",
        "service",
        "services",
        "customer",
        "customers",
        "client",
        "clients",
        "free",
        "freebox",
        "box",
        "company",
        "compagnie",
        "account",
        "compte",
        "flight",
        "flights",
        "vol",
        "avion",
        "airline",
        "airlines",
        "app",
        "appli",
        "phone",
        "telephone",
        "internet",
        "reseau",
        "offre",
        "forfait",
        "abonnement",
    ]
)


def is_plain_word(word: str) -> bool:
    """Too common or too short to explain anything to an agent on its own."""
    return len(word) < 4 or word in _PLAIN


def is_telling_pair(first: str, second: str) -> bool:
    """Two words that read as a phrase: no function word, and not both common."""
    if len(first) < 3 or len(second) < 3 or first in STOPWORDS or second in STOPWORDS:
        return False
    return not (is_plain_word(first) and is_plain_word(second))


def quote(phrase: str) -> str:
    """A phrase of the post, trimmed, in double quotes."""
    phrase = phrase.strip(" .,;:!?\"'")
    if len(phrase) > MAX_QUOTE:
        phrase = phrase[:MAX_QUOTE].rsplit(" ", 1)[0] + "…"
    return f'"{phrase}"'


def danger_reasons(found: dict[str, list[str]]) -> list[str]:
    """ "safety risk: <kind>" and "vulnerable customer: <kind>", each kind once, in the
    order the post names them."""
    reasons = []
    for family, prefix in (("safety", "safety risk"), ("vulnerable", "vulnerable customer")):
        kinds = dict.fromkeys(
            kind for phrase in found.get(family, ()) if (kind := kind_of(family, phrase))
        )
        reasons += [f"{prefix}: {kind}" for kind in kinds]
    return reasons
