"""What the container image installs: the wheel carries code, migrations and the UI."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tools.embedded_pg import ROOT


def test_the_wheel_holds_what_the_services_need_at_run_time(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("ecoute-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "services/infra/alembic/env.py",
        "services/infra/alembic/script.py.mako",
        "services/infra/alembic/versions/e0001_event_transport.py",
        "services/inbox/migrations/i0001_ingest.py",
        "services/triage/migrations/t0001_desk.py",
        "services/triage/ui/index.html",
        "services/triage/ui/queue.js",
        "ecoute/v1/events_pb2.py",
        "services/inbox/__main__.py",
    ):
        assert needed in names, needed
    migrations = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("services/*/migrations/*.py")}
    assert migrations <= names


def test_the_image_runs_as_an_unprivileged_user_from_a_slim_final_stage() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert len(stages) == 2 and all("slim" in s for s in stages)
    final = dockerfile.split("\nFROM ")[-1]
    assert re.search(r"^USER\s+10001", final, flags=re.M)
    assert "pip install" not in final and "apt-get" not in final
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and "!services/" in ignored
