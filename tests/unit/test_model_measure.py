"""How the model is measured: gold sources, folds, brand groups, thread replies in eval."""

from __future__ import annotations

import pytest

from services.triage.domain.triage import Decision
from services.triage.training import cv, data, evaluate


def example(i: str, text: str, **kw: object) -> data.Example:
    fields = {"lang": "en", "source": "pool2", "needs_answer": 1, "gold": True, "origin": "twcs"}
    fields.update(kw)
    return data.Example(text=text, id=i, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "rows", "follow_ups", "origins"),
    [
        ("pool2", 1500, 200, {"twcs", "twcs_follow_up", "complaints", "airline"}),
        ("pool3", 990, 200, {"twcs", "twcs_follow_up", "complaints", "airline", "free", "mlma"}),
    ],
)
def test_pools_2_and_3_are_gold_with_their_thread_parents(
    source: str, rows: int, follow_ups: int, origins: set[str]
) -> None:
    gold = data.all_gold(corrections=None)
    pool = [e for e in gold if e.source == source]
    assert len(pool) >= rows
    assert sum(1 for e in pool if e.parent) >= follow_ups
    assert {e.origin for e in pool} >= origins
    assert all(e.origin in ("airline", "free") for e in gold if e.source in ("dev", "pool1"))


def test_a_measuring_model_never_sees_a_held_out_post_through_a_public_copy() -> None:
    gold = data.all_gold(corrections=None)
    held = frozenset(e.id for e in gold if e.source == "pool2" and e.origin == "airline")
    corpus = data.load(held_out=held, corrections=None)
    held_texts = {e.text for e in gold if e.id in held}
    assert not any(e.text in held_texts for e in corpus.examples)
    assert not any(e.id in held for e in corpus.examples)


def test_the_same_reply_alone_and_in_a_thread_are_two_gold_posts() -> None:
    alone = example("a", "DM sent.", needs_answer=0)
    replying = example("b", "DM sent.", parent="Please DM us your booking reference")
    again = example("c", "dm SENT.", needs_answer=0)
    kept = list(data._dedupe_gold([alone, replying, again]))
    assert [e.id for e in kept] == ["a", "b"]


def test_folds_keep_copies_together_and_are_stable() -> None:
    rows = [example(f"{i}", f"post number {i % 40}", needs_answer=i % 2) for i in range(200)]
    folds = cv.assign_folds(rows, 5, 7)
    assert folds == cv.assign_folds(list(reversed(rows)), 5, 7)
    by_text: dict[str, set[int]] = {}
    for e in rows:
        by_text.setdefault(e.text, set()).add(folds[e.id])
    assert all(len(f) == 1 for f in by_text.values())
    assert set(folds.values()) == set(range(5))


def test_brand_groups_and_slices() -> None:
    assert cv.group_of(example("1", "x", origin="airline", brand="Delta")) == "airline"
    assert cv.group_of(example("2", "x", brand="British_Airways")) == "airline"
    assert cv.group_of(example("3", "x", brand="XboxSupport")) == "tech"
    assert cv.group_of(example("4", "x", origin="complaints", brand="food")) == "retail"
    assert cv.group_of(example("5", "x", origin="mlma", brand="none")) is None
    assert cv.group_of(example("6", "x", lang="fr", origin="free", brand="Free")) is None
    assert cv.slice_of(example("7", "x", origin="twcs_follow_up")) == "en-brands"
    assert cv.slice_of(example("8", "x", origin="airline")) == "en-airline"
    keep = cv.keep_public_without("airline")
    assert not keep(data.Example("x", "en", "airline"))
    assert keep(data.Example("x", "en", "complaints", brand="food"))
    assert not cv.keep_public_without("retail")(data.Example("x", "en", "complaints", brand="food"))


def test_eval_measures_thread_replies_apart() -> None:
    rows = [
        evaluate.Row("1", "DM sent", 1, "en", None, None, parent="Please DM us"),
        evaluate.Row("2", "thanks!", 0, "en", None, None, parent="Glad to help"),
        evaluate.Row("3", "my bag never arrived", 1, "en", None, None),
    ]
    yes = Decision(True, "problem", False, "en", 3, 0.9, ("r",), "v")
    no = Decision(False, "praise", False, "en", 4, 0.9, ("r",), "v")
    result = evaluate.report(rows, [yes, yes, yes], "v")
    assert result["in_thread"]["n"] == 2
    assert result["in_thread"]["precision"] == 0.5
    assert evaluate.report(rows, [yes, no, yes], "v")["in_thread"]["macro_f1"] == 1.0


def test_the_demo_check_decides_replies_with_their_thread() -> None:
    from services.triage.domain.triage import default_triage
    from services.triage.training import run

    result = run.demo_check(default_triage())
    queue = result["queue"]
    assert queue["no_answer_messages"] + queue["needed_messages"] == result["needs_answer"]["n"]
    assert len(queue["wrong"]) == queue["no_answer_in_queue"] + queue["needed_missed"]
    closings = {"d-0048", "d-0155"}  # "All sorted now, thanks Mia!" after the brand's answer
    assert not closings & {w["id"] for w in queue["wrong"]}


def test_pool3_is_held_out_of_training_and_measured_as_unseen() -> None:
    corpus = data.load(corrections=None)
    unseen = data.unseen_gold()
    assert len(unseen) >= 990
    assert not any(e.source == "pool3" for e in corpus.examples)
    texts = {e.text for e in unseen}
    assert not any(e.text in texts for e in corpus.examples)
