"""Channel credentials stay in their workspace and go only to their platform's API hosts.

Two workspaces hold real-looking X and Mastodon credentials (the same two reference names in
both, and one name only each has) and read their own fake platforms. An "attacker" server on
127.0.0.1 records every request it gets. Each workspace in turn attacks the other through
``PUT /v1/channels`` with its own channels token: every platform × every reference (the
victim's, its own, a name only the victim has) × every host (the victim's platforms, the
attacker, a public host that is no API, a look-alike, plain http, the real API host). Rows
written past the API (as before the fix, or by hand) name the victim's references and the
attacker's host, and a reply is queued on one of them. Then the test waits for the poller and
the delivery to have handled every channel (on the rows, not on time) and counts leaks: a
victim's secret in any request the attacker saw or in any answer the API gave the attacker,
a victim's customer message in the attacker's workspace. There are none; the same requests
against a production configuration (no loopback) reach the attacker not at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ecoute.v1 import events_pb2
from fakes.clock import wall_clock
from fakes.mastodon import MastodonState, status_html
from fakes.mastodon import create_app as create_mastodon
from fakes.meta import MetaState
from fakes.meta import deliver_webhook as deliver_meta
from fakes.x import XState, aaa_tweet_create_payloads
from fakes.x import create_app as create_x
from fakes.x import deliver_webhook as deliver_x
from services.inbox.app import create_app as create_inbox
from services.inbox.channels import store as channels
from services.infra.db import create_engine
from tests.security.world import write_credentials
from tests.support.waiting import wait_until
from tests.support.world import (
    Workspace,
    bearer,
    inbox_settings,
    make_workspace,
    message,
    publish_event,
    scalar,
)

SHARED_REFS = ("brand-x", "brand-mastodon")
"""Reference names both workspaces hold, each with its own secret."""
PLATFORMS = ("x", "mastodon", "bluesky", "facebook", "youtube")
PUBLIC_HOSTS = (
    "https://attacker.example",
    "https://api.x.com.attacker.example",
    "http://api.x.com",
    "https://api.x.com:8443",
    "https://mastodon.attacker.example",
    "https://www.googleapis.com.attacker.example",  # a look-alike of YouTube's API host
    "https://api.x.com",  # the real API: the host is fine, a foreign reference is not
)
"""Hosts no local server answers: the poller is never sent there (``polling`` false)."""
OWN_SENT = (("brand-x", "bearer_token"), ("brand-mastodon", "access_token"))
"""What a workspace's own X and Mastodon channels send (its credentials at the trap)."""


@dataclass
class Tenant:
    """A workspace, its platform credentials (by reference) and its fake platforms."""

    name: str
    workspace: Workspace
    credentials: dict[str, dict[str, str]]
    only: str
    """The reference only this workspace holds."""
    marker: str
    """The words of this workspace's customer: they must stay in this workspace."""
    hosts: dict[str, str] = field(default_factory=dict)
    """Its fake platforms' base URLs, by platform."""

    def secrets(self) -> list[str]:
        return [v for values in self.credentials.values() for v in values.values()]


@dataclass
class Attacker:
    """A server that records every request (a credential would show in one) and refuses it."""

    seen: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
            self.seen.append(
                f"{request.method} {request.path_qs}\n{headers}\n{await request.text()}"
            )
            return web.json_response({"error": "unauthorized"}, status=401)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        return app

    def leaks(self, secrets: list[str]) -> list[str]:
        return [s for s in secrets if any(s in request for request in self.seen)]


async def tenant(database_url: str, name: str, directory: Path) -> Tenant:
    workspace = await make_workspace(database_url, name)
    tag = uuid.uuid4().hex[:8]
    credentials = {
        "brand-x": {"bearer_token": f"{name}-x-user-token-{tag}"},
        "brand-mastodon": {"access_token": f"{name}-mastodon-token-{tag}"},
        "brand-meta": {"page_access_token": f"{name}-meta-page-token-{tag}"},
        f"{name}-only": {"bearer_token": f"{name}-only-token-{tag}"},
    }
    for ref, values in credentials.items():
        write_credentials(directory, workspace.id, ref, values)
    marker = f"{name} customer {tag}: my parcel never arrived"
    return Tenant(name, workspace, credentials, f"{name}-only", marker)


async def serve_platforms(who: Tenant, aiohttp_server: Any, index: int) -> None:
    """Fake X and Mastodon accounts of ``who``, each with one customer's mention."""
    x = XState(
        clock=wall_clock,
        user_id=f"15000000000000000{index}",
        bearer_token=who.credentials["brand-x"]["bearer_token"],
    )
    x.add_mention("janedoe", f"@AcmeSupport {who.marker}", wall_clock() - timedelta(minutes=2))
    mastodon = MastodonState(
        brand_id=f"1471{index}", tokens={who.credentials["brand-mastodon"]["access_token"]}
    )
    mastodon.add_mention(
        "jane@m.example", status_html(f"@acme {who.marker}"), wall_clock() - timedelta(minutes=2)
    )
    for platform, app, account in (
        ("x", create_x(x), x.user_id),
        ("mastodon", create_mastodon(mastodon), mastodon.brand_id),
    ):
        who.hosts[platform] = str((await aiohttp_server(app)).make_url("")).rstrip("/")
        who.hosts[f"{platform}-account"] = account


