"""Offline FR/EN language guess from stopwords and elision cues.

Good enough to route a post to the right agent queue; anything without a clear
French or English signal (emoji, URLs, other languages) is "other" rather than a
guess.
"""

from __future__ import annotations

import re

from services.triage.domain.normalise import normalise

__all__ = ["STOPWORDS", "detect_language", "detect_normalised", "foreign"]


def _words(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


# Words shared by both languages ("a", "on", "me", "plus", "service", "free") are
# left out on purpose: they would vote for the wrong side.
_FR = _words(
    "le la les de des du un une et est je tu il elle nous vous ils elles ne pas que qui",
    "quoi dans pour par sur avec sans mais ou donc ce cet cette ces mon ma mes ton ta tes",
    "son sa ses notre votre nos vos leur leurs au aux y ai avez avons ont suis es sommes",
    "etes sont etait ete fait faire bonjour bonsoir salut merci depuis toujours encore",
    "rien tout tous toute toutes tres bien aussi meme deja chez quand comment pourquoi",
    "moi toi lui ca cela svp stp jamais personne fois jour jours mois semaine semaines",
    "heure heures oui non ouais mdr peut peux faut vraiment alors sinon comme apres avant",
    "ici aucun aucune panne connexion probleme reseau abonnement facture technicien",
    "quel quelle quels quelles combien parce puis peu trop beaucoup rdv ya en se",
    "qu avoir etre cest jai lors voila bon bah juste vais va vont chaque",
)
_EN = _words(
    "the an and is are was were be been being i you he she it we they my your our their",
    "us him her them this that these those to of in at for with from by as but or not no",
    "do does did have has had will would can could should what when where why how who",
    "which there here just so if about than then very all any some out up get got im",
    "dont cant its thanks thank thx please flight flights hours hold bag bags luggage",
    "delayed plane airline airport gate seat customer help still never again today",
    "tomorrow yesterday lol now time since going want need know really guys hi hey",
    "good morning like having trouble great love way one more make day back new first",
    "last over only after well much other people off into because trying",
)
# A few frequent words of other European languages, so they are not forced into FR/EN.
_OTHER = _words(
    "el los las por para con muy pero gracias hola esta estoy tengo porque donde mi yo",
    "del der das und ist nicht ich mit auf ein eine danke bitte wir sono per che della",
    "grazie ciao questo obrigado voce nao uma com muito estou",
)
# Anchored on the apostrophe so the regex engine can skip straight to candidates.
_FR_ELISION = re.compile(r"'(?<=(?<![a-z])[jldncsmt]')(?=[a-z])|'(?<=(?<![a-z])qu')")
_EN_CONTRACTION = re.compile(r"'(?<=[a-z]')(?:t|m|re|ve|ll|d)(?![a-z])")
_PUNCT = ".,;:!?()[]\"'"
_LEXICON = {**dict.fromkeys(_OTHER, 2), **dict.fromkeys(_EN, 1), **dict.fromkeys(_FR, 0)}
STOPWORDS = frozenset(_LEXICON)  # the frequent words the guess relies on


def _count(tokens: list[str]) -> list[int]:
    """How many tokens are French, English, other-language stopwords, unknown."""
    found = list(map(_LEXICON.get, tokens))  # one C-level pass; None for unknown words
    return [found.count(0), found.count(1), found.count(2), found.count(None)]


def detect_normalised(norm: str) -> str:
    """Language of text already passed through ``normalise``."""
    # Splitting on spaces is much faster than a token regex; stopwords are short and
    # mostly followed by a space. Very short posts are re-read without punctuation.
    tokens = norm.split()
    fr, en, other, _ = _count(tokens)
    if fr + en < 2:
        fr, en, other, _ = _count([t.strip(_PUNCT) for t in tokens])
    if "'" in norm:
        fr += len(_FR_ELISION.findall(norm))
        en += len(_EN_CONTRACTION.findall(norm))
    if other > max(fr, en) or fr == en == 0:
        return "other"
    if fr == en:  # rare tie on a mixed post: an apostrophe leans French ("j'ai", "l'app")
        return "fr" if "'" in norm else "en"
    return "fr" if fr > en else "en"


_LETTER = re.compile(r"[^\W\d_]")


def foreign(norm: str) -> bool:
    """Written in a language we do not serve (not merely too short to tell): other
    languages' frequent words outnumber French and English ones, or most letters are not
    Latin (Arabic, Japanese, Cyrillic, ...). Such a post is routed for a look, not judged."""
    letters = _LETTER.findall(norm)
    if not letters:
        return False
    if sum(1 for c in letters if c.isascii()) * 2 < len(letters):
        return True
    tokens = [t.strip(_PUNCT) for t in norm.split()]
    fr, en, other, _ = _count(tokens)
    return other > fr + en


def detect_language(text: str) -> str:
    """Return "fr", "en" or "other" (empty, emoji-only, URL-only, other languages)."""
    return detect_normalised(normalise(text))
