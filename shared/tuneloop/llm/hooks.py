"""The language-model kind's steps inside the generic filter and prepare stages (light)."""

import hashlib
from dataclasses import dataclass

from tuneloop.contracts import RATING_SCORE
from tuneloop.job_request import JobRequest
from tuneloop.llm import hyperparameters
from tuneloop.stages.filter import QualityFilter
from tuneloop.text import normalize


def _identity(*texts: str) -> int:
    """Return a 64-bit digest of a row's texts, so 1M rows fit in a small set."""
    key = "\x00".join(normalize(t) for t in texts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _text(value: object) -> bool:
    """Return whether value is a string with something in it."""
    return isinstance(value, str) and bool(value.strip())


@dataclass
class LanguageFilter(QualityFilter):
    """The quality rules for language-model rows: no task type needed; a rated answer needs
    min_score to be trained on (supervised), while dpo keeps every rated answer, since a
    pair needs its worst one too. A preference row (with `rejected`) needs no rating."""

    keep_every_rating: bool = False

    def reason_to_drop(self, ex: dict) -> str | None:
        """Return why ex is dropped, or None to keep it."""
        if not isinstance(ex, dict) or not isinstance(ex.get("input"), str):
            return "malformed"
        if not _text(ex["input"]) or not _text(ex.get("output")):
            return "empty"
        pair = "rejected" in ex and ex["rejected"] is not None
        if pair and not _text(ex["rejected"]):
            return "empty"
        if not pair:
            score = ex.get("rating") if self.score_name == RATING_SCORE else self._score(ex)
            if type(score) not in (int, float) or score != score:
                return "no_score"
            if not self.keep_every_rating and score < self.min_score:
                return "below_min_score"
        task = ex.get("task_type")
        if self.task_types is not None and task not in self.task_types:
            return "task_type_not_selected"
        if normalize(ex["input"]) in self.excluded_inputs:
            return "in_evaluation_set"
        identity = _identity(ex["input"], ex["output"], ex.get("rejected") or "")
        if identity in self._seen:
            return "duplicate"
        self._seen.add(identity)
        return None


def make_filter(request: JobRequest, excluded_inputs: frozenset[str]) -> QualityFilter:
    """Return a language-model job's quality rules."""
    return LanguageFilter(
        min_score=request.min_score,
        score_name=request.score_name,
        task_types=request.task_types,
        excluded_inputs=excluded_inputs,
        keep_every_rating=request.method == "dpo",
    )


def resolve(request: JobRequest, n_train: int) -> dict:
    """Return a language-model job's hyperparameters with "auto" resolved for n_train rows."""
    return hyperparameters.resolve(request.method, dict(request.hyperparameters), n_train)
