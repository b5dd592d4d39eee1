"""Reading an event's payload: the one check every consumer makes before acting on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from services.infra.events import Event


class NamesWorkspace(Protocol):
    @property
    def workspace_id(self) -> str: ...


P = TypeVar("P", bound=NamesWorkspace)


def read_payload(event: Event, parse: Callable[[bytes], P]) -> P:
    """``event``'s payload parsed by ``parse`` (a message's ``FromString``). A payload that
    names another workspace than its envelope is refused (ValueError): a consumer acts in
    the envelope's workspace only, the one its claim and statements name."""
    payload = parse(event.payload)
    if payload.workspace_id != str(event.workspace_id):
        raise ValueError("event workspace does not match its envelope")
    return payload
