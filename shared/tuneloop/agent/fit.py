"""Fit a remembered answer to a new input: swap the words it echoes from its own input.

A stored answer often repeats words of the input it was written for ("What's the capital of
Canada?" -> "The capital of Canada is Ottawa."). Those echoed words (case-insensitive, not
stopwords, not in the new input, not words most of the task's answers hold, such as the
intent named by a template answer) are the answer's entity slots. Aligning the stored input's
words with the new input's (difflib) shows which words of the new input take their place:

- a changed block between two shared words is replaced whole when all its non-stopwords are
  echoed ("of Canada is" -> "of New Zealand is");
- otherwise a run of echoed words maps to the words at the same offset from the block's
  shared side: as many as it has (more only while they are capitalised, as in "New York"),
  stopping at a stopword, so that "in Tokyo" -> "in Rome for next week" gives "Rome", not
  "Rome for next week".

The answer is unfit (None) when an echoed word has no counterpart (deleted, ambiguous, or
left over in the answer), when the answer names something neither input holds (a
capitalised word that does not start a sentence, e.g. "Ottawa": such a name came with the
old entity, and swapping the entity would leave a wrong answer behind), or when a name of
the new input is missing from the fitted answer (the words were aligned wrongly).
An answer that echoes nothing the new input replaces is used as it is.
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import NamedTuple

AS_IS, SUBSTITUTED, UNFIT = "as_is", "substituted", "unfit"
_NONE: frozenset[str] = frozenset()

_WORD = re.compile(r"[^\W_]+")
_OPENERS = " \t\r\"'\u201c\u2018(["  # may stand between a sentence's end and its first word
_STOPWORDS = """
    a an the of in on at to for from by with and or but is are was were be been am do does
    did can could would should will shall may might must i me my mine you your yours we our
    us he she it its they them their this that these those there here what which who whom
    whose when where why how please need want some any about into over under up down out
    just not no yes s t d ll re ve m also get have has had if then than so very much many
    more most
"""
STOPWORDS = frozenset(_STOPWORDS.split())  # never an entity slot; a replacing span stops at one


class _Token(NamedTuple):
    key: str  # lower case, plural folded: "hotels" and "hotel" are the same word
    start: int
    end: int
    stop: bool
    cap: bool  # written with a capital first letter


@dataclass(frozen=True)
class Fit:
    """The answer fitted to the new input (None when unfit), what was done, the swaps made."""

    text: str | None
    kind: str  # AS_IS | SUBSTITUTED | UNFIT
    substitutions: tuple[tuple[str, str], ...] = ()


def _fold(word: str) -> str:
    """Return a crude singular of a lower-case word, so plural and singular align."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=1 << 17)
def _word(word: str) -> tuple[str, bool, bool]:
    """Return a word's key, whether it is a stopword and whether it is capitalised."""
    lower = word.lower()
    return _fold(lower), lower in STOPWORDS, word[0].isupper()


def _tokens(text: str) -> tuple[_Token, ...]:
    """Return the word tokens of text with their character spans."""
    out = []
    for m in _WORD.finditer(text):
        key, stop, cap = _word(m.group())
        out.append(_Token(key, m.start(), m.end(), stop, cap))
    return tuple(out)


def _names(text: str, toks: tuple[_Token, ...]) -> frozenset[str]:
    """Return the keys of capitalised words that do not start a sentence ("I" aside)."""
    names = set()
    for t in toks:
        if t.cap and text[t.start : t.end] != "I":
            before = text[: t.start].rstrip(_OPENERS)
            if before and before[-1] not in ".!?:\n":
                names.add(t.key)
    return frozenset(names)


@lru_cache(maxsize=65536)
def _stored(stored_input: str, stored_output: str) -> tuple:
    """Return what fitting needs of one memory row; cached, since rows answer many inputs."""
    src, out = _tokens(stored_input), _tokens(stored_output)
    src_keys = {t.key for t in src}
    candidates = {t.key for t in src if not t.stop} & {t.key for t in out}
    numbers = {t.key for t in out if any(c.isdigit() for c in t.key)}  # a price, a year, a size
    return src, out, frozenset(candidates), (_names(stored_output, out) | numbers) - src_keys


