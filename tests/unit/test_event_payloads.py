"""An event's payload is read only when it names its envelope's workspace."""

from __future__ import annotations

import uuid

import pytest

from ecoute.v1 import events_pb2
from services.infra.events import Event, read_payload

HERS = uuid.UUID("00000000-0000-0000-0000-00000000000a")
OTHER = uuid.UUID("00000000-0000-0000-0000-00000000000b")
KINDS = [events_pb2.MessageIngested, events_pb2.ErasureDone, events_pb2.ModerationSettled]


def _event(payload: bytes) -> Event:
    return Event(id=1, topic="t", workspace_id=HERS, payload=payload, attempts=0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_payload_naming_its_envelopes_workspace_is_read(kind: type) -> None:
    sent = kind(workspace_id=str(HERS))
    assert read_payload(_event(sent.SerializeToString()), kind) == sent


@pytest.mark.parametrize("kind", KINDS)
def test_a_payload_naming_another_workspace_is_refused(kind: type) -> None:
    forged = kind(workspace_id=str(OTHER)).SerializeToString()
    with pytest.raises(ValueError, match="does not match its envelope"):
        read_payload(_event(forged), kind)
