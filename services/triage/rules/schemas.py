"""The shapes of rules' API: conditions (``when``) and actions (``then``) as a lead writes
them; a value outside its set is a 422 naming the field (``/then/0/set_priority/priority``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.infra.http import Out
from services.infra.platforms import Platform
from services.infra.strings import NO_NUL
from services.triage.domain.conversation import Priority
from services.triage.domain.model import Intent
from services.triage.tags.schemas import ONE_LINE

MAX_NAME = 80
MAX_WORDS = 200
MAX_ACTIONS = 10
Language = Literal["fr", "en", "other"]
Channel = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Word = Annotated[str, Field(min_length=1, max_length=100, pattern=ONE_LINE)]
Reason = Annotated[str, Field(min_length=1, max_length=200, pattern=ONE_LINE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhenIn(_Strict):
    """Every condition given must hold; one left out does not constrain."""

    intents: Annotated[list[Intent], Field(max_length=20)] = []
    languages: Annotated[list[Language], Field(max_length=3)] = []
    platforms: Annotated[list[Platform], Field(max_length=20)] = []
    channels: Annotated[list[Channel], Field(max_length=100)] = []
    priorities: Annotated[list[Priority], Field(max_length=4)] = []
    abuse: bool | None = None
    words: Annotated[list[Word], Field(max_length=MAX_WORDS)] = []
    author_seen_before: bool | None = None
    in_incident: bool | None = None


class TagAction(_Strict):
    kind: Literal["tag"]
    tag_id: Annotated[int, Field(ge=1, le=2**63 - 1)]


class PriorityAction(_Strict):
    kind: Literal["set_priority"]
    priority: Priority


class RouteAction(_Strict):
    """To agents with this skill (a language, a channel, or both)."""

    kind: Literal["route"]
    language: Language | None = None
    channel: Channel | None = None

    @model_validator(mode="after")
    def _some_skill(self) -> RouteAction:
        if self.language is None and self.channel is None:
            raise ValueError("name a language or a channel")
        return self


class CloseAction(_Strict):
    kind: Literal["close"]
    reason: Reason


class AbuseAction(_Strict):
    kind: Literal["mark_abuse"]
    hide: bool = False


class NotifyAction(_Strict):
    kind: Literal["notify"]


ActionIn = Annotated[
    TagAction | PriorityAction | RouteAction | CloseAction | AbuseAction | NotifyAction,
    Field(discriminator="kind"),
]


class RuleIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=ONE_LINE)]
    position: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    enabled: bool = True
    when: WhenIn = WhenIn()
    then: Annotated[list[ActionIn], Field(min_length=1, max_length=MAX_ACTIONS)]


class RuleOut(Out):
    id: int
    name: str
    position: int
    enabled: bool
    when: dict[str, Any]
    then: list[dict[str, Any]]


class RulesOut(Out):
    items: list[RuleOut]


class RuleDeletedOut(Out):
    id: int
