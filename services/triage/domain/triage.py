"""Triage of one inbound post: does it need an agent, what is it, how urgent, and why.

A learned linear model (``model``) reads hashed n-grams and the rule cue families
(``rules``) and decides needs_answer (calibrated probability, a threshold per language
chosen for recall), abuse and intent. Rules stay where rules are the right tool and say so
in the reasons: nothing to read, posts written by the brand, obvious spam, closing messages
("c'est réglé, merci"), direct messages, and every priority cue (safety, outage, money or
access lost, urgency, health, follow-ups, repeat contact, waiting time). Priority comes from
need only, never from who the author is.

Pure: no I/O except reading the committed artifact once, no clock (the caller passes the
waiting time in).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.triage.domain import features as feature_extraction
from services.triage.domain.language import STOPWORDS, detect_normalised
from services.triage.domain.model import DEFAULT_DIRECTORY, INTENTS, Model, load
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import has_words, own_words, scan

__all__ = [
    "INTENTS",
    "MAX_REASONS",
    "WAIT_RAISE_SECONDS",
    "Decision",
    "RuleVerdict",
    "Triage",
    "decide",
    "default_triage",
    "rule_verdict",
]

WAIT_RAISE_SECONDS = 4 * 3600.0
MAX_REASONS = 4

NEED_INTENTS = ("problem", "question", "request", "complaint", "other")
NO_NEED_INTENTS = ("complaint", "praise", "banter", "spam", "abuse", "brand", "other")
_NEED_INTENTS = tuple(INTENTS.index(i) for i in NEED_INTENTS)
_NO_NEED_INTENTS = tuple(INTENTS.index(i) for i in NO_NEED_INTENTS)
_ABUSE = INTENTS.index("abuse")
_PRAISE_OR_LESS = ("complaint", "banter", "other")


@dataclass(frozen=True, slots=True)
class Decision:
    needs_answer: bool
    intent: str  # one of INTENTS
    abuse: bool
    language: str  # "fr" | "en" | "other"
    priority: int  # 1 (most urgent) .. 4 (least); no answer needed -> 4
    confidence: float  # 0..1, calibrated chance that needs_answer is right
    reasons: tuple[str, ...]  # 1..4 short phrases an agent can read
    model_version: str


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What the rules alone settle about a post, before the model is asked."""

    needs_answer: bool | None  # None: the model decides
    intent: str | None
    reason: str | None


# A post reporting one of these needs an agent whatever the model thinks (recall first).
_FAULTS = ("safety", "outage", "money", "access")
# Cue families that explain a need, in the order an agent reads them.
_NEED_REASONS = (
    ("safety", "safety issue"),
    ("outage", "reports an outage"),
    ("money", "mentions money lost"),
    ("refund", "asks for money back"),
    ("access", "reports lost access"),
)
_INTENT_REASONS = {
    "problem": "reports a problem",
    "question": "asks a question",
    "request": "asks for an action",
    "complaint": "complains about a specific experience",
    "other": "may need an answer",
}
_NO_NEED_REASONS = {
    "complaint": "venting with nothing concrete",
    "praise": "praise with nothing to act on",
    "banter": "chit-chat with nothing to act on",
    "spam": "looks like spam",
    "abuse": "insults with nothing to act on",
    "brand": "written by the brand",
    "other": "no problem or question found",
}
_ESCALATION = frozenset(
    {
        "marked urgent",
        "vulnerable person involved",
        "mentions a health situation",
        "second message while waiting",
        "waiting over 4 hours",
    }
)
_EVIDENCE_MIN = 0.2  # a unigram weight below this says little on its own
# Words too common to explain anything to an agent, even when they weigh a little: the
# stopwords, except those that name the service or the trouble.
_TELLING = frozenset(
    [
        "panne",
        "connexion",
        "probleme",
        "reseau",
        "abonnement",
        "facture",
        "technicien",
        "rdv",
        "jamais",
        "toujours",
        "encore",
        "rien",
        "aucun",
        "aucune",
        "personne",
        "flight",
        "flights",
        "hours",
        "hold",
        "bag",
        "bags",
        "luggage",
        "delayed",
        "plane",
        "airline",
        "airport",
        "gate",
        "seat",
        "customer",
        "help",
        "still",
        "never",
        "again",
        "trouble",
        "trying",
    ]
)
_NOT_EVIDENCE = (STOPWORDS - _TELLING) | frozenset(
    [
        "url",
        "bonjour",
        "bonsoir",
        "hello",
        "merci",
        "thanks",
        "thank",
        "please",
        "svp",
        "anything",
        "something",
        "would",
    ]
)