def answer_vocabulary(outputs: Sequence[str]) -> frozenset[str]:
    """Return the words that half or more of a task's answers (two at least) contain.

    They are the task's own words (an intent name in a template answer), never entity slots.
    """
    counts = Counter(key for output in outputs for key in {t.key for t in _tokens(output)})
    least = max(2, (len(outputs) + 1) // 2)
    return frozenset(key for key, n in counts.items() if n >= least)


def fit_answer(
    stored_input: str, stored_output: str, new_input: str, vocabulary: frozenset[str] = _NONE
) -> Fit:
    """Fit stored_output, the answer to stored_input, to new_input (see the module doc).

    Words in vocabulary (see answer_vocabulary) are never replaced.
    """
    src, out, candidates, foreign = _stored(stored_input, stored_output)
    if not candidates:
        return Fit(stored_output, AS_IS)
    new = _tokens(new_input)
    new_keys = {t.key for t in new}
    echoed = candidates - new_keys - vocabulary
    if not echoed:
        return Fit(stored_output, AS_IS)
    if foreign - new_keys - vocabulary:  # the task's own words are no other entity's facts
        return Fit(None, UNFIT)
    spans = _map_spans(src, new, echoed)
    if spans is None:
        return Fit(None, UNFIT)
    replacements: dict[tuple[str, ...], str] = {}
    swaps = []
    for (a, b), (c, d) in spans.items():
        old, replacement = tuple(t.key for t in src[a:b]), new_input[new[c].start : new[d - 1].end]
        if replacements.setdefault(old, replacement) != replacement:
            return Fit(None, UNFIT)  # the same words of the stored input replaced two ways
        swaps.append((stored_input[src[a].start : src[b - 1].end], replacement))
    text = _substitute(stored_output, out, replacements, echoed)
    if text is None:
        return Fit(None, UNFIT)
    # the fitted answer holds the output's words (but the echoed ones) and the new spans
    kept = {t.key for t in out} | {t.key for c, d in spans.values() for t in new[c:d]}
    if not _names(new_input, new) <= kept:
        return Fit(None, UNFIT)  # a name of the new input is not in it: aligned wrongly
    return Fit(text, SUBSTITUTED, tuple(swaps))


def _map_spans(
    src: tuple[_Token, ...], new: tuple[_Token, ...], echoed: frozenset[str]
) -> dict[tuple[int, int], tuple[int, int]] | None:
    """Map each run of echoed stored-input tokens to the new input's tokens; None if one fails."""
    matcher = SequenceMatcher(None, [t.key for t in src], [t.key for t in new], autojunk=False)
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        runs = _runs(src, i1, i2, echoed)
        if tag == "equal" or not runs:
            continue
        if tag == "delete":
            return None
        left, right = i1 > 0, i2 < len(src)  # a shared word on that side anchors the block
        if left and right and all(src[k].key in echoed for k in range(i1, i2) if not src[k].stop):
            whole = _trim(new, j1, j2)
            if whole is None:
                return None
            spans[(runs[0][0], runs[-1][1])] = whole
            continue
        for a, b in runs:
            if left:
                span = _take(new, j1 + (a - i1), j2, b - a, step=1)
            elif right:
                span = _take(new, j2 - 1 - (i2 - b), j1 - 1, b - a, step=-1)
            else:
                return None  # nothing shared: no way to tell which new words replace it
            if span is None:
                return None
            spans[(a, b)] = span
    return spans


def _runs(
    src: tuple[_Token, ...], i1: int, i2: int, echoed: frozenset[str]
) -> list[tuple[int, int]]:
    """Return the maximal runs [a, b) of echoed tokens in src[i1:i2]."""
    runs, start = [], None
    for k in range(i1, i2 + 1):
        inside = k < i2 and src[k].key in echoed
        if inside and start is None:
            start = k
        elif not inside and start is not None:
            runs.append((start, k))
            start = None
    return runs


def _trim(new: tuple[_Token, ...], j1: int, j2: int) -> tuple[int, int] | None:
    """Return new[j1:j2] without stopwords at either end; None when nothing is left."""
    while j1 < j2 and new[j1].stop:
        j1 += 1
    while j2 > j1 and new[j2 - 1].stop:
        j2 -= 1
    return (j1, j2) if j1 < j2 else None


def _take(
    new: tuple[_Token, ...], first: int, limit: int, count: int, step: int
) -> tuple[int, int] | None:
    """Return the tokens from first (walking by step, before limit) that replace count words.

    At most count of them, or more while they stay capitalised ("New York" for "Paris"), and
    never a stopword.
    """
    k, taken = first, 0
    while (limit - k) * step > 0 and not new[k].stop:
        if taken >= count and not (new[k].cap and new[k - step].cap):
            break
        k, taken = k + step, taken + 1
    if taken == 0:
        return None
    return (first, k) if step > 0 else (k + 1, first + 1)


def _substitute(
    output: str,
    out: tuple[_Token, ...],
    replacements: dict[tuple[str, ...], str],
    echoed: frozenset[str],
) -> str | None:
    """Return output with each echoed run replaced; None when an echoed word is left over."""
    keys = [t.key for t in out]
    runs: dict[str, list[tuple[str, ...]]] = {}  # first word -> runs, longest first
    for run in sorted(replacements, key=len, reverse=True):
        runs.setdefault(run[0], []).append(run)
    pieces, at, p = [], 0, 0
    while p < len(out):
        starting = runs.get(keys[p], ())
        run = next((r for r in starting if tuple(keys[p : p + len(r)]) == r), None)
        if run is not None:
            pieces += [output[at : out[p].start], replacements[run]]
            at, p = out[p + len(run) - 1].end, p + len(run)
        elif keys[p] in echoed:
            return None
        else:
            p += 1
    return "".join(pieces) + output[at:]
