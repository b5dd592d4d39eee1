"""Language guess used to route posts: French, English, or "other"."""

from __future__ import annotations

import pytest

from services.triage.domain.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour, ma box ne marche plus depuis hier", "fr"),
        ("@Free je n’ai plus Internet 😡 https://t.co/x", "fr"),
        ("JE N'AI PLUS DE RÉSEAU !!!", "fr"),
        ("ça fait 3 jours sans connexion", "fr"),
        ("bonjournje n'ai plus internet depuis 3 jours", "fr"),  # pre-cleaned export form
        ("c'est quoi ce délire", "fr"),
        ("merci beaucoup", "fr"),
        ("My flight was cancelled and nobody can help", "en"),
        ("@united where is my bag?", "en"),
        ("I've been on hold for 2 hours", "en"),
        ("thanks!", "en"),
        ("Hello, my Freebox ne fonctionne plus depuis hier soir", "fr"),  # mixed, mostly French
        ("Bonjour, my flight to Paris was delayed and I missed the connection", "en"),
    ],
)
def test_french_and_english(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😂😂😂",
        "❤️🔥",
        "https://t.co/abc123",
        "@user @user url",
        "12345 !!! ???",
        "hola, ¿dónde está mi maleta? gracias",
        "hola, el vuelo esta cancelado y no tengo mi maleta",  # "no" alone must not make it English
        "Wo ist mein Koffer? Danke",
        "\u0645\u0631\u062d\u0628\u0627",
    ],
)
def test_no_french_or_english_signal_is_other(text: str) -> None:
    assert detect_language(text) == "other"


@pytest.mark.parametrize("text", ["x\ud800y", "a" * 50_000, "<b>" * 1000, "\x00" * 10, "l'" * 3000])
def test_never_raises_and_returns_a_known_code(text: str) -> None:
    assert detect_language(text) in ("fr", "en", "other")
