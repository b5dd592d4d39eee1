"""The fakes driven by the platforms' own clients, so a fake cannot drift from the real wire.

Each test serves a fake on a real local port and runs the official (synchronous) client in a
thread against it: the ``atproto`` SDK, whose generated models from the official lexicons
validate every answer (strict: a missing required field fails); ``Mastodon.py``, whose entity
definitions list the attributes Mastodon always sends; ``tweepy`` (X API v2), pointed at the fake
by a transport adapter that only swaps the host, so every request still travels over HTTP; and
X's own ``xdk``, generated from X's OpenAPI document (``post.fields``).
docs/platforms/*.md say which endpoints and fields these tests pin.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import mastodon.return_types
import pytest
import requests
import tweepy
from atproto import Client as AtprotoClient
from atproto import models
from atproto_client.exceptions import ModelError, RequestException
from mastodon import Mastodon, MastodonRatelimitError
from requests.adapters import HTTPAdapter
from xdk import Client as XdkClient
from xdk.direct_messages.client import DirectMessagesClient
from xdk.users.client import UsersClient

from fakes.bluesky import POST, BlueskyState
from fakes.clock import ManualClock
from fakes.mastodon import MastodonState
from fakes.x import XState, XUser
from services.inbox.connectors import x as x_connector
from tests.fakes import serve

JANE = "did:plc:abc123"


def now_clock() -> ManualClock:
    """Real time, to the second: the SDKs compare token expiry with their own clock."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


async def origin_of(aiohttp_client: Any, state: Any) -> str:
    """The fake over ``state`` on a real local port: ``http://127.0.0.1:PORT``."""
    client = await serve(aiohttp_client, state)
    return str(client.make_url("")).rstrip("/")


# ----- Bluesky: the atproto SDK --------------------------------------------------------------


def bluesky_world() -> tuple[BlueskyState, str]:
    state = BlueskyState(clock=now_clock())
    mention = state.add_mention(JANE, "jane.bsky.social", "my order #4411 is late", state.clock())
    state.add_dm(JANE, "jane.bsky.social", "Hi, my card was charged twice")
    return state, mention.uri


def atproto_login(origin: str, state: BlueskyState) -> AtprotoClient:
    client = AtprotoClient(base_url=origin)
    client.login(state.handle, state.password, fetch_bsky_profile=False)
    return client


def bluesky_conversation(origin: str, state: BlueskyState, mention_uri: str) -> dict[str, Any]:
    """What the connector does, through the SDK: read, answer with a chosen rkey, look it up."""
    client = atproto_login(origin, state)
    chat = client.with_bsky_chat_proxy()
    try:
        seen: dict[str, Any] = {"base_url": client._base_url}
        notes = client.app.bsky.notification.list_notifications()
        note = notes.notifications[0]
        seen["notification"] = (note.reason, note.author.handle, note.uri, notes.cursor)
        author, _, rkey = mention_uri.removeprefix("at://").partition(f"/{POST}/")
        post = client.app.bsky.feed.post.get(author, rkey)
        seen["post"] = post.value.text
        parent = models.ComAtprotoRepoStrongRef.Main(uri=post.uri, cid=post.cid or "")
        reply = models.AppBskyFeedPost.Record(
            text="Sorry Jane, we are on it",
            created_at=client.get_current_time_iso(),
            reply=models.AppBskyFeedPost.ReplyRef(root=parent, parent=parent),
        )
        create = models.ComAtprotoRepoCreateRecord.Data(
            repo=state.did, collection=POST, record=reply, rkey="3kreplyrkey22"
        )
        created = client.com.atproto.repo.create_record(create)
        seen["created"] = created.uri
        try:
            client.com.atproto.repo.create_record(create)
        except RequestException as exc:  # the same key again: the PDS's bare 500
            seen["again"] = exc.response.status_code if exc.response else None
        params = models.ComAtprotoRepoGetRecord.Params(
            repo=state.did, collection=POST, rkey="3kreplyrkey22"
        )
        seen["stored"] = client.com.atproto.repo.get_record(params).value.text
        log = chat.chat.bsky.convo.get_log()
        seen["log"] = [entry.py_type for entry in log.logs]
        convo_id = log.logs[0].convo_id
        text = models.ChatBskyConvoDefs.MessageInput(text="Refund on its way")
        sent = chat.chat.bsky.convo.send_message(
            models.ChatBskyConvoSendMessage.Data(convo_id=convo_id, message=text)
        )
        later = chat.chat.bsky.convo.get_log(models.ChatBskyConvoGetLog.Params(cursor=log.cursor))
        seen["sent"] = (sent.sender.did, [e.message.text for e in later.logs])
        return seen
    finally:
        chat.request.close()
        client.request.close()


