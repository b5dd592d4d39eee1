"""``make run`` refuses to start when a port it needs is taken, and says which variable moves it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.launcher import launched, launcher_environment


async def test_a_taken_port_stops_the_launcher_before_anything_starts(tmp_path: Path) -> None:
    env = launcher_environment(tmp_path)
    fakes = int(env["DEMO_PLATFORMS_PORT"])
    with socket.socket() as triage, socket.socket() as fake:
        triage.bind(("127.0.0.1", int(env["TRIAGE_PORT"])))
        triage.listen()
        fake.bind(("127.0.0.1", fakes + 3))  # one of the fake platforms' eight
        fake.listen()
        async with launched(env) as launcher:
            code = await launcher.wait(30)
    said = launcher.output()
    assert code == 2, said
    assert f"port {env['TRIAGE_PORT']} (triage) is taken" in said
    assert "set TRIAGE_PORT" in said
    assert f"port {fakes + 3} (the fake platforms) is taken" in said
    assert "set DEMO_PLATFORMS_PORT" in said
    assert "nothing was started" in said
    assert "running" not in said and "Postgres" not in said
    assert not (tmp_path / "pgdata").exists() and not (tmp_path / "logs").exists()
