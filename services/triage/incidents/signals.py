"""A signal: what the incident detector keeps of one message worth watching.

The consumer writes a signal (``store.insert_signals``) in the transaction that stores a
triaged inbound message that needs an answer or is abusive, so the window is exactly what was
triaged; the detector reads the window and the baseline through ``store`` and prunes what is
older than any baseline.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.triage.domain import incidents


def signal_row(
    workspace_id: uuid.UUID,
    message_id: int,
    conversation_id: int,
    *,
    text_: str,
    handle: str,
    platform: str,
    language: str,
    abuse: bool,
    at: datetime,
) -> dict[str, Any]:
    """The row for one message: its sketch and terms are computed here, once."""
    words = incidents.terms(text_)
    return {
        "w": str(workspace_id),
        "m": message_id,
        "c": conversation_id,
        "author": incidents.author_key(text_, handle),
        "platform": platform,
        "language": language,
        "abuse": abuse,
        "at": at,
        "sketch": list(incidents.sketch_of_terms(words)),
        "terms": list(words[:40]),
    }