def rule_verdict(norm: str, cues: dict[str, int]) -> RuleVerdict:
    """The cases rules settle: nothing to read, brand posts, spam, closing messages, and a
    reported fault (danger, outage, money or access lost), which always reaches an agent."""
    if not has_words(norm):
        return RuleVerdict(False, "other", "no words to read")
    asks = "?" in norm or "request" in cues or "refund" in cues or "question" in cues
    abuse = "abuse" in cues
    if "brand" in cues and not abuse:
        return RuleVerdict(False, "brand", "written by the brand")
    if ("spam" in cues or norm.count("url") >= 2) and not (asks or abuse):
        return RuleVerdict(False, "spam", "looks like spam")
    closing = "resolved" in cues and not ("notresolved" in cues or "followup" in cues)
    if closing and not asks:
        intent = "praise" if "praise" in cues else "other"
        return RuleVerdict(False, intent, "says the matter is resolved")
    if any(family in cues for family in _FAULTS):
        return RuleVerdict(True, "problem", None)
    return RuleVerdict(None, None, None)


def _raise(priority: int) -> int:
    return max(1, priority - 1)


def _waited(waited_seconds: float) -> float:
    try:
        value = float(waited_seconds)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(value) else value


def _finish(reasons: list[str]) -> tuple[str, ...]:
    """At most MAX_REASONS, escalations (which explain the priority) always kept."""
    unique = list(dict.fromkeys(reasons))
    extra = [r for r in unique if r in _ESCALATION]
    core = [r for r in unique if r not in _ESCALATION]
    kept = core[: max(1, MAX_REASONS - len(extra))] + extra
    return tuple(kept[:MAX_REASONS]) or ("no problem or question found",)


