"""The shapes of tags' API: a tag as created and as shown on a conversation."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import Out

MAX_NAME = 40
ONE_LINE = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
Colour = Literal["grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"]
"""The desk's palette: a lead picks a name the desk can show legibly, never a raw colour."""
COLOURS: tuple[str, ...] = get_args(Colour)


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # One line, not blank: no control characters, something besides spaces.
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=ONE_LINE)]
    colour: Colour = "grey"


class TagOut(Out):
    id: int
    name: str
    colour: Colour


class TagsOut(Out):
    items: list[TagOut]


class TaggedOut(Out):
    """A conversation's tags after a change."""

    conversation_id: int
    tags: list[TagOut]


class TagDeletedOut(Out):
    id: int
    untagged: int  # conversations that carried it
