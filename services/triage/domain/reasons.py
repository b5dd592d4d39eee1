"""Reasons an agent can believe: a cue family with the post's own phrase, or model evidence.

Every reason names what actually raised the decision: a rule family and the phrase of the
post it found ('reports an outage: "plus d'internet"', "safety risk: smoke"), or, when no
family explains a need, the words of the post the model weighed most, checked by taking
them out (the need score must fall). A lone common word ("chat", "top", "franchement")
is never shown on its own: evidence is a two-word phrase, or a word that is neither
frequent nor a function word. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.triage.domain.danger import kind_of
from services.triage.domain.language import STOPWORDS

__all__ = [
    "FAULT_REASONS",
    "MAX_EVIDENCE_TRIES",
    "MAX_QUOTE",
    "MAY_NEED",
    "MIN_EVIDENCE_DROP",
    "NO_NEED_REASONS",
    "SIGNAL_REASONS",
    "asks_someone",
    "danger_reasons",
    "evidence_candidates",
    "evidence_reason",
    "is_plain_word",
    "is_telling_pair",
    "quote",
]

MAY_NEED = "may need an answer"
# How much the calibrated need probability must fall when the quoted evidence is taken out
# of the post: less, and the words did not really raise the decision.
MIN_EVIDENCE_DROP = 0.10
MAX_EVIDENCE_TRIES = 1  # candidates re-scored, best weighted first (each costs a scoring)

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


# Function words the language guesser does not list: a phrase never starts or ends on one.
_FUNCTION = STOPWORDS | frozenset(
    ["before", "entre", "onto", "sous", "through", "under", "vers", "while", "without"]
)


def is_plain_word(word: str, common: frozenset[str] = frozenset()) -> bool:
    """Too common or too short to explain anything to an agent on its own: a function
    word, a greeting or filler, or one of the ``common`` words of the training posts."""
    return len(word) < 4 or word in _PLAIN or word in _FUNCTION or word in common


def is_telling_pair(first: str, second: str, common: frozenset[str] = frozenset()) -> bool:
    """Two words that read as a phrase: no function word, and not both common."""
    if len(first) < 3 or len(second) < 3 or first in _FUNCTION or second in _FUNCTION:
        return False
    return not (is_plain_word(first, common) and is_plain_word(second, common))


def evidence_candidates(
    text: str,
    tokens: Sequence[str],
    weights: Sequence[float],
    common: frozenset[str] = frozenset(),
) -> list[str]:
    """Phrases of the post the model weighs towards a need, strongest first: two adjacent
    words (written side by side in ``text``, no punctuation between) that read as a
    phrase, or a single uncommon word. Never a lone stop word or common word."""
    scored: dict[str, float] = {}
    for k, word in enumerate(tokens):
        if weights[k] <= 0.0:
            continue
        if not is_plain_word(word, common):
            scored[word] = max(scored.get(word, 0.0), weights[k])
        following = tokens[k + 1] if k + 1 < len(tokens) else ""
        if (
            following
            and weights[k + 1] > 0.0
            and is_telling_pair(word, following, common)
            and _side_by_side(text, word, following)
        ):
            phrase = f"{word} {following}"
            scored[phrase] = max(scored.get(phrase, 0.0), weights[k] + weights[k + 1])
    return sorted(scored, key=lambda phrase: (-scored[phrase], phrase))


def _side_by_side(text: str, first: str, second: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(first)} {re.escape(second)}(?!\w)", text) is not None


def evidence_reason(phrase: str) -> str:
    return f"words that point to a need: {quote(phrase)}"


# A question put to someone: the brand or anyone addressed ("can you", "pouvez-vous",
# "does anyone"), or the author asking for themselves ("how do I", "can we", "est-ce que").
_ADDRESSED = re.compile(
    r"(?<!\w)(?:you|u|your|anyone|anybody|someone|somebody|i|we|my|vous|tu|je|j'|on|"
    r"est-ce|est ce|y a)(?!\w)|-(?:vous|tu|je|il|on)(?!\w)"
)


def asks_someone(text: str, phrase: str) -> bool:
    """A question reason needs a question addressed to someone: a question mark in the
    post, or a question phrase naming who asks or is asked (never a bare "which")."""
    return "?" in text or _ADDRESSED.search(phrase) is not None


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
