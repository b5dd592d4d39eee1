"""Normalisation: one canonical form for live traffic and pre-cleaned exports."""

from __future__ import annotations

import pytest

from services.triage.domain.normalise import MAX_CHARS, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bonjour Free", "bonjour free"),
        ("Élève à l'hôpital, ça va ?", "eleve a l'hopital, ca va ?"),
        ("Je n’ai plus d’Internet", "je n'ai plus d'internet"),
        ("cœur", "coeur"),
        ("ＦＲＥＥ ﬁbre", "free fibre"),  # full-width letters and ligature (compatibility folding)
        ("𝐏𝐀𝐍𝐍𝐄", "panne"),  # "fancy" maths letters used to dodge filters
        ("b̶e̶n̶", "ben"),  # strike-through combining marks
        ("  plus\n\nde   réseau\t! ", "plus de reseau !"),
        ("voir https://t.co/AbC123 et www.free.fr/assistance", "voir url et url"),
        ("@Free_Mobile @SFR bonjour", "@user @user bonjour"),
        ("email moi: jean.dupont@gmail.com", "email moi: jean.dupont@gmail.com"),
        ("&lt;b&gt;Panne&lt;/b&gt; &amp; coupure", "panne & coupure"),
        ("<p>Ma <b>box</b> est HS</p>", "ma box est hs"),
        ("", ""),
        ("   \n\t ", ""),
    ],
)
def test_canonical_form(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # the pre-cleaned French exports: a line break became an "n" glued to the next word
        (
            "bonjournje n'ai plus internet depuis 3 jours",
            "bonjour je n'ai plus internet depuis 3 jours",
        ),
        ("nnvous m’avez prélevé 39,99€", "vous m'avez preleve 39,99€"),
        ("bonjour nnla messagerie", "bonjour la messagerie"),
        ("merci.nj'ai toujours rien", "merci. j'ai toujours rien"),
        ("bien reçu, riennje comprends pas", "bien recu, rien je comprends pas"),
    ],
)
def test_pre_cleaned_line_breaks_are_unglued(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "word",
    [
        "non",
        "nous",
        "banque",
        "commandes",
        "personnelle",
        "internet",
        "connexion",
        "ninja",
        "bonne",
    ],
)
def test_real_words_with_n_are_not_split(word: str) -> None:
    assert normalise(word) == word


def test_length_is_capped() -> None:
    assert len(normalise("a" * 20_000)) == MAX_CHARS
    assert len(normalise("é " * 10_000)) <= MAX_CHARS


def test_handle_after_dot_is_replaced() -> None:
    assert "@user" in normalise(".@united my bag is lost")


@pytest.mark.parametrize(
    "raw",
    [
        "x\ud800y",  # lone high surrogate
        "\udfff",  # lone low surrogate
        "\ud83d",  # half an emoji
        "\x00\x01\x1b[31m panne",
        "\u202e\u0645\u0631\u062d\u0628\u0627",  # right-to-left override + Arabic
        "Z̵̡̢̛̗͈̹̪͕̲̤͈̫̦̖̦̲͆̏̓̂̒̈̂͑̈́̓͂̾̕͠a̷l̶g̵o̴",
        "&#xd800; &#0; &bogus; &#99999999;",
        "<" * 500 + ">" * 500,
    ],
)
def test_never_raises_on_odd_strings(raw: str) -> None:
    out = normalise(raw)
    assert isinstance(out, str)
    out.encode("utf-8")  # result is always valid text


def test_valid_surrogate_pair_becomes_the_character() -> None:
    assert normalise("\ud83d\ude00 ok") == "😀 ok"


@pytest.mark.parametrize(
    "raw",
    [
        "nbonjournje ne reçois plus les chaînes",
        "tea&amp;not coffee",
        "Hello @united, see https://t.co/x !!",
        "Ça fait 3 jours sans INTERNET 😡",
        "rien\n\nje comprends pas",
        "x\ud800y",
    ],
)
def test_normalising_twice_changes_nothing(raw: str) -> None:
    once = normalise(raw)
    assert normalise(once) == once


def test_only_well_formed_entities_are_decoded() -> None:
    assert normalise("tea&not coffee, a&b &eacute;t&eacute;") == "tea&not coffee, a&b ete"
