"""Triage of one inbound post: does it need an agent, what is it, how urgent, and why.

A learned linear model (``model``) reads hashed n-grams, the rule cue families (``rules``),
the thread context and the meaning of the post's words (averaged static word vectors), and
decides needs_answer (calibrated probability, a threshold per language chosen for recall),
abuse and intent. Rules stay where rules are the right tool and say so in the reasons:
nothing to read, a language we do not serve, posts written by the brand, obvious spam,
closing messages ("c'est réglé, merci"), a reply in a thread the brand is handling, direct
messages, danger (safety: P1; a vulnerable customer: P2) and every other priority cue
(outage, money or access lost, urgency, health, follow-ups, repeat contact, waiting time).
Priority comes from need only, never from who the author is.

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
from services.triage.domain import reasons as why
from services.triage.domain.language import detect_normalised, foreign
from services.triage.domain.model import DEFAULT_DIRECTORY, INTENTS, Model, Scores, load
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import found, has_words, own_words
from services.triage.domain.thread import (
    ANSWERED,
    ASKED,
    NONE,
    Thread,
    closes_thread,
    is_details,
)

__all__ = [
    "ANSWERED",
    "ASKED",
    "INTENTS",
    "MAX_REASONS",
    "NONE",
    "WAIT_RAISE_SECONDS",
    "Decision",
    "RuleVerdict",
    "Thread",
    "Triage",
    "decide",
    "default_triage",
    "rule_verdict",
]

WAIT_RAISE_SECONDS = 4 * 3600.0
MAX_REASONS = 4
NO_WORDS = "no words to read"
FOREIGN = "language not supported: routed for a look"

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
# Something an agent could act on. Insults without any of these need no answer: 65 of the
# 70 such gold posts were labelled so (the abuse lexicon's hits, all three pools).
_ACTIONABLE = (
    *_FAULTS,
    "refund",
    "problem",
    "followup",
    "notresolved",
    "request",
    "details",
)
_ESCALATION = frozenset(
    {
        "marked urgent",
        "mentions a health situation",
        "second message while waiting",
        "waiting over 4 hours",
    }
)
_DANGER_PREFIXES = ("safety risk:", "vulnerable customer:")


def rule_verdict(norm: str, cues: dict[str, int]) -> RuleVerdict:
    """The cases rules settle: nothing to read, brand posts, spam, closing messages, and a
    reported fault (danger, outage, money or access lost), which always reaches an agent."""
    if not has_words(norm):
        return RuleVerdict(False, "other", NO_WORDS)
    asks = "?" in norm or "request" in cues or "refund" in cues or "question" in cues
    abuse = "abuse" in cues
    if "brand" in cues and not abuse:
        return RuleVerdict(False, "brand", "written by the brand")
    if ("spam" in cues or norm.count("url") >= 2) and not (asks or abuse):
        return RuleVerdict(False, "spam", "looks like spam")
    if abuse and not any(family in cues for family in _ACTIONABLE):
        return RuleVerdict(False, "abuse", "insults with nothing to act on")
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
    """At most MAX_REASONS; danger first, escalations (which explain the priority) kept."""
    unique = list(dict.fromkeys(reasons))
    danger = [r for r in unique if r.startswith(_DANGER_PREFIXES)]
    extra = [r for r in unique if r in _ESCALATION]
    core = [r for r in unique if r not in _ESCALATION and r not in danger]
    kept = danger[:MAX_REASONS]
    room = MAX_REASONS - len(kept) - len(extra)
    kept += core[: max(1 if not kept else 0, room)] + extra
    return tuple(kept[:MAX_REASONS]) or ("no problem or question found",)


@dataclass(frozen=True, slots=True)
class _Post:
    """A post as the decision reads it."""

    norm: str
    own: str
    language: str
    phrases: dict[str, list[str]]
    cues: dict[str, int]
    context: tuple[str, ...]
    features: feature_extraction.Features


def _verdict(post: _Post, thread: Thread | None) -> RuleVerdict:
    """The rules' verdict; in a thread, a message that closes it needs no answer."""
    verdict = rule_verdict(post.own, post.cues)
    if (
        thread is not None
        and verdict.needs_answer is None
        and closes_thread(post.own, post.cues, thread)
    ):
        intent = "praise" if "praise" in post.cues else "other"
        verdict = RuleVerdict(False, intent, "closes the conversation")
    return verdict


