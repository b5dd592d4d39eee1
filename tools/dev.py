"""``make run``: Postgres, migrations, both services and demo traffic, stopped by Ctrl-C.

The demo traffic comes from a third child, ``python -m demo.platforms``: local fake X, Mastodon,
Bluesky, Meta, WhatsApp, Threads and YouTube servers that the inbox's real pollers, webhook
receivers and reply delivery talk to. The inbox gets the fakes' credentials and the demo's
webhook secrets in its environment (``demo.platforms.inbox_environment``) before it starts; the
demo platforms get the triage URL and the demo lead's token, for the desk's side of the demo
(``demo.scenes``).

What the launcher promises:

- it checks every port the stack needs before starting anything, and names the variable to
  change when one is taken;
- nothing says "running" before the services answer ``/readyz`` and the fakes listen;
- the services' logs go to ``.logs/`` (``DEV_LOGS``), the terminal keeps the banner, the demo's
  own lines, one line per error and a status line (``tools.dev_console``);
- a child that dies is restarted alone, with a count and a back-off; Postgres keeps running
  (``tools.dev_supervisor``);
- the first Ctrl-C or SIGTERM stops everything in order (the demo platforms, the services,
  then Postgres); more signals meanwhile are absorbed, so the clean-up always finishes;
- the banner's ways in work: a one-time sign-in link for each of the demo team (an admin, a
  lead, two agents; each run's links replace the last run's) and their password; the team's
  API tokens, ingest token and password stay the same across restarts (``demo-access.json``
  beside the database), so none pile up.

``DEV_PGDATA`` moves the embedded Postgres's folder (default ``.pgdata/``); ``DATABASE_URL``
uses a server of your own instead (then nothing is started or stopped for it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from demo.platforms import BRANDS, DEFAULT_PORT, DEMO_WORKSPACE, FAKES, inbox_environment
from services.infra.auth import new_token
from tools.dev_console import Console, LogWatch, Status, last_words, shown
from tools.dev_supervisor import Child, StartFailed, Stopped, Supervisor, unless_stopped
from tools.embedded_pg import ROOT, ensure_database, start_embedded, stop_embedded
from tools.service_process import ServiceProcess, service_command

SERVICE_LOGS = ("inbox", "triage", "fakes")
LAUNCHER_PID = "launcher.pid"  # in the Postgres folder: which launcher stops that Postgres


class SetupFailed(Exception):
    """A set-up step failed: what, and why."""


@dataclass(frozen=True)
class Plan:
    """Where everything goes, from the environment."""

    host: str
    inbox_port: int
    triage_port: int
    fakes_port: int
    pgdata: Path
    logs: Path
    database_url: str | None  # a server of one's own; None: the embedded one in ``pgdata``

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Plan:
        return cls(
            host="127.0.0.1",
            inbox_port=int(env.get("INBOX_PORT", "8080")),
            triage_port=int(env.get("TRIAGE_PORT", "8081")),
            fakes_port=int(env.get("DEMO_PLATFORMS_PORT", DEFAULT_PORT)),
            pgdata=Path(env.get("DEV_PGDATA") or ROOT / ".pgdata"),
            logs=Path(env.get("DEV_LOGS") or ROOT / ".logs"),
            database_url=env.get("DATABASE_URL") or None,
        )

    @property
    def fakes_last_port(self) -> int:
        return self.fakes_port + len(BRANDS) * len(FAKES) - 1

    def ports(self) -> list[tuple[int, str, str]]:
        """(port, what listens there, the variable that moves it) for every port needed."""
        fakes = f"DEMO_PLATFORMS_PORT (the first of {len(BRANDS) * len(FAKES)} consecutive ports)"
        return [
            (self.inbox_port, "the inbox", "INBOX_PORT"),
            (self.triage_port, "triage", "TRIAGE_PORT"),
            *(
                (port, "the fake platforms", fakes)
                for port in range(self.fakes_port, self.fakes_last_port + 1)
            ),
        ]

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


def port_problems(plan: Plan) -> list[str]:
    """What stops the stack from listening where it should, one line each: a port taken by
    another program, or two parts of the stack given the same port."""
    problems: list[str] = []
    claimed: dict[int, str] = {}
    for port, what, variable in plan.ports():
        if port in claimed and claimed[port] != what:
            problems.append(
                f"port {port} is given to both {claimed[port]} and {what}: set {variable}"
            )
            continue
        claimed[port] = what
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                probe.bind((plan.host, port))
            except OSError as exc:
                problems.append(
                    f"port {port} ({what}) is taken ({exc.strerror}; an earlier `make run`?): "
                    f"stop what uses it, or set {variable}"
                )
    return problems


def dev_two_factor_key(directory: Path) -> str:
    """The development key that seals TOTP secrets, made once and kept beside the embedded
    database (a deployment sets TRIAGE_TWO_FACTOR_KEY from a secret instead)."""
    path = directory / "two-factor.key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def _other_launcher(pgdata: Path) -> int | None:
    """The process id of another live launcher using this Postgres folder, if any."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((pgdata / LAUNCHER_PID).read_text())
        if pid != os.getpid():
            os.kill(pid, 0)
            return pid
    return None


