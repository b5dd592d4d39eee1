"""What the inbox's event payloads share: timestamps built the one cheap way."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp, built directly (``FromDatetime`` costs a calendar conversion)."""
    return Timestamp(seconds=int(moment.timestamp() // 1), nanos=moment.microsecond * 1000)
