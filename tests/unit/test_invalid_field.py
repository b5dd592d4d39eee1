"""A field the client can fix is answered 422, naming the field."""

from __future__ import annotations

from services.infra.invalid_field import InvalidField


def test_the_answer_names_the_field_and_says_what_is_wrong() -> None:
    problem = InvalidField("/text", "must not be empty", "an empty reply answers no one.").problem(
        "Invalid request"
    )
    assert (problem.status, problem.title) == (422, "Invalid request")
    assert problem.detail == "/text: an empty reply answers no one."
    assert problem.extra == {"errors": [{"pointer": "/text", "detail": "must not be empty"}]}


def test_without_a_sentence_the_detail_is_said() -> None:
    assert str(InvalidField("/base_url", "not an API host")) == "/base_url: not an API host"
