"""The locks `make lock` writes are current: the dev environment's (requirements/dev.txt) and
the image's run-time dependencies (requirements/image.txt)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.txt"
IMAGE_LOCK = ROOT / "requirements" / "image.txt"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def pins(text: str) -> dict[str, set[Version]]:
    """Each locked name and its versions (a universal lock may pin one per Python)."""
    found: dict[str, set[Version]] = {}
    for line in text.splitlines():
        if match := PIN.match(line):
            found.setdefault(canonicalize_name(match[1]), set()).add(Version(match[2]))
    return found


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + [
        r for e in extras for r in project["optional-dependencies"][e]
    ]
    return [Requirement(r) for r in wanted]


def stale(text: str, *extras: str) -> list[str]:
    """The declared requirements the lock leaves out or pins outside their range."""
    locked = pins(text)
    return [
        str(r)
        for r in declared(*extras)
        if not any(r.specifier.contains(v) for v in locked.get(canonicalize_name(r.name), ()))
    ]


def test_the_locks_pin_every_declared_requirement_within_its_range() -> None:
    assert stale(LOCK.read_text(encoding="utf-8"), "dev") == [], "run `make lock`"
    assert stale(IMAGE_LOCK.read_text(encoding="utf-8")) == [], "run `make lock`"


def test_the_image_lock_holds_no_development_tool() -> None:
    locked = pins(IMAGE_LOCK.read_text(encoding="utf-8"))
    assert {"pytest", "mypy", "ruff", "playwright", "pgserver"} & set(locked) == set()


def test_a_lock_missing_a_package_or_pinning_out_of_range_is_stale() -> None:
    text = LOCK.read_text(encoding="utf-8")
    without = re.sub(r"^holidays==.*$", "", text, flags=re.M)
    assert stale(without, "dev") == [next(str(r) for r in declared() if r.name == "holidays")]
    old_protobuf = re.sub(r"^protobuf==\S+", "protobuf==6.33.0", text, flags=re.M)
    assert [r for r in stale(old_protobuf, "dev") if r.startswith("protobuf")]


def test_every_locked_package_is_hashed_so_pip_checks_what_it_downloads() -> None:
    for lock in (LOCK, IMAGE_LOCK):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8"))
        locked = [b for b in blocks if PIN.match(b)]
        assert len(locked) > 30, lock
        assert [b.split()[0] for b in locked if "--hash=sha256:" not in b] == [], lock