async def test_atproto_sdk_reads_and_answers_bluesky_through_the_fake(aiohttp_client: Any) -> None:
    state, mention_uri = bluesky_world()
    origin = await origin_of(aiohttp_client, state)
    seen = await asyncio.to_thread(bluesky_conversation, origin, state, mention_uri)

    # The session's didDoc names the fake as the account's PDS: the SDK moves there and stays.
    assert seen["base_url"] == f"{origin}/xrpc"
    reason, handle, uri, cursor = seen["notification"]
    assert (reason, handle, uri) == ("mention", "jane.bsky.social", mention_uri) and cursor
    assert seen["post"] == "@acme.bsky.social my order #4411 is late"
    assert seen["created"] == f"at://{state.did}/{POST}/3kreplyrkey22"
    assert seen["again"] == 500 and state.created_count == 1
    assert seen["stored"] == "Sorry Jane, we are on it"
    assert seen["log"] == [
        "chat.bsky.convo.defs#logBeginConvo",
        "chat.bsky.convo.defs#logCreateMessage",
    ]
    assert seen["sent"] == (state.did, ["Refund on its way"])
    chat_calls = [r for r in state.request_log if "/xrpc/chat.bsky." in r]
    assert len(chat_calls) == 3  # all through the proxy header (the fake refuses them without)


def read_twice(origin: str, state: BlueskyState) -> list[str]:
    """Two reads with an access token the SDK deems stale (it refreshes 15 minutes early)."""
    client = atproto_login(origin, state)
    try:
        return [
            client.app.bsky.notification.list_notifications().notifications[0].reason
            for _ in range(2)
        ]
    finally:
        client.request.close()


async def test_atproto_sdk_rotates_refresh_tokens_with_the_fake(aiohttp_client: Any) -> None:
    """Each refresh answers a new pair and revokes the old refresh token: the SDK keeps up."""
    state, _ = bluesky_world()
    state.access_ttl = timedelta(minutes=10)
    origin = await origin_of(aiohttp_client, state)
    reasons = await asyncio.to_thread(read_twice, origin, state)
    assert reasons == ["mention", "mention"]
    refreshes = [r for r in state.request_log if r.endswith("server.refreshSession")]
    assert len(refreshes) == 2 and state.sessions_created == 1
    assert sum(1 for t in state.refresh_tokens.values() if t.next_token is not None) == 2


def read_notifications(origin: str, state: BlueskyState) -> None:
    client = atproto_login(origin, state)
    try:
        client.app.bsky.notification.list_notifications()
    finally:
        client.request.close()


