"""``make run``'s terminal: one line per error (once a minute), the demo's lines, the status."""

from __future__ import annotations

import io
import re
from pathlib import Path

import orjson

from tools.dev import DEMO_TEAM, Access, Plan, banner, demo_secrets, port_problems
from tools.dev_console import Console, LogWatch, Status, last_words, summarise

DEADLOCK = {
    "level": "error",
    "service": "triage",
    "logger": "ecoute.worker",
    "event": "sla scheduler failed; retrying in 0.5 s",
    "component": "sla scheduler",
    "sqlstate": "40P01",
    "db_message": "deadlock detected",
    "error_type": "DBAPIError",
}


def test_an_error_line_says_what_failed_why_and_what_happens_next() -> None:
    assert summarise(DEADLOCK) == (
        "sla scheduler failed; retrying in 0.5 s — SQLSTATE 40P01 deadlock detected"
    )
    crash = {"level": "error", "logger": "ecoute.poller", "event": "poll failed",
             "error_type": "OSError"}  # fmt: skip
    assert summarise(crash) == "ecoute.poller: poll failed — OSError"


def test_the_log_watch_shows_errors_once_a_minute_and_the_demo_lines(tmp_path: Path) -> None:
    log = tmp_path / "triage.log"
    log.write_text('{"level": "error", "event": "old news"}\n')  # before the watch: not shown
    out = io.StringIO()
    watch = LogWatch(Console(out, tty=False), {"triage": log})
    info = {"level": "info", "event": "listening"}
    again = {**DEADLOCK, "event": "sla scheduler failed; retrying in 1.0 s"}
    with log.open("ab") as file:
        for entry in (info, DEADLOCK, again):
            file.write(orjson.dumps(entry) + b"\n")
        file.write("• demo: something to see\nTraceback (most recent".encode())
    watch.read()
    assert out.getvalue().splitlines() == [
        f"✗ triage: {summarise(DEADLOCK)} [{log}]",
        "• demo: something to see",
    ]
    with log.open("ab") as file:
        file.write(b" call last):\nValueError: bad\n")
    watch.read()  # the rest of the half-written line, not an error entry
    assert len(out.getvalue().splitlines()) == 2
    assert last_words(log) == "ValueError: bad"


def test_off_a_terminal_the_status_is_printed_when_it_changes() -> None:
    out = io.StringIO()
    console = Console(out, tty=False)
    for line in ("3 in", "3 in", "4 in"):
        console.status(line)
    console.say("✗ news")
    printed = out.getvalue().splitlines()
    assert [line.split(" · ", 1)[1] for line in printed[:2]] == ["3 in", "4 in"]
    assert printed[2] == "✗ news"


def test_on_a_terminal_news_goes_above_the_status_line() -> None:
    out = io.StringIO()
    console = Console(out, tty=True)
    console.status("3 in")
    console.say("✗ news")
    assert out.getvalue().endswith("\r\x1b[K✗ news\n" + out.getvalue().rsplit("\n", 1)[1])
    assert out.getvalue().rsplit("\n", 1)[1].endswith("3 in")


def test_a_restarted_services_counts_carry_on_from_where_they_were() -> None:
    status = Status("http://inbox", "http://triage")
    assert [status._count("in", n) for n in (5, 9, 0, 2)] == [5, 9, 9, 11]


def test_ports_given_twice_are_named_with_their_variable() -> None:
    plan = Plan.from_environment({"INBOX_PORT": "48090", "DEMO_PLATFORMS_PORT": "48090"})
    problems = port_problems(plan)
    assert any("given to both the inbox and the fake platforms" in p for p in problems)
    assert any("DEMO_PLATFORMS_PORT" in p for p in problems)


def test_the_demo_teams_tokens_and_password_stay_the_same_across_runs(tmp_path: Path) -> None:
    folder = tmp_path / "pgdata"
    first = demo_secrets(folder, {})
    assert demo_secrets(folder, {}) == first  # a restart: the same ones, none added
    assert set(first) == {email for _, email in DEMO_TEAM} | {"ingest", "channels", "password"}
    assert all(first[email].startswith("eca_") for _, email in DEMO_TEAM)
    assert first["ingest"].startswith("eci_") and len(first["password"]) >= 12
    assert (folder / "demo-access.json").stat().st_mode & 0o777 == 0o600
    given = demo_secrets(folder, {"DEMO_AGENT_TOKEN": "eca_given", "DEMO_INGEST_TOKEN": "eci_x"})
    assert given["agent@demo.ecoute"] == "eca_given" and given["ingest"] == "eci_x"
    assert demo_secrets(folder, {}) == first  # an override is not kept


def test_the_banner_gives_each_of_the_team_a_link_and_the_password() -> None:
    plan = Plan.from_environment({})
    links = [(r, e, f"http://127.0.0.1:8081/#signin=ecl_{i}") for i, (r, e) in enumerate(DEMO_TEAM)]
    said = banner(plan, Access(links, "demo-secret-pw", "eca_a", "eca_l", "eci_i", "eci_c"))
    assert "Écoute is running" in said and "#token=" not in said
    for role, email, link in links:
        assert re.search(rf"^    {role}\s+{re.escape(email)}\s+{re.escape(link)}$", said, re.M)
    assert said.count("#signin=") == 4
    assert "the password demo-secret-pw" in said
