"""Reading an ingest batch (JSON in the proto3 mapping, or binary protobuf) into ``Incoming``.

Both encodings pass the same pydantic validation, so a batch is accepted or refused for the
same reasons whatever its encoding; each error names the item and the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from google.protobuf.message import DecodeError
from pydantic import (
    AliasGenerator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from ecoute.v1 import ingest_pb2
from services.inbox.domain.messages import Incoming, normalise_text
from services.infra.platforms import Platform
from services.infra.strings import NO_NUL

# Postgres text cannot hold NUL: refuse it rather than lose data (services/infra/strings.py).
# (Lone surrogates never get this far: the JSON parser and protobuf's UTF-8 check both refuse
# them.)


AuthorId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)]
PlatformId = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)]
OptionalRef = Annotated[str, StringConstraints(max_length=512, pattern=NO_NUL)]
Handle = Annotated[str, StringConstraints(max_length=256, pattern=NO_NUL)]
DisplayName = Annotated[str, StringConstraints(max_length=512, pattern=NO_NUL)]
Body = Annotated[str, StringConstraints(max_length=40_000, pattern=NO_NUL)]


_MODEL_CONFIG = ConfigDict(
    extra="forbid",
    strict=True,
    frozen=True,
    alias_generator=AliasGenerator(validation_alias=to_camel),
    validate_by_name=True,
    validate_by_alias=True,
    loc_by_alias=False,
)


class AuthorIn(BaseModel):
    model_config = _MODEL_CONFIG

    external_id: AuthorId
    handle: Handle = ""
    display_name: DisplayName = ""


class MessageIn(BaseModel):
    model_config = _MODEL_CONFIG

    platform: Platform
    channel: Annotated[
        str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    ]
    external_id: PlatformId
    kind: Literal["mention", "dm", "comment", "reply"]
    direction: Literal["in", "out", ""] = ""
    author: AuthorIn
    text: Body = ""
    created_at: AwareDatetime
    in_reply_to: OptionalRef = ""
    thread_id: OptionalRef = ""
    lang: Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z0-9-]*$")] = ""
    # The platform holds it back from the public (YouTube's review, likely spam).
    held: bool = False
    raw: dict[str, Any] | None = None


class BatchIn(BaseModel):
    model_config = _MODEL_CONFIG

    messages: Annotated[list[MessageIn], Field(min_length=1)]


class BatchError(Exception):
    """A batch that cannot be accepted; ``errors`` name each item and field."""

    def __init__(
        self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []


def _pointer(location: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(part) for part in location)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "pointer": _pointer(tuple(e["loc"])),
            "detail": "contains a NUL character, which cannot be stored"
            if e["type"] == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") == NO_NUL
            else e["msg"],
        }
        for e in exc.errors(include_url=False, include_input=False)[:50]
    ]


def _raw_problem(raw: dict[str, Any] | None) -> str | None:
    """Why ``raw`` cannot be stored as JSON (a NUL, an integer beyond 64 bits), if it cannot."""
    if raw is None:
        return None
    try:
        encoded = orjson.dumps(raw)
    except TypeError:
        return "holds an integer beyond 64 bits, which cannot be stored"
    return "contains a NUL character" if b"\\u0000" in encoded else None


def _to_incoming(batch: BatchIn) -> list[Incoming]:
    out: list[Incoming] = []
    for i, m in enumerate(batch.messages):
        raw = m.raw
        problem = _raw_problem(raw)
        if problem is not None:
            raise BatchError(
                422,
                "Invalid batch",
                f"/messages/{i}/raw {problem}",
                [{"pointer": f"/messages/{i}/raw", "detail": problem}],
            )
        out.append(
            Incoming(
                platform=m.platform,
                channel=m.channel,
                external_id=m.external_id,
                kind=m.kind,
                direction=m.direction or "in",
                author_external_id=m.author.external_id,
                author_handle=m.author.handle,
                author_display_name=m.author.display_name,
                text=normalise_text(m.text),
                created_at=m.created_at.astimezone(UTC),
                in_reply_to=m.in_reply_to,
                thread_id=m.thread_id,
                lang=m.lang,
                held=m.held,
                raw=raw,
            )
        )
    return out


def _validated(make: Any, max_messages: int) -> list[Incoming]:
    try:
        batch: BatchIn = make()
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                raise BatchError(400, "Malformed JSON", error["msg"]) from None
        errors = _field_errors(exc)
        first = errors[0] if errors else {"pointer": "/", "detail": "invalid"}
        raise BatchError(
            422, "Invalid batch", f"{first['pointer']}: {first['detail']}", errors
        ) from None
    if len(batch.messages) > max_messages:
        raise BatchError(
            413,
            "Batch too large",
            f"{len(batch.messages)} messages; at most {max_messages} per batch.",
        )
    return _to_incoming(batch)


def parse_json(body: bytes, max_messages: int) -> list[Incoming]:
    """A JSON batch (proto3 JSON mapping) as ``Incoming`` messages, or ``BatchError``."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchError(400, "Body is not UTF-8", f"Invalid UTF-8 at byte {exc.start}.") from None
    return _validated(lambda: BatchIn.model_validate_json(body), max_messages)


def _timestamp(message: Any) -> datetime | None:
    if not message.HasField("created_at"):
        return None
    ts = message.created_at
    return datetime.fromtimestamp(ts.seconds, UTC).replace(microsecond=ts.nanos // 1000)


def parse_protobuf(body: bytes, max_messages: int) -> list[Incoming]:
    """A binary ``ecoute.v1.IngestBatch`` as ``Incoming`` messages, or ``BatchError``."""
    try:
        batch = ingest_pb2.IngestBatch.FromString(body)
    except DecodeError as exc:
        raise BatchError(
            400, "Malformed protobuf", f"Not an ecoute.v1.IngestBatch: {exc}"
        ) from None
    items: list[dict[str, Any]] = []
    for m in batch.messages:
        item: dict[str, Any] = {
            "platform": m.platform,
            "channel": m.channel,
            "external_id": m.external_id,
            "kind": m.kind,
            "direction": m.direction,
            "author": {
                "external_id": m.author.external_id,
                "handle": m.author.handle,
                "display_name": m.author.display_name,
            },
            "text": m.text,
            "in_reply_to": m.in_reply_to,
            "thread_id": m.thread_id,
            "lang": m.lang,
            "held": m.held,
        }
        created = _timestamp(m)
        if created is not None:
            item["created_at"] = created
        if m.HasField("raw"):
            from google.protobuf.json_format import MessageToDict

            item["raw"] = MessageToDict(m.raw)
        items.append(item)
    return _validated(lambda: BatchIn.model_validate({"messages": items}), max_messages)
