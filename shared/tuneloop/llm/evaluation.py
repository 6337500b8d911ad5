"""The language-model kind's evaluate_* and report steps: held-out likelihood, chrF, preferences.

Both models answer the same held-out rows: the base model (the baseline) and the base plus
the job's adapter. Per prompt, the reference is the best-rated answer: its summed negative
log-likelihood and token count, and the chrF of a greedy generation against it. Per held-out
preference pair, whether the chosen answer's log-probability is above the rejected one's.
The report resamples prompts (and pairs) with replacement, both models on the same draws.
"""

import math
import time

import numpy as np

from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.llm import adapters, kind, rows
from tuneloop.llm.stage import flat
from tuneloop.pipeline import data
from tuneloop.stages import compare as cmp
from tuneloop.stages.prepare import HOLDOUT, one_side
from tuneloop.store import Store

EXAMPLES_KEPT = 10
MAX_NEW_TOKENS = 128  # greedy generations stop here at the latest
METRICS = ("mean_token_nll", "perplexity", "response_chrf", "preference_accuracy")
LOWER_IS_BETTER = frozenset({"mean_token_nll", "perplexity"})


def held_out(store: Store, job: dict) -> list[dict]:
    """Return the kept rows on the held-out side of the job's split."""
    seed, holdout, held = data.sides(store, job)
    return flat(one_side(data.kept(store, job), seed, holdout, HOLDOUT, held))


def references(held: list[dict]) -> list[dict]:
    """Return, per distinct prompt, the best-rated answer: {prompt, reference, input}."""
    best: dict[str, tuple[float, dict]] = {}
    for row in held:
        key = rows.prompt_key(rows.prompt_of(row))
        score = 1.0 if row.get("rejected") else float(row.get("rating") or 0.0)
        if key not in best or score > best[key][0]:
            best[key] = (score, row)
    return [
        {"prompt": rows.prompt_of(r), "reference": r["output"], "input": r["input"]}
        for _, r in best.values()
    ]


def given(store: Store, job: dict) -> list[dict]:
    """Return the cases the job was given (an eval set, a validation file) with a reference."""
    return [
        {
            "prompt": [{"role": "user", "content": c["input"]}],
            "reference": c["reference_output"],
            "input": c["input"],
        }
        for c in data.given_cases(store, job)
        if c.get("reference_output")
    ]


def pairs(held: list[dict], min_gap: float) -> list[dict]:
    """Return the held-out preference pairs (from a preference file, else from ratings)."""
    if any(r.get("rejected") for r in held):
        return rows.pairs_from_preference_rows(held)
    return rows.pairs_from_ratings(held, min_gap)


def _load(store: Store, model_id: str, base: str):  # -> (model, tokenizer)
    """Load the base model, or the base plus the model's adapter from the artifact store."""
    from tuneloop.llm import models

    if model_id == base:
        return models.load_base(kind.location(base))
    meta = store.models.meta(model_id)
    if meta is None or not meta.get("adapter"):
        raise StageError("model_missing", f"model {model_id} was not published with an adapter")
    try:
        local = adapters.local_adapter({**meta, "id": model_id})
    except adapters.AdapterMissingError as exc:
        raise StageError("adapter_missing", str(exc)) from None
    return models.load_tuned(kind.location(base), local)


def evaluate(store: Store, job: dict, name: str, model_id: str) -> None:
    """Score one model on the held-out rows; keep per-case figures as the job's artifact."""
    from tuneloop.llm import scoring
    from tuneloop.stages.evaluate import ChrfScorer

    request = request_of(job)
    started = time.perf_counter()
    model, tokenizer = _load(store, model_id, request.model)
    seconds = time.perf_counter() - started
    store.jobs.add_event(
        job["id"],
        f"evaluate_{name}:load",
        "message",
        f"loaded {model_id} in {seconds * 1000:.0f} ms",
        {"model_id": model_id, "load_seconds": seconds},
    )
    held = held_out(store, job)
    cases, chrf = given(store, job) + references(held), ChrfScorer()
    nll, tokens, scores, answers = [], [], [], []
    for case in cases:
        total, n = scoring.nll(model, tokenizer, case["prompt"], case["reference"])
        budget = min(MAX_NEW_TOKENS, len(tokenizer(case["reference"])["input_ids"]) + 8)
        answer = scoring.greedy(model, tokenizer, case["prompt"], budget)
        nll.append(total)
        tokens.append(n)
        scores.append(chrf(answer, case["reference"]))
        answers.append(answer)
    preferred = [
        scoring.logprob(model, tokenizer, p["prompt"], p["chosen"][0]["content"])
        > scoring.logprob(model, tokenizer, p["prompt"], p["rejected"][0]["content"])
        for p in pairs(held, request.min_gap)
    ]
    store.artifacts.put(
        job["id"],
        f"{name}_llm",
        {
            "nll": nll,
            "tokens": tokens,
            "chrf": scores,
            "preferred": preferred,
            "examples": [
                {"input": c["input"], "reference": c["reference"], "text": a}
                for c, a in list(zip(cases, answers, strict=True))[:EXAMPLES_KEPT]
            ],
        },
    )