class Triage:
    """Decisions with one loaded model."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def decide(
        self,
        text: str,
        *,
        kind: str = "mention",
        repeat_contact: bool = False,
        waited_seconds: float = 0.0,
    ) -> Decision:
        """kind is mention|dm|comment|reply. repeat_contact = the author wrote again while a
        previous message in the same open conversation is unanswered. waited_seconds = how
        long the oldest unanswered message of the conversation has waited (the caller
        computes it from its own clock; this never reads one)."""
        norm = normalise(text) if isinstance(text, str) else ""
        language = detect_normalised(norm)
        own = own_words(norm)
        cues = scan(own) if norm else {}
        verdict = rule_verdict(own, cues)
        if verdict.reason == "no words to read":
            return self._decision(False, "other", language, 0.9, [verdict.reason])

        features = feature_extraction.extract(own, cues)
        scores = self.model.scores(features)
        p_need = self.model.need_probability(scores.needs_answer)
        # The abuse lexicon names insults outright; the model finds the rest.
        abuse = "abuse" in cues or (
            self.model.abuse_probability(scores.abuse) >= self.model.abuse_threshold
        )
        reasons: list[str] = []
        if verdict.needs_answer is False:
            intent = str(verdict.intent)
            if abuse and intent == "other":
                intent = "abuse"
            reasons.append(str(verdict.reason))
            if abuse:
                reasons.append("insults someone")
            confidence = max(0.8, 1.0 - p_need)
            return self._decision(False, intent, language, confidence, reasons, abuse=abuse)

        needs_answer = verdict.needs_answer or p_need >= self.model.need_threshold(language)
        confidence = max(p_need, 0.8) if verdict.needs_answer else p_need
        intent = verdict.intent or self._intent(scores.intents, needs_answer, abuse)
        if not needs_answer and kind == "dm" and intent in ("other", "banter", "complaint"):
            # A direct message is addressed to the care team: someone should read it.
            needs_answer, intent = True, "other"
            reasons.append("direct message to the brand")
        if abuse:
            reasons.append("insults someone")
        if not needs_answer:
            if intent in _PRAISE_OR_LESS and "praise" in cues and "complaint" not in cues:
                intent = "praise"  # thanks with no grievance, however the model ranked it
            if intent != "abuse":
                reasons.append(_NO_NEED_REASONS[intent])
            return self._decision(False, intent, language, 1.0 - p_need, reasons, abuse=abuse)

        priority = self._priority(intent, cues, p_need, reasons, features)
        if repeat_contact:
            priority = _raise(priority)
            reasons.append("second message while waiting")
        if _waited(waited_seconds) >= WAIT_RAISE_SECONDS:
            priority = _raise(priority)
            reasons.append("waiting over 4 hours")
        return self._decision(
            True, intent, language, confidence, reasons, abuse=abuse, priority=priority
        )

    def _intent(self, logits: npt.NDArray[np.float32], needs_answer: bool, abuse: bool) -> str:
        """The most likely intent among those consistent with the need decision; "abuse"
        only when the post is abusive (the abuse head and lexicon decide that)."""
        scores = logits.tolist()
        allowed = _NEED_INTENTS if needs_answer else _NO_NEED_INTENTS
        if not abuse:
            allowed = tuple(i for i in allowed if i != _ABUSE)
        best = max(allowed, key=scores.__getitem__)
        intent = INTENTS[best]
        if not needs_answer and abuse and intent in ("complaint", "banter", "other"):
            return "abuse"
        return intent

    def _priority(
        self,
        intent: str,
        cues: dict[str, int],
        p_need: float,
        reasons: list[str],
        features: feature_extraction.Features,
    ) -> int:
        for family, reason in _NEED_REASONS:
            if family in cues:
                reasons.append(reason)
        if "safety" in cues:
            priority = 1
        elif any(f in cues for f in ("outage", "money", "refund", "access")):
            priority = 2
        elif intent in ("problem", "request", "question") and p_need >= 0.5:
            priority = 3
        else:
            priority = 4
        if "followup" in cues or "notresolved" in cues:
            reasons.append("follows up on an open case")
            priority = _raise(priority) if priority > 2 else priority
        if not any(r for r in reasons if r not in _ESCALATION):
            # nothing named by the rules: say what the model saw, and in which words
            reasons.append(_INTENT_REASONS.get(intent, "may need an answer"))
            evidence = self._evidence(features)
            if evidence:
                reasons.append(evidence)
        if "urgent" in cues:
            priority = _raise(priority)
            reasons.append("marked urgent")
        if "vulnerable" in cues:
            priority = _raise(priority)
            reasons.append("vulnerable person involved")
        if "health" in cues and "safety" not in cues:
            # a health situation makes the case more pressing, never an emergency by itself
            priority = priority - 1 if priority > 2 else priority
            reasons.append("mentions a health situation")
        return priority

    def _evidence(self, features: feature_extraction.Features) -> str | None:
        """The post's own words that point to a need most strongly, quoted for the agent."""
        weights = self.model.word_weights(features).tolist()
        tokens = features.tokens
        picked: list[str] = []
        for k in sorted(range(len(weights)), key=weights.__getitem__, reverse=True)[:8]:
            if weights[k] <= _EVIDENCE_MIN:
                break
            word = tokens[k]
            if len(word) < 3 or word in _NOT_EVIDENCE or word in picked:
                continue
            picked.append(word)
            if len(picked) == 2:
                break
        if not picked:
            return None
        return "words that point to a need: " + ", ".join(f'"{w}"' for w in picked)

    def _decision(
        self,
        needs_answer: bool,
        intent: str,
        language: str,
        confidence: float,
        reasons: list[str],
        *,
        abuse: bool = False,
        priority: int = 4,
    ) -> Decision:
        return Decision(
            needs_answer=needs_answer,
            intent=intent,
            abuse=abuse,
            language=language,
            priority=priority if needs_answer else 4,
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            reasons=_finish(reasons),
            model_version=self.model.version,
        )


@functools.cache
def default_triage(directory: Path = DEFAULT_DIRECTORY) -> Triage:
    """The committed model, read once per process."""
    return Triage(load(directory))


def decide(
    text: str,
    *,
    kind: str = "mention",
    repeat_contact: bool = False,
    waited_seconds: float = 0.0,
) -> Decision:
    """Triage one inbound post with the committed model (see ``Triage.decide``)."""
    return default_triage().decide(
        text, kind=kind, repeat_contact=repeat_contact, waited_seconds=waited_seconds
    )