@dataclass
class Postgres:
    """The database this run uses; the embedded server when this launcher is to stop it (it
    started it, or found it left running by a launcher that died), not when another live
    launcher shares it."""

    url: str
    server: Any | None = None
    shared_with: int | None = None

    @classmethod
    def start(cls, plan: Plan) -> Postgres:
        if plan.database_url:
            return cls(plan.database_url)
        other = _other_launcher(plan.pgdata)
        server = start_embedded(plan.pgdata)
        url = asyncio.run(ensure_database(server.get_uri(), "ecoute"))
        if other is not None:
            return cls(url, shared_with=other)
        (plan.pgdata / LAUNCHER_PID).write_text(str(os.getpid()))
        return cls(url, server)

    def stop(self, plan: Plan) -> None:
        if self.server is not None:
            stop_embedded(self.server)
            (plan.pgdata / LAUNCHER_PID).unlink(missing_ok=True)


async def _cli(
    module: str, *args: str, env: Mapping[str, str], log: Path, stdin: bytes | None = None
) -> str:
    """Run ``python -m services.<module> <args>`` (``stdin`` on its standard input); its
    stdout, or ``SetupFailed``."""
    command = service_command(module, args[0]) + list(args[1:])
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=dict(env),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            start_new_session=True,  # a Ctrl-C now must not cut a migration short
        )
        out, _ = await process.communicate(stdin)
    if process.returncode != 0:
        why = last_words(log) or f"exit {process.returncode}"
        raise SetupFailed(f"`{module} {args[0]}` failed: {why} [{shown(log)}]")
    return out.decode().strip()


DEMO_TEAM = (
    ("admin", "admin@demo.ecoute"),
    ("lead", "lead@demo.ecoute"),
    ("agent", "agent@demo.ecoute"),
    ("agent", "agent2@demo.ecoute"),
)
DEMO_LINK_HOURS = 24


