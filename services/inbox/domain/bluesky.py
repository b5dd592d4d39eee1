"""Bluesky (atproto) payloads as normalised messages, and the rules of its polling (pure).

- A notification (reason ``mention`` or ``reply``, record ``app.bsky.feed.post``) is one
  message keyed by the post's AT-URI; its thread is the reply root (else the post itself).
  A reply that also mentions the brand arrives only as a ``mention`` (mention > quote > reply)
  but still carries ``record.reply``, so it threads under its root all the same.
- A chat log ``#logCreateMessage`` is one DM keyed by the message id, threaded by convo.
- Facet offsets count UTF-8 *bytes*, not ``str`` positions: :func:`facet_spans` reads them,
  :func:`link_facets` writes them.
- Notifications have no "since": a poll pages back until a page was entirely indexed before
  the last high-water mark minus :data:`SCAN_MARGIN` (late indexing, back-dated posts).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.inbox.domain.messages import Incoming, normalise_text

POST = "app.bsky.feed.post"
REASONS = ("mention", "reply")
# How far below the newest item already seen a poll keeps scanning: the AppView can index a
# post late (its parent arrived after it) or sort it into the past (a back-dated createdAt).
SCAN_MARGIN = timedelta(minutes=10)
# A createdAt this much older than indexedAt is a back-dated post (an import), not a slow index:
# the brand saw it when it was indexed, so that is when its SLA clock starts.
BACKDATE_TOLERANCE = timedelta(hours=1)

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def parse_time(value: str) -> datetime:
    """An atproto datetime (RFC 3339 with a zone) as an aware UTC datetime; ValueError else."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("an atproto datetime needs a time zone")
    return parsed.astimezone(UTC)


def maybe_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def iso(moment: datetime) -> str:
    """The datetime format atproto writes: UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def written_at(created_at: datetime | None, indexed_at: datetime | None) -> datetime | None:
    """When the message counts as written: the client's ``createdAt``, unless it is in the
    future of the index (a fast clock) or back-dated beyond :data:`BACKDATE_TOLERANCE`;
    then the time the AppView indexed it (the earliest the brand could have seen it)."""
    if created_at is None or indexed_at is None:
        return created_at or indexed_at
    if created_at > indexed_at or indexed_at - created_at > BACKDATE_TOLERANCE:
        return indexed_at
    return created_at


# ----- facets (UTF-8 byte offsets) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FacetSpan:
    """One facet feature with the text it covers."""

    kind: str  # "mention" | "link" | "tag"
    text: str  # what the post shows there, e.g. "@acme.bsky.social"
    value: str  # the DID, the full URI or the tag
    byte_start: int
    byte_end: int


_FEATURE_VALUE = {"mention": "did", "link": "uri", "tag": "tag"}


def facet_spans(text: str, facets: Any) -> list[FacetSpan]:
    """The mentions, links and tags of a post, each with the text it covers.

    Offsets are UTF-8 byte offsets (start inclusive, end exclusive): slicing the ``str``
    instead would be off by three per emoji before the facet. Facets that point outside the
    text or split a character are skipped, as clients do.
    """
    data = text.encode("utf-8")
    spans: list[FacetSpan] = []
    for facet in facets if isinstance(facets, list) else []:
        index = facet.get("index") if isinstance(facet, dict) else None
        if not isinstance(index, dict):
            continue
        start, end = _offset(index.get("byteStart")), _offset(index.get("byteEnd"))
        if start is None or end is None or not start < end <= len(data):
            continue
        try:
            covered = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        for feature in facet.get("features") or []:
            if not isinstance(feature, dict):
                continue
            kind = str(feature.get("$type", "")).rpartition("#")[2]
            value = feature.get(_FEATURE_VALUE.get(kind, ""))
            if kind in _FEATURE_VALUE and isinstance(value, str):
                spans.append(FacetSpan(kind, covered, value, start, end))
    return spans


def _offset(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


_URL = re.compile(r"(?<![^\s(])https?://\S+")


def link_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for the URLs of a text we post (without them a URL is not clickable)."""
    facets: list[dict[str, Any]] = []
    for found in _URL.finditer(text):
        url = found.group().rstrip(".,;:!?)'\"")
        start = len(text[: found.start()].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(url.encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }
        )
    return facets


