"""What the container image installs: the wheel carries code, migrations and the UI."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tools.embedded_pg import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built as the image builds it."""
    tmp_path = tmp_path_factory.mktemp("wheel")
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
    (built,) = tmp_path.glob("ecoute-*.whl")
    return built


def test_the_wheel_holds_what_the_services_need_at_run_time(wheel: Path) -> None:
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


def dist_info(wheel: Path, name: str) -> str:
    archive = zipfile.ZipFile(wheel)
    (path,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
    return archive.read(path).decode()


def test_the_package_installs_like_a_python_project(wheel: Path) -> None:
    """Console scripts, a licence file and the metadata an index page and pip show."""
    metadata = HeaderParser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["License-Expression"] == "Apache-2.0"
    assert set(metadata.get_all("License-File") or []) == {"LICENSE", "NOTICE"}
    assert "Apache License" in dist_info(wheel, "licenses/LICENSE")
    assert "non-commercial" in dist_info(wheel, "licenses/NOTICE")
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "# Écoute" in metadata.get_payload()
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    (protobuf,) = [r for r in metadata.get_all("Requires-Dist") or [] if r.startswith("protobuf")]
    assert "==" not in protobuf and "<8" in protobuf, protobuf


@pytest.mark.parametrize(
    ("script", "commands"),
    [("ecoute-inbox", "serve,worker,migrate"), ("ecoute-triage", "serve,worker,migrate")],
)
def test_the_console_scripts_run_the_services_commands(
    wheel: Path, script: str, commands: str
) -> None:
    entry_points = dist_info(wheel, "entry_points.txt")
    (line,) = [x for x in entry_points.splitlines() if x.startswith(f"{script} =")]
    target = line.split("=", 1)[1].strip()
    usage = io.StringIO()
    with contextlib.redirect_stdout(usage), pytest.raises(SystemExit) as exit_:
        EntryPoint(script, target, "console_scripts").load()(["--help"])
    assert exit_.value.code == 0
    for command in commands.split(","):
        assert command in usage.getvalue(), (script, command)
