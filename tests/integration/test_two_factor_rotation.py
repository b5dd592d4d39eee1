"""Rotating the key that seals TOTP secrets, against a real Postgres: with the old key listed
users sign in as before and their secret moves to the new key; the reseal command moves every
row; without the old key an enrolled user gets a clear 503, never a 500."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import secrets
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.infra.logs import JsonFormatter
from services.infra.secretbox import KEY_ID_BYTES, NONCE_BYTES, V1, V2, SecretBox, key_id
from services.triage.app import create_app as create_triage
from services.triage.domain.two_factor import secret_from_text
from tests.support.authenticator import Authenticator
from tests.support.sessions import (
    PASSWORD,
    Session,
    enrol,
    pending_token,
    person,
    session_of,
    sign_in,
    try_code,
)
from tests.support.world import TWO_FACTOR_KEY, bearer, make_workspace, sql, triage_settings

ROOT = Path(__file__).parents[2]
OLD = TWO_FACTOR_KEY  # what the `triage` fixture seals with
NEW = base64.b64encode(b"the new two-factor key, 32 bytes").decode()
LOST = base64.b64encode(b"a key nobody configured, 32 byte").decode()


def server(database_url: str, key: str, old_keys: str = "") -> Any:
    return create_triage(
        triage_settings(
            database_url, run_consumer=False, two_factor_key=key, two_factor_old_keys=old_keys
        )
    )


@pytest.fixture
async def triage(aiohttp_client: Any, database_url: str) -> Any:
    return await aiohttp_client(server(database_url, OLD))


@pytest.fixture
async def rotated(aiohttp_client: Any, database_url: str) -> Any:
    """A server after the rotation: the new key seals, the old one still opens."""
    return await aiohttp_client(server(database_url, NEW, OLD))


@pytest.fixture
async def new_only(aiohttp_client: Any, database_url: str) -> Any:
    """A server once the old key is dropped."""
    return await aiohttp_client(server(database_url, NEW))


async def stored(database_url: str, user_id: uuid.UUID) -> bytes:
    rows = await sql(
        database_url, "SELECT secret FROM triage.two_factor WHERE user_id = :u", u=user_id
    )
    return bytes(rows[0].secret)


async def user_id_of(database_url: str, email: str) -> uuid.UUID:
    rows = await sql(database_url, "SELECT id FROM triage.users WHERE email = :e", e=email)
    return uuid.UUID(str(rows[0].id))


def sealed_by(sealed: bytes) -> bytes | None:
    """The key id a value names (None: the first format, which names none)."""
    return sealed[1 : 1 + KEY_ID_BYTES] if sealed[:1] == V2 else None


def raw(key: str) -> bytes:
    return base64.b64decode(key)


async def code_sign_in(client: Any, email: str, code: str) -> Any:
    return await try_code(client, await pending_token(client, email), code)


async def test_with_the_old_key_listed_users_sign_in_and_their_secret_moves_to_the_new_key(
    triage: Any, rotated: Any, new_only: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    user = await user_id_of(database_url, email)
    assert sealed_by(await stored(database_url, user)) == key_id(raw(OLD))
    # Before its first use after the rotation the new-key-only server cannot read it.
    assert (await code_sign_in(new_only, email, app.wrong_code())).status == 503

    signed = await code_sign_in(rotated, email, await app.code())
    assert signed.status == 200, await signed.text()
    after = await stored(database_url, user)
    assert sealed_by(after) == key_id(raw(NEW))
    opened = SecretBox(raw(NEW)).open(after, f"totp:{ws.id}:{user}".encode())
    assert opened.plain == secret_from_text(app.key) and not opened.needs_reseal

    # An enrolment started before the rotation is confirmed after it, then the old key goes.
    other, _ = await person(database_url, ws.id)
    started = await (await sign_in(triage, other)).call("POST", "/v1/me/two-factor/enrol")
    other_app = Authenticator((await started.json())["secret"])
    confirmed = await (await sign_in(rotated, other)).call(
        "POST", "/v1/me/two-factor/confirm", json={"code": await other_app.code()}
    )
    assert confirmed.status == 200, await confirmed.text()
    other_id = await user_id_of(database_url, other)
    assert sealed_by(await stored(database_url, other_id)) == key_id(raw(NEW))
    assert (await code_sign_in(new_only, other, await other_app.code())).status == 200


async def test_a_wrong_code_after_the_rotation_leaves_the_secret_as_it_was(
    triage: Any, rotated: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    user = await user_id_of(database_url, email)
    before = await stored(database_url, user)
    assert (await code_sign_in(rotated, email, app.wrong_code())).status == 401
    assert await stored(database_url, user) == before


def first_format(key: str, plain: bytes, workspace_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    """A secret as sealed before key ids existed: 01 | nonce | ciphertext."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    context = f"totp:{workspace_id}:{user_id}".encode()
    return V1 + nonce + AESGCM(raw(key)).encrypt(nonce, plain, context)


