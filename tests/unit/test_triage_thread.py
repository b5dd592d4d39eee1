"""Conversation context: a reply after the brand answered or asked needs an answer unless it
closes the case; a bare reference or "DM sent" answering the brand needs one."""

from __future__ import annotations

import pytest

from services.triage.domain.thread import ANSWERED, ASKED, NONE, Thread, asks_for_details
from services.triage.domain.triage import decide

ASKING = "Sorry to hear that! Please DM us your confirmation number and we'll take a look."
DEMANDE = "Bonjour, pouvez-vous nous envoyer votre identifiant en message privé ?"
ANSWER = "Your refund was issued today, it can take 5 to 7 days to show on your statement."


@pytest.mark.parametrize(
    ("text", "thread"),
    [
        ("DM sent", Thread(ANSWERED, ASKING)),
        ("@Delta DM sent.", Thread(ASKED)),
        ("ABC123", Thread(ASKED)),
        ("QX7M2L", Thread(ANSWERED, ASKING)),
        ("https://t.co/abc123", Thread(ANSWERED, "Could you send us a screenshot?")),
        ("c'est fait", Thread(ANSWERED, DEMANDE)),
        ("0612345678", Thread(ASKED)),
        ("I did.", Thread(ANSWERED, ASKING)),
    ],
)
def test_details_handed_to_the_brand_need_an_answer(text: str, thread: Thread) -> None:
    d = decide(text, thread=thread)
    assert d.needs_answer
    assert "sends the details the brand asked for" in d.reasons
    assert d.priority <= 3


@pytest.mark.parametrize(
    ("text", "thread"),
    [
        ("merci c'est réglé", Thread(ANSWERED, ANSWER)),
        ("All sorted now, thanks Mia!", Thread(ANSWERED, ANSWER)),
        ("thanks!", Thread(ANSWERED, ANSWER)),
        ("Merci beaucoup 🙏", Thread(ANSWERED, ANSWER)),
        ("ok great, thank you", Thread(ANSWERED, ANSWER)),
        ("super merci, bonne journée", Thread(ANSWERED, ANSWER)),
    ],
)
def test_a_reply_that_closes_the_case_needs_no_answer(text: str, thread: Thread) -> None:
    d = decide(text, thread=thread)
    assert not d.needs_answer
    assert d.priority == 4


@pytest.mark.parametrize(
    "text",
    [
        "still nothing on my statement",
        "it's been 10 days",
        "and what about the hotel?",
        "toujours rien reçu",
        "ok but the app says otherwise",
        "thanks, but the money is still not there",
    ],
)
def test_a_reply_after_the_brand_answered_needs_an_answer(text: str) -> None:
    d = decide(text, thread=Thread(ANSWERED, ANSWER))
    assert d.needs_answer
    assert d.priority <= 3


@pytest.mark.parametrize("text", ["Done.", "sure thing", "ok", "Thanks robbie. Ecclesall rd"])
def test_an_ok_to_a_brand_that_asked_for_something_carries_the_case_on(text: str) -> None:
    d = decide(text, thread=Thread(ASKED, "Which store was this? Can you try again?"))
    assert d.needs_answer
    assert "closes the conversation" not in d.reasons


def test_the_same_words_alone_and_in_a_thread() -> None:
    """ "DM sent." to nobody in particular says little; after "please DM us" it is a case."""
    assert decide("DM sent.", thread=Thread(ANSWERED, ASKING)).needs_answer
    assert decide("@united 12345", thread=Thread(ASKED)).needs_answer


def test_no_thread_or_a_thread_without_the_brand_changes_nothing() -> None:
    for text in ("thanks!", "my bag never arrived", "lol"):
        assert decide(text, thread=Thread(NONE)) == decide(text)
        assert decide(text, thread=None) == decide(text)


@pytest.mark.parametrize(
    ("parent", "asks"),
    [
        (ASKING, True),
        (DEMANDE, True),
        ("Which store was this?", True),
        ("Envoyez-nous votre numéro de ligne en MP", True),
        (ANSWER, False),
        ("Glad we could help, enjoy your flight!", False),
        ("", False),
    ],
)
def test_a_brand_message_asking_for_details(parent: str, asks: bool) -> None:
    assert asks_for_details(parent) is asks
    assert Thread(ANSWERED, parent).brand_asked is asks


def test_thread_flags_for_the_model() -> None:
    assert Thread(NONE).context() == ()
    assert Thread(ANSWERED, ANSWER).context() == ("thread_reply",)
    assert Thread(ASKED).context() == ("thread_reply", "thread_asked")