# ----- notifications -----------------------------------------------------------------------


def _ref_uri(reply: Any, part: str) -> str:
    ref = reply.get(part) if isinstance(reply, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return uri if isinstance(uri, str) else ""


def notification_message(note: Mapping[str, Any], channel: str, brand_did: str) -> Incoming | None:
    """A mention or reply notification as an ``Incoming`` message; None for anything else
    (likes, follows, quotes, unknown reasons, non-post records, malformed items)."""
    record = note.get("record")
    uri = note.get("uri")
    if note.get("reason") not in REASONS or not isinstance(uri, str) or not uri:
        return None
    if not isinstance(record, dict) or record.get("$type", POST) != POST:
        return None
    author = note.get("author")
    if not isinstance(author, dict):
        return None
    did = author.get("did")
    if not isinstance(did, str) or not did:
        return None
    created = written_at(maybe_time(record.get("createdAt")), maybe_time(note.get("indexedAt")))
    if created is None:
        return None
    reply = record.get("reply")
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    text = record.get("text")
    return Incoming(
        platform="bluesky",
        channel=channel,
        external_id=uri,
        kind=str(note["reason"]),
        direction="out" if did == brand_did else "in",
        author_external_id=did,
        author_handle=str(author.get("handle") or ""),
        author_display_name=str(author.get("displayName") or ""),
        text=normalise_text(text if isinstance(text, str) else ""),
        created_at=created,
        in_reply_to=_ref_uri(reply, "parent"),
        thread_id=_ref_uri(reply, "root") or uri,
        lang=lang,
        raw=dict(note),
    )


def indexed_at(note: Mapping[str, Any]) -> datetime | None:
    return maybe_time(note.get("indexedAt"))


def newest_indexed(
    notes: Iterable[Mapping[str, Any]], previous: datetime | None
) -> datetime | None:
    """The high-water mark after seeing ``notes``: it never moves backwards."""
    newest = previous
    for note in notes:
        when = indexed_at(note)
        if when is not None and (newest is None or when > newest):
            newest = when
    return newest


def page_is_older(notes: Iterable[Mapping[str, Any]], floor: datetime) -> bool:
    """True when every item of a page was indexed before ``floor``: the scan can stop.

    Pages are ordered by ``min(indexedAt, createdAt)``, so a freshly indexed back-dated post
    can sit among old ones; an item without a readable ``indexedAt`` keeps the scan going.
    """
    for note in notes:
        when = indexed_at(note)
        if when is None or when >= floor:
            return False
    return True


# ----- chat --------------------------------------------------------------------------------


def creates_message(entry: Any) -> bool:
    """A chat log entry that carries a new message with text (not a deletion, read, etc.)."""
    if not isinstance(entry, dict):
        return False
    if not str(entry.get("$type", "")).endswith("#logCreateMessage"):
        return False
    message = entry.get("message")
    return (
        isinstance(message, dict)
        and not str(message.get("$type", "")).endswith("#deletedMessageView")
        and isinstance(message.get("id"), str)
        and isinstance((message.get("sender") or {}).get("did"), str)
    )


def chat_message(
    entry: Mapping[str, Any],
    channel: str,
    brand_did: str,
    profiles: Mapping[str, tuple[str, str]],
) -> Incoming | None:
    """A ``#logCreateMessage`` as a DM: keyed by message id, threaded by convo; the brand's
    own messages (sent from the app or by us) are outbound. ``profiles`` maps a DID to its
    (handle, display name) when known."""
    if not creates_message(entry):
        return None
    message = entry["message"]
    sender = str(message["sender"]["did"])
    sent = maybe_time(message.get("sentAt"))
    convo = entry.get("convoId")
    if sent is None or not isinstance(convo, str) or not convo:
        return None
    handle, display_name = profiles.get(sender, ("", ""))
    text = message.get("text")
    return Incoming(
        platform="bluesky",
        channel=channel,
        external_id=str(message["id"]),
        kind="dm",
        direction="out" if sender == brand_did else "in",
        author_external_id=sender,
        author_handle=handle,
        author_display_name=display_name,
        text=normalise_text(text if isinstance(text, str) else ""),
        created_at=sent,
        thread_id=convo,
        raw=dict(entry),
    )


def own_message_in(
    messages: Iterable[Any], brand_did: str, text: str, answered_id: str
) -> tuple[dict[str, Any] | None, bool]:
    """Look through a convo's messages (newest first) for the brand's message with ``text``
    sent after the message it answers. Returns (the message or None, whether the answered
    message was reached: older messages cannot be our answer, so the search is over)."""
    wanted = normalise_text(text)
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("id") == answered_id:
            return None, True
        sender = (message.get("sender") or {}).get("did")
        body = message.get("text")
        if sender == brand_did and isinstance(body, str) and normalise_text(body) == wanted:
            return message, False
    return None, False


# ----- replies -----------------------------------------------------------------------------


def reply_refs(answered: Mapping[str, Any] | None, answered_uri: str) -> dict[str, Any] | None:
    """``reply: {root, parent}`` strongRefs for answering a stored notification.

    The parent is the answered post (its cid is in the stored notification); the root is the
    parent's own ``reply.root`` when it is itself a reply, else the parent. None when the
    stored payload does not name the post's cid (it was not ingested from a notification).
    """
    if not answered:
        return None
    uri, cid = answered.get("uri"), answered.get("cid")
    if not isinstance(cid, str) or not cid or uri != answered_uri:
        return None
    parent = {"uri": answered_uri, "cid": cid}
    record = answered.get("record")
    reply = record.get("reply") if isinstance(record, dict) else None
    root = reply.get("root") if isinstance(reply, dict) else None
    if (
        isinstance(root, dict)
        and isinstance(root.get("uri"), str)
        and isinstance(root.get("cid"), str)
    ):
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": parent}
    return {"root": parent, "parent": dict(parent)}


def record_key(reply_id: uuid.UUID, near: datetime | None = None) -> str:
    """A record key (TID syntax) derived from the reply id alone, so a resend after a crash
    names the same record and collides instead of posting twice.

    A TID is 64 bits in base32-sortable: top bit 0, 53 bits of microseconds, 10 bits of clock
    id. The microseconds are ``near`` (the answered post's time, so the key sorts like a
    normal one) plus up to ~1 s drawn from the reply id, and the clock id comes from it too:
    two replies to the same post get different keys (30 bits apart).
    """
    digest = int.from_bytes(hashlib.sha256(b"ecoute-reply:" + reply_id.bytes).digest()[:8], "big")
    base = int(near.timestamp() * 1_000_000) if near is not None else 0
    micros = (base + (digest >> 44)) & ((1 << 53) - 1)  # + 0..~1 s (20 bits)
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


_COLLISION_NAMES = {"RecordAlreadyExists", "AlreadyExists", "RecordExists", "Conflict"}
_COLLISION_TEXT = re.compile(r"already exists|already a value", re.IGNORECASE)


def is_record_collision(status: int, error: str, message: str) -> bool:
    """Did createRecord refuse our client-chosen rkey because the record exists already?

    The error name is not documented (platforms.md §7): accept 409, the plausible names, and
    the PDS's own words ("Record already exists", or the MST's "There is already a value at
    key" surfacing as a 500).
    """
    if status < 400:
        return False
    return status == 409 or error in _COLLISION_NAMES or bool(_COLLISION_TEXT.search(message))


# ----- rate limits -------------------------------------------------------------------------


def reset_at(value: str | None) -> datetime | None:
    """``RateLimit-Reset``: epoch seconds (``floor((now + msBeforeNext) / 1000)``)."""
    if not value:
        return None
    value = value.strip()
    if not re.fullmatch(r"\d+(\.\d+)?", value):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None