# The command as the README gives it, and as the module it runs.
SUB_COMMAND = ("services.triage", "reseal-two-factor")
MODULE = ("services.triage.access.reseal_two_factor",)


async def reseal_command(
    database_url: str, *args: str, entry: tuple[str, ...] = SUB_COMMAND, **env: str
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *entry,
        *args,
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")},
            "DATABASE_URL": database_url,
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@dataclass(frozen=True)
class Enrolled:
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    app: Authenticator


async def test_the_reseal_command_moves_every_row_to_the_new_key_and_counts_them(
    aiohttp_client: Any, triage: Any, new_only: Any, database_url: str
) -> None:
    first, second = await make_workspace(database_url), await make_workspace(database_url, "B")
    lost_server = await aiohttp_client(server(database_url, LOST))
    users: dict[str, Enrolled] = {}
    for name, ws_id, client in [
        ("old key", first.id, triage),
        ("old key, other workspace", second.id, triage),
        ("first format", first.id, triage),
        ("new key", second.id, new_only),
        ("lost key", first.id, lost_server),
    ]:
        email, _ = await person(database_url, ws_id)
        app, _ = await enrol(await sign_in(client, email))
        users[name] = Enrolled(ws_id, await user_id_of(database_url, email), email, app)
    old_format = users["first format"]
    await sql(
        database_url,
        "UPDATE triage.two_factor SET secret = :s WHERE user_id = :u",
        s=first_format(
            OLD, secret_from_text(old_format.app.key), old_format.workspace_id, old_format.user_id
        ),
        u=old_format.user_id,
    )
    keys = {"TRIAGE_TWO_FACTOR_KEY": NEW, "TRIAGE_TWO_FACTOR_OLD_KEYS": OLD}

    status, out, err = await reseal_command(database_url, "--batch-size", "2", **keys)
    lost = users["lost key"]
    assert status == 1, err
    assert orjson.loads(out) == {
        "resealed": 3,
        "already_current": 1,
        "unreadable": 1,
        "unreadable_rows": [{"workspace_id": str(lost.workspace_id), "user_id": str(lost.user_id)}],
    }
    for secret in (NEW, OLD, LOST, *(u.app.key for u in users.values())):
        assert secret not in out + err
    rows = await sql(database_url, "SELECT user_id, secret FROM triage.two_factor")
    assert {r.user_id: sealed_by(bytes(r.secret)) for r in rows} == {
        u.user_id: key_id(raw(LOST if u is lost else NEW)) for u in users.values()
    }

    # Every resealed user signs in on a server that no longer knows the old key.
    for name in ("old key", "old key, other workspace", "first format"):
        answer = await code_sign_in(new_only, users[name].email, await users[name].app.code())
        assert answer.status == 200, name

    # Run again: nothing left to move; once the lost row is reset the command exits 0.
    status, out, _ = await reseal_command(database_url, **keys)
    assert (status, orjson.loads(out)["resealed"], orjson.loads(out)["already_current"]) == (
        1,
        0,
        4,
    )
    _, admin_token = await person(database_url, lost.workspace_id, "admin")
    reset = await new_only.post(
        f"/v1/users/{lost.user_id}/two-factor/reset", headers=bearer(admin_token)
    )
    assert reset.status == 200
    status, out, _ = await reseal_command(database_url, **keys)
    assert status == 0 and orjson.loads(out) == {
        "resealed": 0,
        "already_current": 4,
        "unreadable": 0,
        "unreadable_rows": [],
    }


@pytest.mark.parametrize("entry", [SUB_COMMAND, MODULE], ids=["sub-command", "module"])
async def test_the_reseal_command_without_a_key_or_with_a_bad_one_says_so(
    entry: tuple[str, ...],
) -> None:
    nowhere = "postgresql://nobody@127.0.0.1:1/none"
    status, out, err = await reseal_command(nowhere, entry=entry)
    assert (status, out) == (2, "") and "TRIAGE_TWO_FACTOR_KEY is not set" in err
    malformed = "not-a-key-but-still-secret"
    status, out, err = await reseal_command(
        nowhere,
        entry=entry,
        TRIAGE_TWO_FACTOR_KEY=NEW,
        TRIAGE_TWO_FACTOR_OLD_KEYS=f"{OLD},{malformed}",
    )
    assert (status, out) == (2, "") and "TRIAGE_TWO_FACTOR_OLD_KEYS, key 2" in err
    assert malformed not in err and OLD not in err and NEW not in err


async def test_a_key_changed_without_the_old_one_listed_is_a_clear_503_and_a_warning(
    triage: Any, new_only: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, recovery = await enrol(await sign_in(triage, email))
    pending_email, _ = await person(database_url, ws.id)
    started = await (await sign_in(triage, pending_email)).call("POST", "/v1/me/two-factor/enrol")
    pending_key = (await started.json())["secret"]
    user = await user_id_of(database_url, email)
    pending_user = await user_id_of(database_url, pending_email)
    before = await stored(database_url, user)

    refused = await code_sign_in(new_only, email, await app.code())
    assert refused.status == 503
    problem = await refused.json()
    assert problem["title"] == "Two-factor unavailable"
    assert "cannot be read with this server's keys" in problem["detail"]
    assert "admin" in problem["detail"] and "recovery code" in problem["detail"]
    assert await stored(database_url, user) == before

    # A recovery code needs no secret: the user gets in, and can turn two-factor off with
    # another; a TOTP code anywhere gets the same clear answer (before it is checked, so
    # any six digits do).
    signed = await code_sign_in(new_only, email, recovery[0])
    assert signed.status == 200
    me: Session = session_of(new_only, signed, await signed.json())
    for path in ("/v1/me/two-factor/disable", "/v1/me/two-factor/recovery-codes"):
        answer = await me.call("POST", path, json={"code": app.wrong_code()})
        assert answer.status == 503, path
        assert "cannot be read" in (await answer.json())["detail"]
    off = await me.call("POST", "/v1/me/two-factor/disable", json={"code": recovery[1]})
    assert off.status == 200

    # A pending enrolment sealed with the lost key: QR and confirm say to start again.
    waiting = await sign_in(new_only, pending_email)
    for method, path, body in (
        ("GET", "/v1/me/two-factor/qr.svg", None),
        ("POST", "/v1/me/two-factor/confirm", {"code": "123456"}),
    ):
        answer = await waiting.call(method, path, json=body)
        assert answer.status == 503, path
        assert "Start enrolment again" in (await answer.json())["detail"]
    assert (await waiting.call("POST", "/v1/me/two-factor/enrol")).status == 201

    warnings = [r for r in caplog.records if r.name == "ecoute.triage.auth"]
    ids = {
        (r.levelname, getattr(r, "workspace_id", ""), getattr(r, "user_id", "")) for r in warnings
    }
    assert ids == {
        ("WARNING", str(ws.id), str(user)),
        ("WARNING", str(ws.id), str(pending_user)),
    }
    assert len(warnings) == 5  # code sign-in, disable, recovery codes, QR, confirm
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    formatter = JsonFormatter("test")
    lines = "\n".join(formatter.format(r) for r in caplog.records)
    for secret in (OLD, NEW, app.key, pending_key, recovery[0], recovery[1], PASSWORD):
        assert secret not in lines