def combinations(
    attacker: Tenant, victim: Tenant, trap: str, *, theirs: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every channel the attacker may try, with its key: platform × reference × host, and
    × account (a fresh one; with ``theirs``, also the victim's account on that platform)."""
    refs = [*SHARED_REFS, victim.only, attacker.only]
    hosts = [victim.hosts["x"], victim.hosts["mastodon"], trap, *PUBLIC_HOSTS]
    n = 0
    for platform in PLATFORMS:
        accounts = [victim.hosts.get(f"{platform}-account")] if theirs else []
        for ref in refs:
            for host in hosts:
                for account in [*accounts, f"{attacker.name}-{n}"]:
                    if account is None:
                        continue
                    n += 1
                    yield (
                        f"/v1/channels/{platform}/try-{n}",
                        {
                            "account_id": account,
                            "base_url": host,
                            "credentials_ref": ref,
                            "polling": host not in PUBLIC_HOSTS,
                            "poll_seconds": 5,
                        },
                    )


def expected(attacker: Tenant, victim: Tenant, path: str, body: dict[str, Any]) -> tuple[int, str]:
    """The answer, and the field it names: the reference must be the attacker's own, the host
    one of the platform's (or loopback, in development), the account no one else's."""
    platform = path.split("/")[3]
    ref, host = body["credentials_ref"], body["base_url"]
    if ref not in attacker.credentials:  # the victim's: it does not exist for the attacker
        return 422, "/credentials_ref" if host not in PUBLIC_HOSTS else ""
    if host in PUBLIC_HOSTS and not (host == "https://api.x.com" and platform == "x"):
        return 422, "/base_url"
    if body["account_id"] == victim.hosts.get(f"{platform}-account"):
        return 409, "/account_id"
    return 200, ""


async def attack(inbox: Any, attacker: Tenant, victim: Tenant, trap: str) -> list[str]:
    """Try every combination; returns every answer's body (none may hold a victim's secret)."""
    answers = []
    for path, body in combinations(attacker, victim, trap, theirs=True):
        answer = await inbox.put(path, headers=bearer(attacker.workspace.channels_token), json=body)
        said = await answer.text()
        answers.append(said)
        status, pointer = expected(attacker, victim, path, body)
        label = (attacker.name, path, body)
        assert answer.status == status, (label, said)
        if pointer:
            assert json.loads(said)["errors"][0]["pointer"] == pointer, (label, said)
    listed = await inbox.get("/v1/channels", headers=bearer(attacker.workspace.channels_token))
    answers.append(await listed.text())
    return answers


async def write_past_the_api(
    database_url: str, attacker: Tenant, victim: Tenant, trap: str
) -> None:
    """Rows the API would refuse, as an old version or a hand-written UPDATE left them: the
    victim's references (the shared names, the one only it has) at the trap and at the
    victim's platforms."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            for n, (platform, ref, host) in enumerate(
                (p, r, h)
                for p in ("x", "mastodon")
                for r in (*SHARED_REFS, victim.only)
                for h in (trap, victim.hosts[p])
            ):
                settings = {
                    "account_id": f"{attacker.name}-raw-{n}",
                    "base_url": host,
                    "credentials_ref": ref,
                    "polling": True,
                    "poll_seconds": 5,
                }
                await channels.configure(
                    conn, attacker.workspace.id, platform, f"raw-{n}", settings
                )
    finally:
        await engine.dispose()


async def queue_reply(database_url: str, inbox: Any, attacker: Tenant, trap: str, ref: str) -> None:
    """A reply to deliver on a hand-written channel naming ``ref`` at the trap."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            settings = {
                "account_id": f"{attacker.name}-reply",
                "base_url": trap,
                "credentials_ref": ref,
                "polling": False,
                "poll_seconds": 60,
            }
            await channels.configure(conn, attacker.workspace.id, "x", "reply-trap", settings)
    finally:
        await engine.dispose()
    stored = await inbox.post(
        "/v1/ingest",
        headers=bearer(attacker.workspace.ingest_token),
        json={"messages": [message(f"trap-{uuid.uuid4().hex}", channel="reply-trap")]},
    )
    assert stored.status == 200, await stored.text()
    item = (await stored.json())["items"][0]
    request = events_pb2.ReplyRequested(
        workspace_id=str(attacker.workspace.id),
        reply_id=str(uuid.uuid4()),
        conversation_id=item["conversation_id"],
        in_reply_to_message_id=item["message_id"],
        text="we are on it",
        agent_id="agent-1",
    )
    request.requested_at.FromDatetime(datetime.now(UTC))
    await publish_event(database_url, "reply.requested", attacker.workspace.id, request)


async def mentions(database_url: str, where: Tenant, words: str) -> int:
    """How many messages of ``where``'s workspace hold ``words``."""
    return int(
        await scalar(
            database_url,
            "SELECT count(*) FROM inbox.messages WHERE workspace_id = :ws "
            "AND strpos(text, :words) > 0",
            ws=where.workspace.id,
            words=words,
        )
    )


@dataclass
class Stage:
    inbox: Any
    pairs: list[tuple[Tenant, Tenant, Attacker, str]]
    """(culprit, victim, the culprit's trap, its URL): each workspace attacks the other."""


async def build(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, directory: Path, local: bool
) -> Stage:
    alpha = await tenant(database_url, "alpha", directory)
    bravo = await tenant(database_url, "bravo", directory)
    await serve_platforms(alpha, aiohttp_server, 1)
    await serve_platforms(bravo, aiohttp_server, 2)
    pairs = []
    for culprit, victim in ((bravo, alpha), (alpha, bravo)):
        trap = Attacker()
        url = str((await aiohttp_server(trap.app())).make_url("")).rstrip("/")
        pairs.append((culprit, victim, trap, url))
    settings = inbox_settings(
        database_url, channel_credentials_dir=str(directory), allow_local_platforms=local
    )
    return Stage(await aiohttp_client(create_inbox(settings)), pairs)


async def settled(database_url: str, since: datetime, replies: int) -> bool:
    """Every polled channel has finished a poll since it was configured (its lease released,
    its next poll moved past ``since``) and every queued reply has an outcome."""
    pending = await scalar(
        database_url,
        "SELECT (SELECT count(*) FROM inbox.channels WHERE polling "
        "AND (next_poll_at <= :since OR lease_until IS NOT NULL)) + :replies - "
        "(SELECT count(*) FROM inbox.deliveries WHERE state IN ('delivered', 'failed'))",
        since=since,
        replies=replies,
    )
    return int(pending) == 0


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    found = tmp_path / "channel-credentials"
    found.mkdir()
    return found


async def test_no_workspace_reaches_anothers_credentials_or_data(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, secrets_dir: Path
) -> None:
    """Development configuration (loopback allowed, as ``make run`` and the tests run)."""
    stage = await build(aiohttp_server, aiohttp_client, database_url, secrets_dir, local=True)
    inbox = stage.inbox
    for culprit, _, _, _ in stage.pairs:  # each reads its own platforms: the positive control
        for platform in ("x", "mastodon"):
            answer = await inbox.put(
                f"/v1/channels/{platform}/own-{platform}",
                headers=bearer(culprit.workspace.channels_token),
                json={
                    "account_id": culprit.hosts[f"{platform}-account"],
                    "base_url": culprit.hosts[platform],
                    "credentials_ref": f"brand-{platform}",
                    "poll_seconds": 5,
                },
            )
            assert answer.status == 200, await answer.text()
    answers: dict[str, list[str]] = {}
    for culprit, victim, _, trap in stage.pairs:
        answers[culprit.name] = await attack(inbox, culprit, victim, trap)
        await write_past_the_api(database_url, culprit, victim, trap)
        await queue_reply(database_url, inbox, culprit, trap, victim.only)
    since = datetime.now(UTC)
    await wait_until(lambda: settled(database_url, since, 2), 120, "every channel polled")

    for culprit, victim, trap, _ in stage.pairs:
        assert trap.leaks(victim.secrets()) == [], f"{victim.name}'s secrets reached the trap"
        told = [s for s in victim.secrets() if any(s in a for a in answers[culprit.name])]
        assert told == [], f"the API told {culprit.name} {victim.name}'s secrets"
        assert await mentions(database_url, culprit, victim.marker) == 0, (
            f"{victim.name}'s customer reached {culprit.name}"
        )
        # The victim's own channels worked, with the secrets no trap saw.
        assert await mentions(database_url, victim, victim.marker) == 2
        # The trap records, and the poller reached it whenever the culprit pointed its own
        # credentials there (loopback is allowed in development): a leak would have shown.
        own = [culprit.credentials[ref][key] for ref, key in OWN_SENT]
        assert trap.leaks(own) == own
        # A name only the victim has is "no such credentials" at use too (defence in depth).
        refused = await scalar(
            database_url,
            "SELECT count(*) FROM inbox.channels WHERE workspace_id = :ws "
            "AND credentials_ref = :ref AND health = 'needs_reauth' "
            "AND health_detail LIKE '%no credentials named%'",
            ws=culprit.workspace.id,
            ref=victim.only,
        )
        assert refused == 4  # the rows written past the API (the API refused every one)
    failed = await scalar(
        database_url,
        "SELECT count(*) FROM inbox.deliveries WHERE state = 'failed' "
        "AND failure_reason = 'auth_expired' AND failure_detail LIKE '%no credentials named%'",
    )
    assert failed == 2


async def test_in_production_no_request_reaches_a_host_outside_the_platforms(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, secrets_dir: Path
) -> None:
    """Production configuration: loopback refused, so not even a workspace's own
    credentials may be pointed at a host of its choosing, by the API or past it."""
    stage = await build(aiohttp_server, aiohttp_client, database_url, secrets_dir, local=False)
    for culprit, victim, _, trap in stage.pairs:
        for path, body in combinations(culprit, victim, trap, theirs=False):
            answer = await stage.inbox.put(
                path, headers=bearer(culprit.workspace.channels_token), json=body
            )
            allowed = body["base_url"] == "https://api.x.com" and "/x/" in path
            own = body["credentials_ref"] in culprit.credentials
            assert answer.status == (200 if allowed and own else 422), (path, body)
        await write_past_the_api(database_url, culprit, victim, trap)
        await queue_reply(database_url, stage.inbox, culprit, trap, "brand-x")
    since = datetime.now(UTC)
    await wait_until(lambda: settled(database_url, since, 2), 120, "every channel polled")
    for _, _, trap, _ in stage.pairs:
        assert trap.seen == [], "a request reached a host outside the platforms"
    refused = await scalar(
        database_url,
        "SELECT count(*) FROM inbox.channels WHERE key LIKE 'raw-%' AND health = 'needs_reauth' "
        "AND health_detail LIKE 'base_url refused%'",
    )
    assert refused == 24  # 2 workspaces × 2 platforms × 3 references × 2 hosts
    failed = await scalar(
        database_url,
        "SELECT count(*) FROM inbox.deliveries WHERE state = 'failed' "
        "AND failure_reason = 'auth_expired' AND failure_detail LIKE 'base_url refused%'",
    )
    assert failed == 2


async def test_a_platform_account_is_connected_once_so_its_webhooks_reach_one_workspace(
    aiohttp_client: Any, database_url: str, secrets_dir: Path
) -> None:
    """Webhooks are routed by platform account, with no credentials involved: a second
    workspace naming the first's account id (with its own credentials, at the real API host)
    would receive its pushed mentions, comments and DMs. It is refused (409, /account_id)."""
    alpha = await tenant(database_url, "alpha", secrets_dir)
    bravo = await tenant(database_url, "bravo", secrets_dir)
    x = XState(clock=wall_clock)
    x.add_user("janedoe", "Jane Doe")
    meta = MetaState(clock=wall_clock)
    settings = inbox_settings(
        database_url,
        run_workers=False,
        x_consumer_secret=x.consumer_secret,
        meta_app_secret=meta.app_secret,
        meta_verify_token=meta.verify_token,
        channel_credentials_dir=str(secrets_dir),
    )
    inbox = await aiohttp_client(create_inbox(settings))
    accounts = (
        ("x", x.user_id, "https://api.x.com", "brand-x"),
        ("facebook", meta.page_id, "https://graph.facebook.com", "brand-meta"),
        ("messenger", meta.page_id, "https://graph.facebook.com", "brand-meta"),
    )
    for who, expected in ((alpha, 200), (bravo, 409)):
        for platform, account, host, ref in accounts:
            answer = await inbox.put(
                f"/v1/channels/{platform}/care",
                headers=bearer(who.workspace.channels_token),
                json={
                    "account_id": account,
                    "base_url": host,
                    "credentials_ref": ref,
                    "polling": False,
                },
            )
            assert answer.status == expected, (who.name, platform, await answer.text())
            if expected == 409:
                problem = await answer.json()
                assert [e["pointer"] for e in problem["errors"]] == ["/account_id"]
                assert alpha.marker not in str(problem) and str(alpha.workspace.id) not in str(
                    problem
                )
    session = inbox.session
    post = x.add_mention("janedoe", f"@AcmeSupport {alpha.marker}")
    for payload in aaa_tweet_create_payloads(x, post):
        assert await deliver_x(session, str(inbox.make_url("/webhooks/x")), x, payload) == 200
    comment = meta.feed_comment("139560936744123", f"{alpha.marker} (comment)").payload
    message_ = meta.messenger_message("24000000000000001", f"{alpha.marker} (DM)").payload
    for payload in (comment, message_):
        url = str(inbox.make_url("/webhooks/meta"))
        assert await deliver_meta(session, url, meta.app_secret, payload) == 200
    assert await mentions(database_url, alpha, alpha.marker) == 3
    assert await mentions(database_url, bravo, alpha.marker) == 0
