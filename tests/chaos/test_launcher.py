"""``make run`` under faults: a service killed comes back alone, and two SIGTERMs leave nothing.

Each test runs ``make run`` (``tests.support.launcher``) with its own embedded Postgres and
log folder under the test's tmp folder, and free ports.
"""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp

from tests.support.launcher import gone, launched, launcher_environment

STARTED = r"Écoute is running"
START_SECONDS = 180  # a fresh Postgres, migrations and three children on a busy 2-core machine


async def test_a_killed_service_is_restarted_alone_and_postgres_keeps_running(
    tmp_path: Path,
) -> None:
    async with launched(launcher_environment(tmp_path)) as launcher:
        await launcher.expect(STARTED, START_SECONDS)
        postgres = launcher.postgres_pid()
        before = launcher.children()
        assert set(before) == {"inbox", "triage", "fakes"}

        before["triage"].kill()  # SIGKILL: no handler runs

        said = await launcher.expect(r"↻ triage stopped", 30)
        assert "killed by SIGKILL" in said and "restart 1 in 1 s" in said
        await launcher.expect(r"✓ triage is back \(restart 1", 90)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{launcher.env['TRIAGE_PORT']}/readyz") as answer,
        ):
            assert answer.status == 200
        after = launcher.children()
        assert after["triage"].pid != before["triage"].pid
        assert after["inbox"].pid == before["inbox"].pid  # the others were left alone
        assert after["fakes"].pid == before["fakes"].pid
        assert launcher.postgres_pid() == postgres  # Postgres was not restarted

        launcher.signal_group(signal.SIGINT)  # Ctrl-C
        await launcher.wait(60)
    assert launcher.lines[-1].startswith("• stopped"), launcher.output()


async def test_two_sigterms_to_the_launchers_group_leave_no_process(tmp_path: Path) -> None:
    async with launched(launcher_environment(tmp_path)) as launcher:
        await launcher.expect(STARTED, START_SECONDS)
        stack = launcher.everything()
        roles = launcher.children()
        assert set(roles) == {"inbox", "triage", "fakes"}
        assert any(p.pid == launcher.postgres_pid() for p in stack)

        # make passes on the SIGTERM it gets; another comes during the clean-up (two sent at
        # once would be one: a pending signal is delivered once), then a Ctrl-C.
        launcher.signal_group(signal.SIGTERM)
        await launcher.expect(r"stopping the demo platforms", 30)
        launcher.signal_group(signal.SIGTERM)
        launcher.signal_group(signal.SIGINT)

        await launcher.wait(90)
        assert await gone(stack, 10) == []
    said = launcher.output()
    assert "already stopping" in said
    assert said.index("stopping the demo platforms") < said.index("stopping Postgres")
    assert said.rstrip().endswith("the data stays in " + launcher.env["DEV_PGDATA"] + "/")