def metric_values(side: dict) -> dict:
    """Return one model's metrics from its per-case figures."""
    tokens = sum(side["tokens"])
    mean_nll = sum(side["nll"]) / tokens if tokens else None
    return {
        "n_cases": len(side["nll"]),
        "n_pairs": len(side["preferred"]),
        "mean_token_nll": mean_nll,
        "perplexity": math.exp(mean_nll) if mean_nll is not None else None,
        "response_chrf": float(np.mean(side["chrf"])) if side["chrf"] else None,
        "preference_accuracy": float(np.mean(side["preferred"])) if side["preferred"] else None,
    }


def resampled(side: dict, case_draws: np.ndarray, pair_draws: np.ndarray | None) -> dict:
    """Return each metric per bootstrap resample (one value per row of the draws)."""
    nll, tokens = np.asarray(side["nll"]), np.asarray(side["tokens"], dtype=float)
    mean_nll = nll[case_draws].sum(axis=1) / np.maximum(tokens[case_draws].sum(axis=1), 1.0)
    out = {
        "mean_token_nll": mean_nll,
        "perplexity": np.exp(mean_nll),
        "response_chrf": np.asarray(side["chrf"])[case_draws].mean(axis=1),
    }
    if pair_draws is not None:
        out["preference_accuracy"] = np.asarray(side["preferred"], float)[pair_draws].mean(axis=1)
    return out


def _interval(values: np.ndarray | None) -> list[float] | None:
    """Return the 95% percentile interval of values, or None."""
    if values is None:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def report(store: Store, job: dict, seed: int, resamples: int = cmp.RESAMPLES) -> dict:
    """Return the report's evaluation part: metrics with 95% intervals, changes, a verdict."""
    jid, art = job["id"], store.artifacts
    base, tuned = art.get(jid, "baseline_llm"), art.get(jid, "fine_tuned_llm")
    if len(base["nll"]) != len(tuned["nll"]) or len(base["preferred"]) != len(tuned["preferred"]):
        raise StageError("evaluation_unpaired", "the two models were scored on different cases")
    rng = np.random.default_rng(seed)
    n, m = len(base["nll"]), len(base["preferred"])
    case_draws = rng.integers(0, n, size=(resamples, n)) if n else None
    pair_draws = rng.integers(0, m, size=(resamples, m)) if m else None
    values = {"baseline": metric_values(base), "fine_tuned": metric_values(tuned)}
    draws = {
        side: resampled(figures, case_draws, pair_draws) if case_draws is not None else {}
        for side, figures in (("baseline", base), ("fine_tuned", tuned))
    }
    for side in values:
        values[side]["ci95"] = {name: _interval(draws[side].get(name)) for name in METRICS}
    improvement = {}
    for name in METRICS:
        entry = cmp.change(values["baseline"][name], values["fine_tuned"][name])
        b, t = draws["baseline"].get(name), draws["fine_tuned"].get(name)
        entry["absolute_ci95"] = _interval(t - b) if b is not None else None
        improvement[name] = entry
    reduction = improvement["mean_token_nll"]
    improvement["nll_reduction"] = {
        "absolute": None if reduction["absolute"] is None else -reduction["absolute"],
        "relative": None if reduction["relative"] is None else -reduction["relative"],
        "absolute_ci95": None
        if reduction["absolute_ci95"] is None
        else [-reduction["absolute_ci95"][1], -reduction["absolute_ci95"][0]],
    }
    return {
        "baseline_metrics": values["baseline"],
        "fine_tuned_metrics": values["fine_tuned"],
        "improvement": improvement,
        "significance": _significance(n, improvement["nll_reduction"], seed, resamples),
        "examples": [
            {
                "input": b["input"],
                "reference": b["reference"],
                "baseline": {"text": b["text"]},
                "fine_tuned": {"text": t["text"]},
            }
            for b, t in zip(base["examples"], tuned["examples"], strict=True)
        ],
    }


def _significance(n: int, reduction: dict, seed: int, resamples: int) -> dict:
    """Return the bootstrap's settings and the verdict on the held-out likelihood."""
    ci = reduction["absolute_ci95"]
    conclusive = n >= cmp.MIN_CASES and ci is not None and (ci[0] > 0 or ci[1] < 0)
    if ci is None:
        verdict = "No held-out answers were scored: the report cannot tell."
    elif n < cmp.MIN_CASES:
        verdict = (
            f"Only {n} held-out prompts (fewer than {cmp.MIN_CASES}): the report cannot tell "
            "whether fine-tuning changed the held-out likelihood."
        )
    elif ci[0] > 0:
        verdict = (
            f"The fine-tuned model gives the held-out best-rated answers a lower per-token "
            f"negative log-likelihood, by {reduction['absolute']:.4f} nats "
            f"(95% CI [{ci[0]:.4f}, {ci[1]:.4f}])."
        )
    elif ci[1] < 0:
        verdict = (
            f"The fine-tuned model gives the held-out best-rated answers a higher per-token "
            f"negative log-likelihood, by {-reduction['absolute']:.4f} nats: it got worse."
        )
    else:
        verdict = "The held-out likelihood changed by less than the evaluation can tell."
    return {
        "n_cases": n,
        "bootstrap": {
            "resamples": resamples,
            "seed": seed,
            "confidence_level": cmp.CONFIDENCE_LEVEL,
            "method": "paired percentile bootstrap over held-out prompts (and, separately, "
            "held-out preference pairs); both models scored on the same draws",
        },
        "conclusive": conclusive,
        "verdict": verdict,
    }