def demo_secrets(directory: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The demo team's API tokens, ingest token and password: made once and kept beside the
    embedded database (``demo-access.json``), so a restart finds the same ones instead of
    adding more; ``DEMO_AGENT_TOKEN`` and ``DEMO_INGEST_TOKEN`` override two of them."""
    path = directory / "demo-access.json"
    kept: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        kept = dict(orjson.loads(path.read_bytes()))
    wanted = {f"{email}": new_token("eca") for _, email in DEMO_TEAM}
    wanted |= {"ingest": new_token("eci"), "channels": new_token("eci")}
    wanted |= {"password": f"demo-{secrets.token_hex(6)}"}
    if not wanted.keys() <= kept.keys():
        kept = wanted | kept
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(orjson.dumps(kept))
    overrides = {
        "agent@demo.ecoute": "DEMO_AGENT_TOKEN",
        "ingest": "DEMO_INGEST_TOKEN",
        "channels": "DEMO_CHANNELS_TOKEN",
    }
    return kept | {key: env[name] for key, name in overrides.items() if env.get(name)}


@dataclass(frozen=True)
class Access:
    """The ways into the demo: the team's one-time sign-in links (role, e-mail, link), their
    password, and the tokens the demo's own parts and scripts use."""

    links: list[tuple[str, str, str]]
    password: str
    agent_token: str
    lead_token: str
    ingest_token: str
    channels_token: str


async def prepare(env: Mapping[str, str], log: Path, desk_url: str, kept: Path) -> Access:
    """Migrations, then the demo workspace: its team (an admin, a lead, two agents, each with
    the same API token and password as last time) and its ingest token; then a fresh
    one-time sign-in link for each of the team (the previous run's stop working). The
    channels token (an admin's, the demo platforms connect the channels with it) is kept too."""
    for module in ("inbox", "triage"):
        await _cli(module, "migrate", env=env, log=log)
    found = demo_secrets(kept, env)
    workspace = ["create-workspace", "--name", "Demo care team", "--id", str(DEMO_WORKSPACE)]
    password = (found["password"] + "\n").encode()

    def inbox_token(scope: str) -> Awaitable[str]:
        command = ["create-token", "--workspace", str(DEMO_WORKSPACE), "--scope", scope]
        token = ["--token", found[scope]]
        return _cli("inbox", *command, "--name", f"demo {scope}", *token, env=env, log=log)

    def member(role: str, email: str) -> Awaitable[str]:
        extra = ["--email", email, "--role", role, "--token", found[email], "--password-stdin"]
        return _cli("triage", *workspace, *extra, env=env, log=log, stdin=password)

    await asyncio.gather(
        *(member(role, email) for role, email in DEMO_TEAM),
        inbox_token("ingest"),
        inbox_token("channels"),
    )
    emails = [arg for _, email in DEMO_TEAM for arg in ("--email", email)]
    printed = await _cli(
        "triage",
        *["sign-in-link", "--workspace", str(DEMO_WORKSPACE), *emails],
        *["--hours", str(DEMO_LINK_HOURS), "--url", desk_url],
        env=env,
        log=log,
    )
    links = [(x["role"], x["email"], x["link"]) for x in orjson.loads(printed)["links"]]
    return Access(
        links,
        found["password"],
        found["agent@demo.ecoute"],
        found["lead@demo.ecoute"],
        found["ingest"],
        found["channels"],
    )


class DemoPlatforms(ServiceProcess):
    """``python -m demo.platforms``: ready once all its fake servers listen."""

    def __init__(self, plan: Plan, env: Mapping[str, str], log: Path) -> None:
        super().__init__(
            "demo",
            "platforms",
            env["DATABASE_URL"],
            port=plan.fakes_port,
            log=log,
            new_session=True,
            **env,
        )
        self.plan = plan

    def argv(self) -> list[str]:
        inbox = self.plan.url(self.plan.inbox_port)
        return [
            sys.executable,
            "-m",
            "demo.platforms",
            "--inbox",
            inbox,
            "--port",
            str(self.plan.fakes_port),
        ]

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        for port in range(self.plan.fakes_port, self.plan.fakes_last_port + 1):
            try:
                _, writer = await asyncio.open_connection(self.plan.host, port)
            except OSError:
                return False
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return True


def children(plan: Plan, env: dict[str, str], access: Access) -> list[list[Child]]:
    """The demo platforms (started first: they listen before the inbox polls them; stopped
    first: no more traffic), then the two services."""
    fakes_env = {
        **env,
        "DEMO_CHANNELS_TOKEN": access.channels_token,  # by environment, not the command line
        "DEMO_LEAD_TOKEN": access.lead_token,
        "DEMO_TRIAGE_URL": plan.url(plan.triage_port),
    }
    fakes = DemoPlatforms(plan, fakes_env, plan.logs / "fakes.log")
    services = [
        Child(
            name,
            ServiceProcess(
                name,
                "serve",
                env["DATABASE_URL"],
                port=port,
                log=plan.logs / f"{name}.log",
                new_session=True,
                **env,
            ),
        )
        for name, port in (("inbox", plan.inbox_port), ("triage", plan.triage_port))
    ]
    return [[Child("fakes", fakes)], services]


def banner(plan: Plan, access: Access) -> str:
    inbox, triage = plan.url(plan.inbox_port), plan.url(plan.triage_port)
    token, ingest, logs = access.agent_token, access.ingest_token, shown(plan.logs)
    channels = access.channels_token
    postgres = "" if plan.database_url else f"  {logs}/postgres.log"
    fakes = f"{plan.fakes_port}-{plan.fakes_last_port}"
    links = "\n".join(f"    {role:<6} {email:<19} {link}" for role, email, link in access.links)
    hours = DEMO_LINK_HOURS
    return f"""
  Écoute is running. Sign in to the desk in one click (each link works once, {hours} h):
{links}
  or at {triage} with one of those e-mails and the password {access.password}
  Two agents side by side: open their links in two browser profiles (or a private window).
    Queue API:          curl -H 'Authorization: Bearer {token}' {triage}/v1/queue  (agent@)
    Ingest API:         POST {inbox}/v1/ingest  (Bearer {ingest})
    Channels:           curl -H 'Authorization: Bearer {channels}' {inbox}/v1/channels
    Metrics:            {inbox}/metrics  {triage}/metrics
    Logs:               {logs}/inbox.log  {logs}/triage.log  {logs}/fakes.log  (JSON lines)
                        {logs}/setup.log{postgres}
    Fake platforms:     X, Mastodon, Bluesky, Meta, WhatsApp, Threads and YouTube on
                        {plan.host}:{fakes},
                        read by the inbox's real pollers and webhooks; agents' replies are
                        delivered there
  Below: what the demo does, errors (one line each, details in the logs) and a status line
  every 5 s. Ctrl-C stops everything.
"""


def _rotate_logs(plan: Plan) -> dict[str, Path]:
    """This run's log files (the previous run's kept as ``*.log.1``)."""
    plan.logs.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in (*SERVICE_LOGS, "setup"):
        path = plan.logs / f"{name}.log"
        if path.exists():
            path.replace(path.with_suffix(".log.1"))
        files[name] = path
    postgres = plan.logs / "postgres.log"
    if not plan.database_url and not postgres.is_symlink() and not postgres.exists():
        with contextlib.suppress(OSError):
            postgres.symlink_to(plan.pgdata.resolve() / "log")
    return files


class Signals:
    """The first SIGINT/SIGTERM/SIGHUP asks for a stop; later ones are absorbed (said once),
    so nothing cuts the clean-up short."""

    def __init__(self, console: Console, stop: asyncio.Event) -> None:
        self.console = console
        self.stop = stop
        self.absorbed = 0

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.received, signum)

    def received(self, signum: int) -> None:
        if not self.stop.is_set():
            self.stop.set()
            self.console.keep_status()
            self.console.say(f"\n• {signal.Signals(signum).name}: stopping …")
            return
        self.absorbed += 1
        if self.absorbed == 1:
            self.console.say("• already stopping (the demo platforms, the services, then Postgres)")


