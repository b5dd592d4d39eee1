"""``make run``: Postgres, migrations, both services and demo traffic, stopped by Ctrl-C.

The demo traffic comes from a third child, ``python -m demo.platforms``: local fake X,
Mastodon, Bluesky and Meta servers that the inbox's real pollers, webhook receivers and reply
delivery talk to. The inbox gets the fakes' credentials and the demo's webhook secrets in its
environment (``demo.platforms.inbox_environment``) before it starts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import aiohttp

from demo.platforms import BRANDS, DEFAULT_PORT, FAKES, inbox_environment
from tools.embedded_pg import ROOT, ensure_database_sync, server_url, stop_embedded

DEMO_WORKSPACE = uuid.UUID("0e5c07e0-0000-4000-8000-00000000de70")


def _service(module: str, *args: str, env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", f"services.{module}", *args]


def _run(module: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        _service(module, *args, env=env),
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


async def _wait_ready(urls: list[str], seconds: float = 60) -> None:
    async with aiohttp.ClientSession() as session:
        deadline = asyncio.get_running_loop().time() + seconds
        for url in urls:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            break
                if asyncio.get_running_loop().time() > deadline:
                    raise SystemExit(f"{url} did not become ready")
                await asyncio.sleep(0.3)


def _relay(stream: IO[bytes] | None) -> None:
    """Copy a child's output to ours, line by line, until it closes."""
    if stream is None:
        return
    for line in stream:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()


def dev_two_factor_key(directory: Path) -> str:
    """The development key that seals TOTP secrets, made once and kept beside the embedded
    database (a deployment sets TRIAGE_TWO_FACTOR_KEY from a secret instead)."""
    path = directory / "two-factor.key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and a process manager's SIGTERM both mean: stop everything, in order.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    url, server = server_url(ROOT / ".pgdata")
    if server is not None:
        url = ensure_database_sync(url, "ecoute")
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("TRIAGE_TWO_FACTOR_KEY", dev_two_factor_key(ROOT / ".pgdata"))
    try:  # the fakes' credentials and webhook secrets, for the inbox
        env |= inbox_environment(env)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    inbox_port = env.get("INBOX_PORT", "8080")
    triage_port = env.get("TRIAGE_PORT", "8081")
    first_port = int(env.get("DEMO_PLATFORMS_PORT", DEFAULT_PORT))
    last_port = first_port + len(BRANDS) * len(FAKES) - 1
    children: list[subprocess.Popen[bytes]] = []
    status = 0
    try:
        print("• migrating the database …", flush=True)
        _run("inbox", "migrate", env=env)
        _run("triage", "migrate", env=env)
        agent_args = ["--token", env["DEMO_AGENT_TOKEN"]] if env.get("DEMO_AGENT_TOKEN") else []
        workspace: dict[str, Any] = json.loads(
            _run(
                "triage",
                "create-workspace",
                "--name",
                "Demo care team",
                "--id",
                str(DEMO_WORKSPACE),
                "--email",
                "agent@demo.ecoute",
                "--role",
                "agent",
                *agent_args,
                env=env,
            )
        )
        ingest_args = ["--token", env["DEMO_INGEST_TOKEN"]] if env.get("DEMO_INGEST_TOKEN") else []
        ingest_token = _run(
            "inbox",
            "create-ingest-token",
            "--workspace",
            str(DEMO_WORKSPACE),
            "--name",
            "demo",
            *ingest_args,
            env=env,
        )
        # The fake platforms listen before the inbox polls them (on a restart its channels
        # exist already). Own session, like the services; the ingest token goes by environment,
        # not on the command line; its output is relayed after the banner.
        platforms = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo.platforms",
                "--inbox",
                f"http://127.0.0.1:{inbox_port}",
                "--port",
                str(first_port),
            ],
            env={**env, "DEMO_INGEST_TOKEN": ingest_token},
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.PIPE,
        )
        children.append(platforms)
        for module in ("inbox", "triage"):
            # Own session: Ctrl-C reaches only this launcher, which stops them in order.
            process = subprocess.Popen(
                _service(module, "serve", env=env), env=env, cwd=ROOT, start_new_session=True
            )
            children.append(process)
        asyncio.run(
            _wait_ready(
                [f"http://127.0.0.1:{inbox_port}/readyz", f"http://127.0.0.1:{triage_port}/readyz"]
            )
        )
        token = workspace["token"]
        print(
            f"""
  Écoute is running.
    Agent queue (web):  http://127.0.0.1:{triage_port}/#token={token}
    Queue API:          curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{triage_port}/v1/queue
    Ingest API:         POST http://127.0.0.1:{inbox_port}/v1/ingest  (Bearer {ingest_token})
    Channels:           curl -H 'Authorization: Bearer {ingest_token}' http://127.0.0.1:{inbox_port}/v1/channels
    Metrics:            http://127.0.0.1:{inbox_port}/metrics  http://127.0.0.1:{triage_port}/metrics
    Demo agent:         agent@demo.ecoute, API token {token}
  Demo traffic arrives through local fake X, Mastodon, Bluesky and Meta servers
  (127.0.0.1:{first_port}-{last_port}), read by the inbox's real pollers and webhooks; agents'
  replies are delivered to them. Ctrl-C stops everything.
""",
            flush=True,
        )
        threading.Thread(target=_relay, args=(platforms.stdout,), daemon=True).start()
        while all(child.poll() is None for child in children):
            time.sleep(1)
        raise SystemExit("a service stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    except (aiohttp.ClientError, subprocess.CalledProcessError) as exc:
        print(f"\n• stopped on an error: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        print("\n• stopping …", flush=True)
        # The demo platforms first (no more traffic), then both services.
        for group in (children[:1], children[1:]):
            for child in group:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in group:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=15)
                if child.poll() is None:
                    child.kill()
        if server is not None:
            stop_embedded(server)
        print("• stopped; the data stays in .pgdata/", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
