"""The proto contracts: generated code is current, and the JSON fast path agrees with protobuf."""

from __future__ import annotations

import filecmp
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf import json_format

from ecoute.v1 import ingest_pb2
from services.inbox.ingest.request import BatchError, parse_json, parse_protobuf
from tools.gen_proto import ROOT, generate


def test_generated_code_is_current(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    committed = sorted((ROOT / "ecoute").rglob("*_pb2.py*"))
    assert [p.relative_to(tmp_path) for p in fresh] == [p.relative_to(ROOT) for p in committed]
    stale = [
        str(p.relative_to(tmp_path))
        for p in fresh
        if not filecmp.cmp(p, ROOT / p.relative_to(tmp_path), shallow=False)
    ]
    assert stale == [], f"run `make proto`: {stale} differ from proto/"


def test_generation_touches_only_what_protoc_made(tmp_path: Path) -> None:
    """Generated into the repository root, it once dropped __init__.py files into the
    virtual environment's own *_pb2 packages (breaking the ``google`` namespace)."""
    other = tmp_path / "site" / "google" / "protobuf"
    other.mkdir(parents=True)
    (other / "struct_pb2.py").write_text("")
    generate(tmp_path)
    assert not (tmp_path / "site" / "__init__.py").exists()
    assert not (tmp_path / "site" / "google" / "__init__.py").exists()
    assert (tmp_path / "ecoute" / "v1" / "__init__.py").exists()


DOCUMENTED_EXAMPLE = b"""{"messages": [{"platform": "x", "channel": "support-fr",
  "external_id": "1790", "kind": "mention", "author": {"external_id": "42", "handle": "jane"},
  "text": "ma box ne marche plus \xf0\x9f\x98\xa1", "created_at": "2026-11-21T10:00:00Z"}]}"""


@pytest.mark.parametrize(
    "body",
    [
        DOCUMENTED_EXAMPLE,
        b"""{"messages": [{"platform": "bluesky", "channel": "sky", "externalId": "at://a/b/c",
      "kind": "reply", "direction": "in", "author": {"externalId": "did:plc:1",
      "displayName": "Ann"}, "text": "x", "createdAt": "2026-11-21T10:00:00.123456+02:00",
      "inReplyTo": "at://a/b/0", "threadId": "at://a/b/root", "lang": "fr"}]}""",
    ],
)
def test_json_and_protobuf_encodings_give_the_same_messages(body: bytes) -> None:
    """A producer may send either encoding of the contract and get the same result."""
    via_json = parse_json(body, 10)
    proto = json_format.Parse(body.decode(), ingest_pb2.IngestBatch())
    via_protobuf = parse_protobuf(proto.SerializeToString(), 10)
    assert via_json == via_protobuf


def test_the_documented_example_is_read_as_written() -> None:
    (m,) = parse_json(DOCUMENTED_EXAMPLE, 10)
    assert (m.platform, m.channel, m.external_id, m.kind, m.direction) == (
        "x",
        "support-fr",
        "1790",
        "mention",
        "in",
    )
    assert (m.author_external_id, m.author_handle) == ("42", "jane")
    assert m.created_at == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert m.text.endswith("😡")


def test_protobuf_without_a_timestamp_names_the_field() -> None:
    batch = ingest_pb2.IngestBatch()
    item = batch.messages.add(platform="x", channel="c", external_id="1", kind="dm")
    item.author.external_id = "9"
    with pytest.raises(BatchError) as refused:
        parse_protobuf(batch.SerializeToString(), 10)
    assert refused.value.status == 422
    assert refused.value.errors[0]["pointer"] == "/messages/0/created_at"


def test_garbage_is_not_a_protobuf_batch() -> None:
    with pytest.raises(BatchError) as refused:
        parse_protobuf(b"\xff\xff\xff\xff", 10)
    assert refused.value.status == 400