async def run(plan: Plan, env: dict[str, str], console: Console) -> int:
    """The whole life of ``make run``; its exit status."""
    stop = asyncio.Event()
    Signals(console, stop).install()
    problems = port_problems(plan)
    if problems:
        for problem in problems:
            console.say(f"✗ {problem}")
        console.say("✗ nothing was started")
        return 2
    files = _rotate_logs(plan)
    postgres: Postgres | None = None
    supervisor: Supervisor | None = None
    status = 0
    try:
        where = "DATABASE_URL" if plan.database_url else f"embedded, in {shown(plan.pgdata)}/"
        console.say(f"• Postgres ({where}) …")
        postgres = await asyncio.to_thread(Postgres.start, plan)  # never cut short
        if postgres.shared_with:
            console.say(
                f"• this Postgres serves another `make run` too (pid {postgres.shared_with}): "
                "it stays running when this one stops"
            )
        env = {**env, "DATABASE_URL": postgres.url}
        env.setdefault("TRIAGE_TWO_FACTOR_KEY", dev_two_factor_key(plan.pgdata))
        if stop.is_set():
            return 0
        console.say("• migrations and the demo workspace …")
        desk_url = plan.url(plan.triage_port)
        access = await prepare(env, files["setup"], desk_url, plan.pgdata)  # never cut short
        if stop.is_set():
            return 0
        console.say("• starting the demo platforms, the inbox and triage …")
        supervisor = Supervisor(console, stop, children(plan, env, access))
        logs = LogWatch(console, {name: files[name] for name in SERVICE_LOGS})
        await unless_stopped(stop, supervisor.start())
        console.say(banner(plan, access))
        status_line = Status(plan.url(plan.inbox_port), plan.url(plan.triage_port))
        await asyncio.gather(
            supervisor.keep_running(), logs.run(stop), status_line.run(console, stop)
        )
    except Stopped:
        pass
    except (StartFailed, SetupFailed) as exc:
        console.say(f"✗ {exc}; stopping")
        status = 1
    except Exception as exc:  # Postgres did not start, an unexpected error: say it, clean up
        console.say(f"✗ {type(exc).__name__}: {exc}; stopping")
        status = 1
    finally:
        stop.set()  # whatever ended the run: no restart from now on
        console.keep_status()
        if supervisor is not None:
            console.say("• stopping the demo platforms, then the services …")
            await supervisor.stop_all()
        if postgres is not None and postgres.server is not None:
            console.say("• stopping Postgres …")
            await asyncio.to_thread(postgres.stop, plan)
        console.say(f"• stopped; the data stays in {shown(plan.pgdata)}/")
    return status


def environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("INBOX_LOG_LEVEL", "INFO")
    env.setdefault("TRIAGE_LOG_LEVEL", "INFO")
    try:  # the fakes' credentials and webhook secrets, for the inbox
        env |= inbox_environment(env)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return env


def main() -> int:
    env = environment()
    try:
        plan = Plan.from_environment(env)
    except ValueError as exc:
        message = f"✗ INBOX_PORT, TRIAGE_PORT and DEMO_PLATFORMS_PORT are numbers: {exc}"
        raise SystemExit(message) from None
    status = asyncio.run(run(plan, env, Console()))
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # all is stopped: a late signal changes nothing
    return status


if __name__ == "__main__":
    sys.exit(main())
