"""``python -m services.triage eval --data FILE.csv``: one JSON object, labels from FILE only."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from services.triage.domain.model import load
from tools.embedded_pg import ROOT

KEYS = {"precision", "recall", "f1", "macro_f1", "n"}


def run_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.triage", "eval", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_eval_prints_one_json_object_with_every_metric(tmp_path: Path) -> None:
    data = write(
        tmp_path / "labelled.csv",
        ["id", "lang", "text", "needs_answer", "intent", "abuse"],
        [
            ["1", "fr", "plus d'internet depuis ce matin", "1", "problem", "0"],
            ["2", "fr", "bravo pour la nouvelle box", "0", "praise", "0"],
            ["3", "en", "my bag never arrived", "1", "problem", "0"],
            ["4", "en", "lol same", "0", "", ""],  # no intent, no abuse label
            ["5", "en", "your agent is a stupid bitch", "0", "abuse", "1"],
            ["6", "", "¿dónde está mi maleta?", "1", "question", "0"],
        ],
    )
    result = run_eval("--data", str(data))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert set(report) == {
        "needs_answer",
        "by_lang",
        "in_thread",
        "abuse",
        "intent_macro_f1",
        "model_version",
    }
    assert set(report["needs_answer"]) == KEYS
    assert set(report["by_lang"]) == {"fr", "en"}
    assert all(set(v) == KEYS for v in report["by_lang"].values())
    assert set(report["abuse"]) == {"precision", "recall", "f1", "n"}
    assert report["needs_answer"]["n"] == 6
    assert report["in_thread"]["n"] == 0  # no parent column: no thread replies
    assert report["by_lang"]["fr"]["n"] == 2  # the lang column decides
    assert report["abuse"]["n"] == 5  # the row with an empty abuse label is left out
    assert 0.0 <= report["intent_macro_f1"] <= 1.0
    assert report["model_version"] == load().version


def test_eval_needs_only_the_three_required_columns(tmp_path: Path) -> None:
    data = write(
        tmp_path / "minimal.csv",
        ["id", "text", "needs_answer"],
        [["a", "my flight was cancelled, please help", "1"], ["b", "great crew, thanks!", "0"]],
    )
    report = json.loads(run_eval("--data", str(data)).stdout)
    assert report["needs_answer"]["n"] == 2
    assert report["abuse"]["n"] == 0
    assert report["by_lang"]["en"]["n"] == 2  # detected when the file has no lang column


def test_a_file_without_the_required_columns_is_refused(tmp_path: Path) -> None:
    data = write(tmp_path / "bad.csv", ["id", "body"], [["1", "hello"]])
    result = run_eval("--data", str(data))
    assert result.returncode == 2
    assert "needs_answer" in result.stderr
    assert result.stdout == ""


def test_a_parent_column_decides_replies_in_their_thread(tmp_path: Path) -> None:
    """After the brand's "please DM us", "DM sent" is a case and "all sorted" closes it."""
    asking = "Sorry to hear that! Please DM us your confirmation number."
    rows = [
        ["1", "en", "@Delta DM sent", "1", "problem", "0", asking],
        ["2", "en", "@united all sorted now, thanks!", "0", "praise", "0", asking],
        ["3", "en", "@united my bag never arrived", "1", "problem", "0", ""],
    ]
    with_parent = write(
        tmp_path / "threads.csv",
        ["id", "lang", "text", "needs_answer", "intent", "abuse", "parent"],
        rows,
    )
    result = run_eval("--data", str(with_parent))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["in_thread"]["n"] == 2
    assert report["in_thread"]["recall"] == 1.0
    assert report["in_thread"]["precision"] == 1.0
    assert report["needs_answer"]["n"] == 3