def _escalate(
    priority: int, reasons: list[str], repeat_contact: bool, waited_seconds: float
) -> int:
    """One step up for a second message while waiting, one more for a wait over 4 hours
    (each named in ``reasons``)."""
    if repeat_contact:
        priority = _raise(priority)
        reasons.append("second message while waiting")
    if _waited(waited_seconds) >= WAIT_RAISE_SECONDS:
        priority = _raise(priority)
        reasons.append("waiting over 4 hours")
    return priority


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
        thread: Thread | None = None,
    ) -> Decision:
        """kind is mention|dm|comment|reply. repeat_contact = the author wrote again while a
        previous message in the same open conversation is unanswered. waited_seconds = how
        long the oldest unanswered message of the conversation has waited (the caller
        computes it from its own clock; this never reads one).

        thread (optional) = the conversation around the post: ``Thread("answered")`` when
        the brand wrote the last message before it, ``Thread("asked")`` when that message
        asked for details (a reference, a DM), with ``parent_text`` = the brand's message
        when known (a question or a request for details in it counts as "asked"). After
        the brand, a customer's message needs an answer unless it closes the case ("merci
        c'est réglé", "all sorted", a plain thanks); a bare reference, a link or "DM sent"
        answering the brand needs one. None (the default) = no thread known: the post is
        judged alone, as a first contact."""
        post = self._read(text, thread)
        if not has_words(post.own):
            if thread is not None and thread.after_brand and post.norm and is_details(post.norm):
                return self._thread_details(post, thread)
            return self._decision(False, "other", post.language, 0.9, [NO_WORDS])
        verdict = _verdict(post, thread)
        scores = self.model.scores(post.features)
        p_need = self.model.need_probability(scores.needs_answer)
        abuse = "abuse" in post.cues or (
            self.model.abuse_probability(scores.abuse) >= self.model.abuse_threshold
        )
        if verdict.needs_answer is False:
            return self._settled_by_rule(post, verdict, p_need, abuse)
        if verdict.needs_answer is None and post.language == "other" and foreign(post.norm):
            intent = self._intent(scores.intents, True, abuse)
            reasons = [FOREIGN] + ([self._insult_reason(post)] if abuse else [])
            return self._decision(
                True, intent, post.language, max(p_need, 0.5), reasons, abuse=abuse
            )
        return self._weighed(
            post,
            verdict,
            scores,
            p_need,
            abuse,
            kind=kind,
            thread=thread,
            repeat_contact=repeat_contact,
            waited_seconds=waited_seconds,
        )

    def _settled_by_rule(
        self, post: _Post, verdict: RuleVerdict, p_need: float, abuse: bool
    ) -> Decision:
        """A rule says no answer is needed; an insult is still named (and routed)."""
        intent = str(verdict.intent)
        if abuse and intent == "other":
            intent = "abuse"
        reasons = [str(verdict.reason)]
        if abuse:
            reasons.append(self._insult_reason(post))
        confidence = max(0.8, 1.0 - p_need)
        return self._decision(False, intent, post.language, confidence, reasons, abuse=abuse)

    def _weighed(
        self,
        post: _Post,
        verdict: RuleVerdict,
        scores: Scores,
        p_need: float,
        abuse: bool,
        *,
        kind: str,
        thread: Thread | None,
        repeat_contact: bool,
        waited_seconds: float,
    ) -> Decision:
        """The model decides what the rules left open; a need the rules found stands."""
        after = thread is not None and thread.after_brand
        reasons: list[str] = []
        threshold = self.model.need_threshold(post.language)
        needs_answer = bool(verdict.needs_answer) or p_need >= threshold
        if after and not needs_answer and is_details(post.own):
            needs_answer = True  # "DM sent", "ABC123" answering the brand's request
        confidence = max(p_need, 0.8) if verdict.needs_answer else p_need
        intent = verdict.intent or self._intent(scores.intents, needs_answer, abuse)
        if not needs_answer and kind == "dm" and intent in ("other", "banter", "complaint"):
            # A direct message is addressed to the care team: someone should read it.
            needs_answer, intent = True, "other"
            reasons.append("direct message to the brand")
        if abuse:
            reasons.append(self._insult_reason(post))
        if not needs_answer:
            if intent in _PRAISE_OR_LESS and "praise" in post.cues and "complaint" not in post.cues:
                intent = "praise"  # thanks with no grievance, however the model ranked it
            if intent != "abuse":
                reasons.append(why.NO_NEED_REASONS[intent])
            return self._decision(False, intent, post.language, 1.0 - p_need, reasons, abuse=abuse)
        if after:
            reasons.append(self._thread_reason(post, thread))
        priority = self._priority(intent, post, scores.needs_answer, p_need, reasons, after)
        priority = _escalate(priority, reasons, repeat_contact, waited_seconds)
        return self._decision(
            True, intent, post.language, confidence, reasons, abuse=abuse, priority=priority
        )

    def need_probability(self, text: str, thread: Thread | None = None) -> float:
        """The model's calibrated chance that ``text`` needs an answer (rules aside)."""
        post = self._read(text, thread)
        return self.model.need_probability(self.model.scores(post.features).needs_answer)

    def _read(self, text: str, thread: Thread | None) -> _Post:
        norm = normalise(text) if isinstance(text, str) else ""
        own = own_words(norm)
        phrases = found(own) if norm else {}
        cues = {family: len(p) for family, p in phrases.items()}
        context = thread.context() if thread is not None else ()
        return _Post(
            norm,
            own,
            detect_normalised(norm),
            phrases,
            cues,
            context,
            feature_extraction.extract(own, cues, context),
        )

    def _thread_details(self, post: _Post, thread: Thread | None) -> Decision:
        """A link or a reference alone, answering the brand: someone should look at it."""
        reasons = [self._thread_reason(post, thread)]
        return self._decision(True, "problem", post.language, 0.8, reasons, priority=3)

    @staticmethod
    def _thread_reason(post: _Post, thread: Thread | None) -> str:
        if thread is not None and thread.brand_asked and is_details(post.norm):
            return "sends the details the brand asked for"
        if thread is not None and thread.brand_asked:
            return "answers the brand's question"
        return "replies to the brand in an open conversation"

    @staticmethod
    def _insult_reason(post: _Post) -> str:
        insults = post.phrases.get("abuse")
        return f"insults someone: {why.quote(insults[0])}" if insults else "insults someone"

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
        post: _Post,
        need_score: float,
        p_need: float,
        reasons: list[str],
        after: bool,
    ) -> int:
        cues = post.cues
        reasons[:0] = why.danger_reasons(post.phrases)
        for family, reason in why.FAULT_REASONS:
            if family in cues:
                reasons.append(f"{reason}: {why.quote(post.phrases[family][0])}")
        if "safety" in cues:
            priority = 1
        elif any(f in cues for f in ("outage", "money", "refund", "access")):
            priority = 2
        elif (intent in ("problem", "request", "question") and p_need >= 0.5) or after:
            priority = 3
        else:
            priority = 4
        if "vulnerable" in cues:
            priority = min(priority, 2)
        if "followup" in cues or "notresolved" in cues:
            priority = _raise(priority) if priority > 2 else priority
        if not any(r for r in reasons if r not in _ESCALATION):
            reasons += self._signals(post, need_score)
        if "urgent" in cues:
            priority = _raise(priority)
            reasons.append("marked urgent")
        if "health" in cues and "safety" not in cues:
            # a health situation makes the case more pressing, never an emergency by itself
            priority = priority - 1 if priority > 2 else priority
            reasons.append("mentions a health situation")
        return priority

    def _signals(self, post: _Post, need_score: float) -> list[str]:
        """What explains a need no fault explains: the families the model weighs up (with
        the post's phrase), else the words it weighed most; else a plain "may need one"."""
        need = self.model.flag_need_weights
        praise = "praise" in post.cues
        out = []
        for family, reason in why.SIGNAL_REASONS:
            if praise and family == "problem":
                continue  # "great crew, the diverted flight was handled well": not a problem
            if family in post.cues and need.get(f"cue_{family}", 0.0) > 0.0:
                out.append(f"{reason}: {why.quote(post.phrases[family][0])}")
        if out:
            return out[:2]
        evidence = self._evidence(post, need_score)
        return [evidence] if evidence else ["may need an answer"]

    def _evidence(self, post: _Post, need_score: float) -> str | None:
        """The post's own words that point to a need most strongly: a two-word phrase, or a
        telling word, kept only if taking it out of the post lowers the need score (checked
        by scoring the post without it: one more feature extraction, for the posts no cue
        family explains)."""
        features = post.features
        tokens = features.tokens
        if not tokens:
            return None
        weights = self.model.word_weights(features).tolist()
        candidates: list[tuple[float, str]] = []
        for k, word in enumerate(tokens):
            if weights[k] <= 0.0:
                continue
            if not why.is_plain_word(word):
                candidates.append((weights[k], word))
            following = tokens[k + 1] if k + 1 < len(tokens) else ""
            if following and weights[k + 1] > 0.0 and why.is_telling_pair(word, following):
                candidates.append((weights[k] + weights[k + 1], f"{word} {following}"))
        if not candidates:
            return None
        _, phrase = max(candidates)
        if self._score_without(post, phrase) < need_score:
            return f"words that point to a need: {why.quote(phrase)}"
        return None

    def _score_without(self, post: _Post, phrase: str) -> float:
        removed = set(phrase.split())
        kept = " ".join(w for w in post.own.split() if w.strip(".,;:!?\"'()") not in removed)
        cues = {family: len(p) for family, p in found(kept).items()}
        features = feature_extraction.extract(kept, cues, post.context)
        return self.model.scores(features).needs_answer

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
    thread: Thread | None = None,
) -> Decision:
    """Triage one inbound post with the committed model (see ``Triage.decide``)."""
    return default_triage().decide(
        text,
        kind=kind,
        repeat_contact=repeat_contact,
        waited_seconds=waited_seconds,
        thread=thread,
    )
