"""Danger first: what makes a post a safety case (P1) or a vulnerable customer's (P2).

Each kind is a short label an agent reads in the reasons ("safety risk: smoke",
"vulnerable customer: disability assistance") and the phrases, French and English, in
normalised form (lower case, no accents; see ``normalise``), that name it. ``rules`` scans
them with every other cue family in one pass (families "safety" and "vulnerable"); this
module only says which kind a found phrase is.

The phrases are specific on purpose: "this fee is killing me", "the new livery is fire",
"mort de rire" or an app that "crashes" are not emergencies, and a single wrong P1 pushes a
real one down the queue. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re

__all__ = ["SAFETY", "VULNERABILITY", "kind_of"]

_KIN = (
    r"(?:mother|father|mom|mum|dad|husband|wife|son|daughter|brother|sister|grandmother|"
    r"grandfather|grandma|grandpa|nan|nana|aunt|uncle|partner|fiance|fiancee|friend|baby|"
    r"child|mere|pere|mari|femme|fils|fille|frere|soeur|grand-mere|grand-pere|tante|oncle|"
    r"conjoint|conjointe|compagnon|compagne|bebe|enfant)"
)
_CHILD = r"(?:child|kid|kids|son|daughter|children|minor|toddler|enfant|enfants|fils|fille|petit)"

SAFETY: dict[str, tuple[str, ...]] = {
    "smoke": (
        r"smoke(?! (?:break|free|show|and mirrors|detector test))",
        r"smoking (?:engine|plug|socket|box|router|wires?|battery|laptop|phone|charger)",
        r"fumee",
        r"(?:ca|box|prise|chargeur|tele|cable|freebox) fume",
        r"(?:smell|smells|smelled|smelling) (?:of )?(?:burning|smoke)",
        r"burning smell",
        r"odeur de (?:brule|cramer|fumee|plastique brule)",
        r"(?:ca|sa) sent le (?:brule|cramer)",
    ),
    "fire": (
        r"(?:en|au|pris|prend|prendre|mis le) feu",
        r"incendie",
        r"caught fire",
        r"catch(?:es|ing)? fire",
        r"set (?:on )?fire",
        r"(?:engine|battery|phone|charger|car|plane|house|kitchen|building|box|router|laptop|"
        r"cabin|plug|socket|oven|microwave|bus|train) (?:is |was |went |caught )?on fire",
        r"fire (?:alarm|on board|in the (?:cabin|engine|kitchen|galley|building|toilet))",
        r"flames",
        r"flammes?",
        r"sparks? (?:coming|flying|from|out)",
        r"sparking",
        r"etincelles?",
        r"court-circuit",
        r"short circuit",
        r"(?:battery|phone|charger|laptop|box|router|device) (?:has |just )?(?:exploded|"
        r"is swollen|swelled|is swelling|is overheating|melted)",
        r"batterie (?:a )?(?:gonflee|gonfle|explose|fondu)",
    ),
    "injury": (
        r"injured",
        r"injuries",
        r"injury (?:to|from|on|in|caused|claim)",
        r"(?:an|my|his|her|their|serious|severe|head|back|neck) injury",
        r"blesse(?:e|es|s)?",
        r"blessures?",
        r"(?:is |was |are )?bleeding",
        r"(?:je |il |elle )?saigne",
        r"concussion",
        r"stitches",
        r"points de suture",
        r"broke (?:my|his|her|their) (?:arm|leg|wrist|ankle|nose|tooth|foot|hand)",
        r"(?:hurt|cut|burned|burnt) (?:my|his|her|their) (?:head|arm|leg|hand|finger|foot|back)",
        r"ambulance",
        r"pompiers",
        r"samu",
        r"(?:aux|les|a l') urgences",
    ),
    "medical emergency": (
        r"medical emergenc\w*",
        r"urgences? medicales?",
        r"heart attack",
        r"crise cardiaque",
        r"seizures?",
        r"crise d'epilepsie",
        r"anaphyla\w*",
        r"allergic reaction",
        r"choc allergique",
        r"unconscious",
        r"inconsciente?",
        r"evanoui\w*",
        r"fainted",
        r"collapsed",
        r"(?:can't|cannot|couldn't|could not) breathe",
        r"(?:ne )?respire (?:plus|pas|mal)",
        r"(?:had|having|suffered) a stroke",
        r"avc",
        r"oxygen (?:machine|concentrator|supply|tank)",
    ),
    "medical alarm": (
        r"teleassistance",
        r"tele-assistance",
        r"(?:medical|personal|emergency) (?:alarm|alert) (?:pendant|system|button|device)",
    ),
    "threat": (
        r"threatened (?:me|us|my|him|her|to (?:kill|hurt|hit|beat|stab|shoot))",
        r"threatening (?:me|us|behaviou?r|passengers?|man|woman|guy)",
        r"death threats?",
        r"menaces? de mort",
        r"(?:m'a|nous a|l'a|m'ont) menacee?s? (?:de mort|physiquement|avec)",
        r"menacante?",
        r"assault\w*",
        r"agresse(?:e|es|s)?",
        r"agression",
        r"agresser",
        r"agresseur",
        r"attacked (?:me|us|my|him|her|a passenger)",
        r"(?:punched|slapped|shoved|kicked|groped) (?:me|my|him|her|us)",
        r"weapons?",
        r"(?:with|had|has|pulled|carrying) (?:a )?(?:gun|knife)",
        r"(?:avec un|sorti un) (?:couteau|arme)",
        r"bombe? (?:threat|scare|alert)",
        r"alerte a la bombe",
        r"stalk(?:ed|ing|er)",
        r"sexually harass\w*",
        r"harassed (?:me )?(?:on board|by (?:a|another|the) (?:passenger|driver|man|woman|guy))",
    ),
    "child alone": (
        _CHILD + r" (?:aged \d{1,2} )?(?:is |was |are |were |left )?(?:alone|on (?:his|her|their) "
        r"own|stranded|missing(?! out)|unattended)",
        r"lost (?:my|our) (?:child|kid|son|daughter)",
        r"unaccompanied minors? (?:is |was )?(?:alone|stranded|missing|lost|left|waiting)",
        r"(?:enfant|fils|fille|petit|petite) (?:de \d{1,2} ans )?(?:est |etait |reste )?"
        r"(?:tout seul|toute seule|seule?|perdue?|disparue?|livree? a (?:lui|elle)-meme)",
    ),
    "security risk": (
        r"(?:front|car|cabin|plane|aircraft|house|apartment|entry|emergency|back) doors? "
        r"(?:won't|wont|doesn't|does not|did not|didn't|can't|cannot|will not) (?:lock|close|shut)",
        r"(?:can't|cannot|couldn't) lock (?:my|the|our) (?:door|car|house|front door)",
        r"(?:someone|somebody|they) (?:broke|has broken|have broken) in",
        r"break-?in",
        r"burglar\w*",
        r"cambriol\w*",
        r"intrus",
        r"intruders?",
        r"security (?:risk|threat|hazard)",
        r"risque pour (?:la|ma|notre) securite",
        r"(?:alarm|alarm system|security system) (?:is )?(?:not working|down|off|failed|"
        r"disabled|won't arm)",
        r"alarme (?:ne (?:marche|fonctionne) (?:plus|pas)|en panne|hs|desactivee)",
        r"emergency exits? (?:blocked|locked|obstructed)",
        r"sorties? de secours (?:bloquee|fermee|encombree)s?",
        r"(?:unattended|suspicious) (?:bag|package|person|item)",
        r"colis suspect",
        r"portes? (?:forcee|fracturee|ne ferme plus|ne se ferme plus)s?",
    ),
    "turbulence": (
        r"(?:overhead|luggage|baggage) (?:bin|bins|locker|lockers|compartment|compartments) "
        r"(?:fell|falling|popped open|popped|burst open|flew open|came open|came loose|"
        r"swung open|opened|open (?:in|during|mid))",
        r"(?:fell|falling|fall) (?:on|onto) (?:my|his|her|their|a|the) (?:head|child|son|"
        r"daughter|kid|lap|passenger|wife|husband)",
        r"hit (?:me|my|him|her|his|a passenger) (?:on|in) the head",
        r"coffres? a bagages? (?:ouvert|s'est ouvert|tombe|est tombe)",
        r"tombee?s? sur (?:la tete|ma tete|mon|ma|sa|son)",
        r"severe turbulence",
        r"turbulences? (?:violentes?|tres fortes)",
        r"(?:in|during|mid) turbulence",
    ),
    "gas leak": (
        r"gas leak",
        r"(?:smell|smells|smelled|smelling) (?:of )?gas",
        r"fuite de gaz",
        r"odeur de gaz",
        r"carbon monoxide",
        r"monoxyde",
    ),
    "electric shock": (
        r"electric(?:al)? shocks?",
        r"electrocut\w*",
        r"(?:got|get|getting) (?:a )?shock(?:ed)? (?:from|by|off)",
        r"decharge electrique",
        r"(?:exposed|bare|live) (?:wires?|cables?)",
        r"fils? (?:sont |est )?(?:denudes?|a nu)",
    ),
    "fallen cable": (
        r"(?:cable|fil|poteau)s? (?:arrache|tombe|pend|au sol)\w*",
        r"(?:cable|wire|pole)s? (?:hanging|dangling|on the (?:ground|road|street|pavement|"
        r"sidewalk))",
        r"(?:fallen|downed) (?:cable|wire|pole|line)s?",
    ),
    "danger": (
        r"dangereu\w*",
        r"danger",
        r"en danger",
        r"unsafe",
        r"not safe",
        r"safety (?:issue|hazard|concern|risk)",
        r"mise en danger",
    ),
}

VULNERABILITY: dict[str, tuple[str, ...]] = {
    "disability assistance": (
        r"handicap\w*",
        r"disabled",
        r"disability",
        r"disabilities",
        r"wheel ?chairs?",
        r"fauteuil roulant",
        r"pmr",
        r"special assistance",
        r"(?:mobility|boarding|wheelchair|airport) (?:assistance|aid|scooter)",
        r"(?:assistance|aide) (?:pmr|a l'embarquement|speciale)",
        r"blind",
        r"deaf(?! ears)",
        r"aveugle",
        r"malvoyante?",
        r"malentendante?",
        r"(?:suis|est|personne|enfant|client|cliente) sourde?",
        r"autis\w*",
        r"guide dog",
        r"chien guide",
        r"reduced mobility",
        r"mobilite reduite",
    ),
    "bereavement": (
        r"passed away",
        r"bereave\w*",
        r"funeral",
        r"deuil",
        r"deces",
        r"decedee?",
        r"obseques",
        r"enterrement",
        r"(?:my|our|ma|mon) " + _KIN + r" (?:just |has |had |recently )?(?:died|passed|est mort|"
        r"est morte|est decedee?|nous a quittes)",
    ),
    "a minor": (
        r"unaccompanied minors?",
        r"(?:my|our|ma|mon|notre) " + _CHILD + r" (?:of |de |is |aged )?(?:[1-9]|1[0-7])"
        r"(?: years? old| ans|yo)?",
        r"(?:[1-9]|1[0-7])[- ]year[- ]old",
        r"toddlers?",
        r"infants?",
        r"nourrissons?",
        r"newborn",
        r"mineure?s?",
        r"(?:mon|notre|ma) bebe",
    ),
    "elderly person": (
        r"(?:ma|mon|my) (?:mere|pere|grand-mere|grand-pere|voisine|voisin|mother|father|mom|"
        r"dad|grandmother|grandfather|grandma|grandpa) (?:de |a |of |is )?\d{2}(?: ans| years)?",
        r"\d{2} (?:ans|piges) qui vit seule?",
        r"(?:[6-9]\d|1[01]\d)[- ]year[- ]old",
        r"personnes? agees?",
        r"elderly",
        r"pensioners?",
    ),
    "pregnancy": (
        r"pregnant\w*",
        r"enceinte",
    ),
    "financial distress": (
        r"(?:can't|cannot|can not|couldn't) afford",
        r"unemployed",
        r"lost my job",
        r"(?:no|out of) money (?:left|for food|to eat)",
        r"food ?bank",
        r"evict\w*",
        r"(?:pas|plus) les moyens",
        r"(?:au )?chomage",
        r"plus (?:un sou|un rond|rien pour manger)",
        r"surendett\w*",
        r"huissiers?",
        r"expulsion",
        r"rsa",
        r"minima sociaux",
        r"fin de mois difficile",
        r"a decouvert",
        r"overdrawn",
    ),
    "medical condition": (
        r"hemophil\w*",
        r"diabet\w*",
    ),
}

_PATTERNS = {
    table: {kind: re.compile("(?:" + "|".join(fragments) + ")") for kind, fragments in t.items()}
    for table, t in (("safety", SAFETY), ("vulnerable", VULNERABILITY))
}


@functools.lru_cache(maxsize=4096)
def kind_of(family: str, phrase: str) -> str | None:
    """Which kind of danger ("smoke", "bereavement", ...) a found phrase of ``family``
    ("safety" or "vulnerable") names; None for another family."""
    for kind, pattern in _PATTERNS.get(family, {}).items():
        if pattern.fullmatch(phrase):
            return kind
    return None