async def test_atproto_models_refuse_a_notification_without_a_required_field(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lexicon's ``notification`` requires ``indexedAt``: the SDK's check is live."""
    state, _ = bluesky_world()
    full = BlueskyState.notification_view

    def without_indexed_at(self: BlueskyState, note: Any) -> dict[str, Any]:
        return {k: v for k, v in full(self, note).items() if k != "indexedAt"}

    monkeypatch.setattr(BlueskyState, "notification_view", without_indexed_at)
    origin = await origin_of(aiohttp_client, state)
    with pytest.raises(ModelError, match=r"indexed_at|indexedAt"):
        await asyncio.to_thread(read_notifications, origin, state)


# ----- Mastodon: Mastodon.py -------------------------------------------------------------------

MASTODON_VERSION = (4, 3, 0)
"""The fake answers as Mastodon 4.3 (notifications carry ``group_key``)."""
NOT_ON_EVERY_ACCOUNT = frozenset({"mute_expires_at"})  # a MutedAccount attribute (/api/v1/mutes)


@cache
def always_sent(entity: str) -> frozenset[str]:
    """The attributes Mastodon.py's ``return_types`` document for ``entity`` as always sent
    (possibly null) by ``MASTODON_VERSION``: not "(optional)", added at or before it."""
    tree = ast.parse(inspect.getsource(mastodon.return_types))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == entity)
    names = set()
    for field, doc in zip(cls.body, cls.body[1:], strict=False):
        if not (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)):
            continue
        text = doc.value.value if isinstance(doc, ast.Expr) else ""
        added = re.search(r"\*\s*([\d.]+):\s*added", str(text))
        version = tuple(int(p) for p in added.group(1).split(".")) if added else (0,)
        if "(optional" not in str(text) and version <= MASTODON_VERSION:
            names.add(field.target.id)
    return frozenset(names - NOT_ON_EVERY_ACCOUNT)


def missing(entity: str, value: dict[str, Any]) -> set[str]:
    return set(always_sent(entity) - value.keys())


def mastodon_api(origin: str, session: requests.Session, **options: Any) -> Mastodon:
    """Mastodon.py on the fake; no version check (the fake serves no /api/v1/instance)."""
    return Mastodon(
        access_token="mastodon-test-token",
        api_base_url=origin,
        version_check_mode="none",
        session=session,
        **options,
    )


def mastodon_conversation(origin: str) -> dict[str, Any]:
    """Credentials, a paged mention feed, an idempotent reply and its lookup, via Mastodon.py."""
    session = requests.Session()
    api = mastodon_api(origin, session)
    try:
        seen: dict[str, Any] = {"me": api.account_verify_credentials()}
        first = api.notifications(types=["mention"], limit=2)
        older = api.fetch_next(first)
        back = api.fetch_previous(older)
        seen["pages"] = [[n.id for n in page] for page in (first, older, back)]
        seen["newer"] = [n.id for n in api.notifications(min_id=older[-1].id, limit=2)]
        past_the_end = api.fetch_next(api.notifications(types=["mention"], limit=40))
        seen["end"] = (list(past_the_end or []), api.fetch_next(past_the_end))
        question = first[0].status
        answer = api.status_post(
            "@jane@example.social sorry, on it",
            in_reply_to_id=question.id,
            visibility="direct",
            idempotency_key="reply-1",
        )
        again = api.status_post(
            "@jane@example.social sorry, on it",
            in_reply_to_id=question.id,
            visibility="direct",
            idempotency_key="reply-1",
        )
        seen.update(note=first[0], question=question, answer=answer, again=again.id)
        seen["looked_up"] = api.status(answer.id)
        return seen
    finally:
        session.close()


async def test_mastodon_py_reads_and_answers_through_the_fake(aiohttp_client: Any) -> None:
    state = MastodonState(clock=now_clock())
    start = state.clock() - timedelta(minutes=10)
    ids = [
        state.add_mention(
            "jane@example.social",
            f"<p>order {n} is late</p>",
            start + timedelta(minutes=n),
            visibility="direct",
        )
        for n in range(5)
    ]
    notes = [i.notification_id for i in ids]
    origin = await origin_of(aiohttp_client, state)
    seen = await asyncio.to_thread(mastodon_conversation, origin)

    assert seen["me"].acct == "acme" and not missing("Account", seen["me"])
    # Newest first; Link rel="next" (max_id) pages older, rel="prev" (min_id) comes back.
    assert seen["pages"] == [notes[:2:-1][:2], notes[2:0:-1], notes[:2:-1][:2]]
    assert seen["newer"] == [notes[3], notes[2]]  # min_id: the page just above, newest first
    assert seen["end"] == ([], None)  # an empty page has no Link header: nothing further
    note, question, answer = seen["note"], seen["question"], seen["answer"]
    assert not missing("Notification", note) and note.type == "mention"
    for status in (question, answer, seen["looked_up"]):
        assert not missing("Status", status) and not missing("Account", status.account)
        assert all(not missing("StatusMention", m) for m in status.mentions)
    assert question.account.acct == "jane@example.social" and question.visibility == "direct"
    assert str(answer.in_reply_to_id) == str(question.id) and answer.visibility == "direct"
    assert seen["again"] == answer.id and state.created_count == 1  # Idempotency-Key honoured
    assert seen["looked_up"].id == answer.id and "sorry, on it" in seen["looked_up"].content


def hit_the_limit(origin: str) -> tuple[str, Mastodon]:
    session = requests.Session()
    api = mastodon_api(origin, session, ratelimit_method="throw")
    try:
        api.notifications()
    except MastodonRatelimitError as exc:
        return str(exc), api
    finally:
        session.close()
    return "no error", api


async def test_mastodon_py_reads_the_fakes_rate_limit_headers(aiohttp_client: Any) -> None:
    """``X-RateLimit-*`` as Mastodon sends them (ISO 8601 reset): the client knows when to retry."""
    state = MastodonState(clock=now_clock())
    state.rate_limit_next(1, reset_in_seconds=120)
    origin = await origin_of(aiohttp_client, state)
    error, api = await asyncio.to_thread(hit_the_limit, origin)
    assert error != "no error"
    assert (api.ratelimit_limit, api.ratelimit_remaining) == (300, 0)
    reset = (state.clock() + timedelta(seconds=120)).timestamp()
    assert abs(api.ratelimit_reset - reset) < 5  # Mastodon.py shifts it by the Date header's skew


def test_the_mastodon_entity_check_finds_a_missing_attribute() -> None:
    """The schema check can fail: an Account without ``created_at`` is caught."""
    account = MastodonState().account_json("14715")
    assert missing("Account", account) == set()
    del account["created_at"]
    assert missing("Account", account) == {"created_at"}
    assert {"id", "type", "created_at", "account", "group_key"} <= always_sent("Notification")


# ----- X: tweepy (API v2) ----------------------------------------------------------------------


def x_world() -> tuple[XState, XUser, str]:
    """Jane mentions the brand, then writes to it in DM; returns the state, Jane, the mention."""
    state = XState(clock=now_clock())
    jane = state.add_user("jane", "Jane Doe")
    asked = state.clock() - timedelta(minutes=5)
    mention = state.add_mention("jane", "@AcmeSupport my order #4411 is late", asked)
    state.add_dm("jane", "Hi, my card was charged twice", asked + timedelta(minutes=1))
    return state, jane, mention


class ToFake(HTTPAdapter):
    """Sends tweepy's requests to the fake: only the origin changes, the HTTP is real."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = self.origin + str(request.url).removeprefix("https://api.twitter.com")
        return super().send(request, **kwargs)


def fields(csv: str) -> list[str]:
    return csv.split(",")


def x_conversation(origin: str, state: XState, mention_id: str, jane_id: str) -> dict[str, Any]:
    """The connector's field lists through tweepy: mentions, a reply, DM events, a DM."""
    client = tweepy.Client(state.bearer_token)  # an OAuth 2.0 user-context token is a Bearer
    client.session.mount("https://api.twitter.com", ToFake(origin))
    call: Callable[..., Any]
    try:
        call = client.get_users_mentions
        mentions = call(
            state.user_id,
            max_results=5,
            tweet_fields=fields(x_connector.TWEET_FIELDS),
            expansions=["author_id"],
            user_fields=["username", "name"],
            user_auth=False,
        )
        reply = client.create_tweet(
            text="@jane sorry, on it", in_reply_to_tweet_id=mention_id, user_auth=False
        )
        events = client.get_direct_message_events(
            max_results=5,
            dm_event_fields=fields(x_connector.DM_FIELDS),
            event_types="MessageCreate",
            expansions=["sender_id"],
            user_fields=["username", "name"],
            user_auth=False,
        )
        dm = client.create_direct_message(
            participant_id=jane_id, text="Refund on its way", user_auth=False
        )
        return {"mentions": mentions, "reply": reply, "events": events, "dm": dm}
    finally:
        client.session.close()


async def test_tweepy_reads_and_answers_x_through_the_fake(aiohttp_client: Any) -> None:
    state, jane, mention = x_world()
    origin = await origin_of(aiohttp_client, state)
    seen = await asyncio.to_thread(x_conversation, origin, state, mention, jane.id)

    mentions, events = seen["mentions"], seen["events"]
    [tweet] = mentions.data
    assert (tweet.id, tweet.author_id, tweet.conversation_id) == (
        int(mention),
        int(jane.id),
        int(mention),
    )
    assert tweet.created_at is not None and tweet.edit_history_tweet_ids == [int(mention)]
    assert [u.username for u in mentions.includes["users"]] == ["jane"]
    assert mentions.meta["newest_id"] == mention and "next_token" not in mentions.meta
    [sent] = state.sent_posts
    assert seen["reply"].data["id"] == sent.id and sent.in_reply_to_tweet_id == mention
    [event] = events.data
    assert (event.event_type, event.sender_id, event.text) == (
        "MessageCreate",
        int(jane.id),
        "Hi, my card was charged twice",
    )
    assert event.dm_conversation_id == f"{jane.id}-{state.user_id}"
    assert [u.username for u in events.includes["users"]] == ["jane"]
    assert seen["dm"].data["dm_conversation_id"] == event.dm_conversation_id
    assert [dm.text for dm in state.sent_dms] == ["Refund on its way"]
    # tweepy names the field parameters as the connector does (not post.fields).
    assert any("tweet.fields=" in r for r in state.requests)


def xdk_reads(origin: str, state: XState) -> tuple[Any, Any]:
    """X's own SDK, generated from its OpenAPI document: it names the parameter ``post.fields``."""
    client = XdkClient(base_url=origin, access_token=state.bearer_token)
    try:
        mentions = client.users.get_mentions(
            state.user_id,
            max_results=5,
            post_fields=fields(x_connector.TWEET_FIELDS),
            expansions=["author_id"],
            user_fields=["username", "name"],
        )
        events = client.direct_messages.get_events(
            max_results=5,
            dm_event_fields=fields(x_connector.DM_FIELDS),
            event_types=["MessageCreate"],
            expansions=["sender_id"],
            user_fields=["username", "name"],
        )
        return next(iter(mentions)), next(iter(events))
    finally:
        client.session.close()


def openapi_values(method: Callable[..., Any], parameter: str) -> set[str]:
    """The values X's OpenAPI document allows for ``parameter``, as ``xdk`` types them."""
    hint = eval(inspect.signature(method).parameters[parameter].annotation, vars(typing))
    listed = typing.get_args(typing.get_args(hint)[0])[0]  # Optional[List[Literal[...]]]
    return set(typing.get_args(listed))


def test_the_connectors_dm_parameters_are_values_xs_openapi_lists() -> None:
    """The DM fields the connector asks for are valid in X's OpenAPI and in docs.x.com alike:
    ``sender_id`` comes through the ``sender_id`` expansion, not ``dm_event.fields``."""
    get_events = DirectMessagesClient.get_events
    assert set(fields(x_connector.DM_FIELDS)) <= openapi_values(get_events, "dm_event_fields")
    expansions = dict(x_connector.DM_PARAMS)["expansions"]
    assert set(fields(expansions)) <= openapi_values(get_events, "expansions")
    mention_expansions = dict(x_connector.MENTION_PARAMS)["expansions"]
    assert set(fields(mention_expansions)) <= openapi_values(UsersClient.get_mentions, "expansions")


async def test_x_sdk_reads_mentions_and_dms_through_the_fake(aiohttp_client: Any) -> None:
    state, jane, mention = x_world()
    origin = await origin_of(aiohttp_client, state)
    mentions, events = await asyncio.to_thread(xdk_reads, origin, state)

    [post] = mentions.data
    assert (post.id, post.author_id, post.conversation_id) == (mention, jane.id, mention)
    assert [u.username for u in mentions.includes.users] == ["jane"]
    assert mentions.meta.result_count == 1 and mentions.meta.next_token is None
    [event] = events.data
    assert (event.event_type, event.sender_id, event.text) == (
        "MessageCreate",
        jane.id,
        "Hi, my card was charged twice",
    )
    assert [u.id for u in events.includes.users] == [jane.id]
    assert any("post.fields=" in r for r in state.requests)
