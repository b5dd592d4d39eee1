"""What the triage model reads in a post: hashed character and word n-grams, plus a few flags.

Pure and shared by training and inference, so the two can never disagree. The input is the
normalised text (see ``normalise``). Features, all hashed into ``HASHED`` buckets with a fixed
64-bit polynomial hash (never Python's ``hash``, which changes per process):

- character 2–5-grams inside words, each word padded with a space on both sides (so "panne"
  gives " p", "pa", … and " pann", "anne "), digits folded to "0" so flight numbers and
  dates share features;
- word unigrams and bigrams (a word is a run of letters or digits);
- dense flags after the hashed block: question or exclamation mark, a link, a handle inside
  the text (leading handles only say who is addressed and are dropped), length bands, the
  rule cue families found by ``rules.scan`` ("outage", "money", …), and the thread context
  (a reply to the brand, which asked for details or not).

Values: each distinct character n-gram weighs 1/√(number of distinct character n-grams),
each distinct word feature 1/√(number of distinct word features), flags 1; a word pasted
500 times weighs as once. A linear score is then one gather and one dot product, vectorised
with numpy: no per-n-gram Python loop.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FLAGS",
    "HASHED",
    "HASHED_BITS",
    "N_FEATURES",
    "Features",
    "extract",
]

HASHED_BITS = 18
HASHED = 1 << HASHED_BITS
MAX_FEATURE_CHARS = 2_000  # a post longer than this is judged on its first 2,000 characters
CHAR_NGRAMS = (2, 3, 4, 5)

# Order matters (it is the artifact's layout): append new flags at the end only.
FLAGS = (
    "has_question_mark",
    "has_exclamation",
    "has_link",
    "mentions_someone",
    "words_1_3",
    "words_4_10",
    "words_11_30",
    "words_31_plus",
    "cue_safety",
    "cue_urgent",
    "cue_vulnerable",
    "cue_health",
    "cue_outage",
    "cue_money",
    "cue_refund",
    "cue_access",
    "cue_problem",
    "cue_followup",
    "cue_notresolved",
    "cue_metoo",
    "cue_request",
    "cue_question",
    "cue_abuse",
    "cue_complaint",
    "cue_praise",
    "cue_banter",
    "cue_details",
    "cue_spam",
    "cue_brand",
    "cue_resolved",
    # thread context (``Triage.decide(thread=...)``): the post replies to the brand, which
    # answered last or asked for details
    "thread_reply",
    "thread_asked",
)
FLAG_INDEX = {name: HASHED + i for i, name in enumerate(FLAGS)}
N_FEATURES = HASHED + len(FLAGS)

_U64 = np.uint64
_P = _U64(0x100000001B3)  # FNV-1 64-bit prime
_MIX = _U64(0x9E3779B97F4A7C15)
_SHIFT = _U64(64 - HASHED_BITS)
_WORD_SALT = _U64(0x452821E638D01377)
_PAIR_SALT = _U64(0xBE5466CF34E90C6C)
_PAIR = _U64(0x9E3779B185EBCA87)
_SPACE = 32
_TOKEN = re.compile(r"[^\W\d_]+")  # runs of letters; an apostrophe splits "j'ai"
_ONE = np.uint32(49)
_NINE = np.uint32(9)
_ZERO64 = np.uint64(48)
_DIGIT = re.compile(r"[1-9]")
_NO = np.zeros(MAX_FEATURE_CHARS + 8, dtype=np.bool_)
_POSITIONS = np.arange(4 * MAX_FEATURE_CHARS + 64, dtype=np.int64)


class _Scratch(threading.local):
    """A per-thread table of 2 x HASHED stamps (4 MB), reused by every call."""

    def __init__(self) -> None:
        self.stamp = np.zeros(2 * HASHED, dtype=np.int64)


_SCRATCH = _Scratch()
_BAND = (
    [FLAG_INDEX["words_1_3"]] * 4
    + [FLAG_INDEX["words_4_10"]] * 7
    + [FLAG_INDEX["words_11_30"]] * 20
)
_BAND.append(FLAG_INDEX["words_31_plus"])
_CUE_INDEX = {name[4:]: index for name, index in FLAG_INDEX.items() if name.startswith("cue_")}
_CONTEXT = frozenset(name for name in FLAGS if name.startswith("thread_"))
_QUESTION_MARK = FLAG_INDEX["has_question_mark"]
_EXCLAMATION = FLAG_INDEX["has_exclamation"]
_LINK = FLAG_INDEX["has_link"]
_MENTIONS = FLAG_INDEX["mentions_someone"]
# CRC-32 of each token seen, memoised (a pure function of the token; bounded in size).
_CRC: dict[str, int] = {}
_CRC_LIMIT = 1 << 17


def _crc(token: str) -> int:
    value = zlib.crc32(token.encode("utf-8", "surrogatepass"))
    if len(_CRC) >= _CRC_LIMIT:
        _CRC.clear()
    _CRC[token] = value
    return value


@dataclass(frozen=True, slots=True)
class Features:
    """A post as the model sees it: distinct feature indices and their values.

    Hashed indices come first (``n_chars`` character n-gram buckets, then ``n_tokens`` word
    buckets), then flags. ``tokens`` are the post's words (letters only, in order) and
    ``token_buckets`` their unigram buckets, so a score can be explained word by word.
    """

    indices: npt.NDArray[np.int64]
    n_chars: int
    n_tokens: int
    tokens: tuple[str, ...]
    token_buckets: npt.NDArray[np.int64]

    @property
    def char_value(self) -> float:
        """Each character n-gram's value: the block is L2-normalised."""
        return 1.0 / math.sqrt(self.n_chars) if self.n_chars else 0.0

    @property
    def token_value(self) -> float:
        return 1.0 / math.sqrt(self.n_tokens) if self.n_tokens else 0.0

    @property
    def values(self) -> npt.NDArray[np.float32]:
        """The value of each feature in ``indices`` (flags are 1)."""
        values = np.ones(len(self.indices), dtype=np.float32)
        values[: self.n_chars] = self.char_value
        values[self.n_chars : self.n_chars + self.n_tokens] = self.token_value
        return values


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Fibonacci hashing: multiply by 2**64/φ and keep the top bits (uint64 wraps silently)."""
    mixed: npt.NDArray[np.int64] = ((h * _MIX) >> _SHIFT).view(np.int64)  # < 2**18: no cast
    return mixed


def _inner_space(space: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """For every 2..5-gram window (in ``CHAR_NGRAMS`` order): is there a space inside it?"""
    length = len(space)
    in3 = space[1:-1]
    in4 = in3[:-1] | space[2:-1]
    in5 = in4[:-1] | space[3:-1]
    return np.concatenate((_NO[: length - 1], in3, in4, in5))


def extract(norm: str, cues: Iterable[str] = (), context: Iterable[str] = ()) -> Features:
    """Features of a normalised post; ``cues`` are the rule families found in it, ``context``
    the thread flags that hold ("thread_reply", "thread_asked")."""
    text = norm[:MAX_FEATURE_CHARS]
    words = tuple(text.split())
    if "@user" in text:
        words = tuple(w for w in words if w != "@user")
    flags = [_BAND[min(len(words), len(_BAND) - 1)]]
    flags += [_CUE_INDEX[family] for family in cues if family in _CUE_INDEX]
    flags += [FLAG_INDEX[name] for name in context if name in _CONTEXT]
    if "?" in text:
        flags.append(_QUESTION_MARK)
    if "!" in text:
        flags.append(_EXCLAMATION)
    if "url" in words:
        flags.append(_LINK)
    if "@user" in text and not text.startswith("@user"):
        flags.append(_MENTIONS)
    if not words:
        return Features(np.array(flags, np.int64), 0, 0, (), np.zeros(0, dtype=np.int64))

    joined = " ".join(words)
    codes = np.frombuffer((" " + joined + " ").encode("utf-32-le", "surrogatepass"), np.uint32)
    c = codes.astype(_U64)
    if _DIGIT.search(joined):
        c[codes - _ONE < _NINE] = _ZERO64  # digits 1-9 -> 0
    # Rolling polynomial hashes: h_n[i] = c[i]*P**(n-1) + ... + c[i+n-1]; the windows
    # with a space strictly inside cross a word boundary and are dropped.
    h2 = c[:-1] * _P + c[1:]
    h3 = h2[:-1] * _P + c[2:]
    h4 = h3[:-1] * _P + c[3:]
    h5 = h4[:-1] * _P + c[4:]
    grams = np.concatenate((h2, h3, h4, h5))[~_inner_space(codes == _SPACE)]
    tokens = tuple(_TOKEN.findall(joined))
    unigrams = np.array([_CRC[t] if t in _CRC else _crc(t) for t in tokens], _U64)
    pairs = unigrams[:-1] * _PAIR + unigrams[1:] + _PAIR_SALT
    occurrences = _mix(np.concatenate((grams, unigrams + _WORD_SALT, pairs)))
    n_grams = len(grams)
    token_buckets = occurrences[n_grams : n_grams + len(tokens)].copy()
    # Distinct features, each block L2-normalised: a word repeated 500 times weighs as once.
    # A scratch table stamps each bucket with the last position that wrote it; the
    # positions whose stamp survived are one per distinct bucket (no sort needed).
    keys = occurrences
    keys[n_grams:] += HASHED  # the word block is deduplicated apart from the characters
    positions = _POSITIONS[: len(keys)] if len(keys) <= len(_POSITIONS) else np.arange(len(keys))
    stamp = _SCRATCH.stamp
    stamp[keys] = positions
    kept = stamp[keys] == positions
    distinct = keys[kept]
    n_chars = int(np.count_nonzero(kept[:n_grams]))
    n_tokens = len(distinct) - n_chars
    distinct[n_chars:] -= HASHED
    return Features(
        np.concatenate((distinct, flags)),
        n_chars,
        n_tokens,
        tokens,
        token_buckets,
    )
