"""The shapes of people's API: a person as the desk's panel shows them, and what agents add."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import Out
from services.infra.platforms import Platform
from services.triage.domain.conversation import Status

MAX_NOTE = 1000
MAX_REF = 200
NOT_BLANK = r"\S"  # something besides spaces
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"


class PersonLinkIn(BaseModel):
    """Another identity of the same person: its platform, and its handle or platform id."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    handle: Annotated[str, Field(max_length=MAX_REF, pattern=ONE_LINE)] = ""
    author_id: Annotated[str, Field(max_length=MAX_REF, pattern=ONE_LINE)] = ""


class PersonNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=MAX_NOTE, pattern=NOT_BLANK)]


class PersonLinkOut(Out):
    id: int
    linked_by: str | None  # the agent's name
    linked_at: datetime


class PersonIdentityOut(Out):
    platform: Platform
    author_id: str
    handle: str
    display_name: str
    link: PersonLinkOut | None  # None: the identity the person was opened from


class PersonConversationOut(Out):
    id: int
    platform: Platform
    channel: str
    kind: str
    status: Status
    started_at: datetime
    last_at: datetime
    first_line: str


class PersonNoteOut(Out):
    id: int
    text: str
    author_name: str | None
    created_at: datetime


class PersonOut(Out):
    platform: Platform
    author_id: str
    identities: list[PersonIdentityOut]
    conversations: list[PersonConversationOut]  # the latest activity first, at most 50
    notes: list[PersonNoteOut]  # the newest first, at most 100


class PersonLinkMadeOut(Out):
    id: int
    person: PersonOut


class PersonNoteMadeOut(Out):
    id: int
    person: PersonOut
