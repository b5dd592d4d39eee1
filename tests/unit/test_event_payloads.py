"""A consumer acts on an event's payload only in the workspace its envelope names."""

from __future__ import annotations

import uuid

import pytest

from ecoute.v1 import events_pb2
from services.infra.event_payloads import read_payload
from services.infra.events import Event

WORKSPACE = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _event(payload_workspace: str) -> Event:
    payload = events_pb2.ConversationsPurged(
        workspace_id=payload_workspace, conversation_ids=[7, 9]
    ).SerializeToString()
    return Event(1, "privacy.conversations_purged", WORKSPACE, payload, 0)


def test_the_payload_of_the_envelopes_workspace_is_read() -> None:
    purged = read_payload(_event(str(WORKSPACE)), events_pb2.ConversationsPurged.FromString)
    assert list(purged.conversation_ids) == [7, 9]


def test_a_payload_naming_another_workspace_is_refused() -> None:
    other = _event("00000000-0000-4000-8000-000000000002")
    with pytest.raises(ValueError, match="envelope"):
        read_payload(other, events_pb2.ConversationsPurged.FromString)
