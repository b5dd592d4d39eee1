"""What a lead may do to incidents by hand (merge, split, close, reopen), decided on plain data.

The desk's shell locks the rows, asks here whether the change makes sense, and writes it.
A refusal says why, with the HTTP status that fits: 409 when the incidents' state forbids it
(merging into a closed incident), 422 when the request itself cannot be right (merging an
incident into itself, splitting off conversations that are not in it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.triage.domain.incidents import Member


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures an incident shows, recomputed from its members after a merge or split."""

    message_count: int
    author_count: int
    platforms: tuple[str, ...]
    languages: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class IncidentState:
    id: int
    kind: str
    status: str
    close_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    detail: str
    pointer: str | None = None


def summarise(members: Sequence[Member]) -> Summary:
    """Counts and spans of a set of members, as the detector counts them when an incident
    grows: every message, and each author once (a flooding author is one person)."""
    return Summary(
        message_count=len(members),
        author_count=len({m.author for m in members}),
        platforms=tuple(sorted({m.platform for m in members})),
        languages=tuple(sorted({m.language for m in members})),
        first_seen=min((m.at for m in members), default=None),
        last_seen=max((m.at for m in members), default=None),
    )


def merge_refusal(target: IncidentState, source: IncidentState) -> Refusal | None:
    """Why ``source`` cannot be merged into ``target``, or None."""
    if target.id == source.id:
        return Refusal(422, "An incident cannot be merged into itself.", "/incident_id")
    if target.status != "open":
        return Refusal(409, f"Incident {target.id} is closed: reopen it before merging into it.")
    if source.close_reason == "merged":
        return Refusal(409, f"Incident {source.id} was already merged into another incident.")
    if target.kind != source.kind:
        return Refusal(
            409,
            f"Incident {source.id} is a {source.kind} incident and {target.id} a {target.kind} "
            "one: they are answered differently and cannot be merged.",
        )
    return None


def split_refusal(
    incident: IncidentState, conversations: Collection[int], chosen: Collection[int]
) -> Refusal | None:
    """Why ``chosen`` conversations cannot move out of the incident to a new one, or None."""
    if incident.status != "open":
        return Refusal(409, f"Incident {incident.id} is closed: reopen it before splitting it.")
    if not chosen:
        return Refusal(422, "Choose at least one conversation to split off.", "/conversation_ids")
    strangers = sorted(set(chosen) - set(conversations))
    if strangers:
        return Refusal(
            422,
            f"Conversation {strangers[0]} is not part of incident {incident.id}.",
            "/conversation_ids",
        )
    if set(conversations) <= set(chosen):
        return Refusal(
            409,
            "Splitting off every conversation would leave the incident empty: close it or "
            "keep at least one conversation.",
        )
    return None


def close_refusal(incident: IncidentState) -> Refusal | None:
    if incident.status == "closed":
        return Refusal(409, f"Incident {incident.id} is already closed.")
    return None


def reopen_refusal(incident: IncidentState) -> Refusal | None:
    if incident.close_reason == "merged":
        return Refusal(
            409, f"Incident {incident.id} was merged into another incident: reopen that one."
        )
    if incident.status == "open":
        return Refusal(409, f"Incident {incident.id} is already open.")
    return None


def split_label(label: str, chosen: int) -> str:
    """A default label for the split-off part, until the lead names it."""
    return f"{label} (split, {chosen} conversation{'s' if chosen != 1 else ''})"
