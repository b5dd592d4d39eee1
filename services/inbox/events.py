"""Payloads of the inbox's events: ``message.ingested``, and the timestamps they all carry."""

from __future__ import annotations

import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from ecoute.v1 import events_pb2, message_pb2
from services.inbox.domain.batch import NewMessage
from services.infra.events import timestamp


def message_ingested(
    workspace_id: uuid.UUID,
    message_id: int,
    conversation_id: int,
    author_id: int,
    new: NewMessage,
    received: Timestamp,
) -> bytes:
    """The ``message.ingested`` payload of a message just stored."""
    m = new.message
    event = events_pb2.MessageIngested(
        workspace_id=str(workspace_id),
        message_id=message_id,
        conversation_id=conversation_id,
        channel_id=new.channel_id,
        author_id=author_id,
        message=message_pb2.NormalizedMessage(
            platform=m.platform,
            channel=m.channel,
            external_id=m.external_id,
            kind=m.kind,
            direction=m.direction,
            author=message_pb2.Author(
                external_id=m.author_external_id,
                handle=m.author_handle,
                display_name=m.author_display_name,
            ),
            text=m.text,
            created_at=timestamp(m.created_at),
            in_reply_to=m.in_reply_to,
            thread_id=m.thread_id,
            lang=m.lang,
            held=m.held,
        ),
        received_at=received,
    )
    return bytes(event.SerializeToString())
