"""Ids: each one minted matches its kind's format, and nothing more does."""

import re
from pathlib import Path

import pytest

from tuneloop import contracts, graph
from tuneloop.contracts import BASELINE_MODEL_ID, JOB_KINDS
from tuneloop.store import ids

# Appended to a real id, each names another record's Redis key or is not an id at all.
SUFFIXES = (":content", ":events", ":jobs", "*", "{x}", "\n", " ", "/x")


def minted() -> list[tuple[ids.IdKind, str]]:
    """One id of each kind as the store mints them (both job kinds, models with a suffix)."""
    jobs = [ids.new_job(kind) for kind in JOB_KINDS]
    models = [ids.fine_tuned_model(jobs[0], None), ids.fine_tuned_model(jobs[0], "a-9")]
    return [
        *((ids.JOB, jid) for jid in jobs),
        (ids.FILE, ids.new_file()),
        (ids.INTERACTION, ids.new_interaction()),
        *((ids.MODEL, mid) for mid in [*models, BASELINE_MODEL_ID, *ids.ALIASES]),
    ]


MINTED = minted()
LABELS = [f"{kind.name}-{i}" for i, (kind, _) in enumerate(MINTED)]  # stable: not the ids


@pytest.mark.parametrize(("kind", "value"), MINTED, ids=LABELS)
def test_a_minted_id_matches_its_kind_and_no_other(kind: ids.IdKind, value: str) -> None:
    assert kind.matches(value)
    assert [k.name for k in ids.KINDS if k.matches(value)] == [kind.name]


@pytest.mark.parametrize("suffix", SUFFIXES, ids=repr)
@pytest.mark.parametrize(("kind", "value"), MINTED, ids=LABELS)
def test_an_id_with_a_suffix_matches_no_kind(kind: ids.IdKind, value: str, suffix: str) -> None:
    assert not any(k.matches(value + suffix) for k in ids.KINDS)
    assert not kind.matches(suffix + value)


def test_the_model_of_a_job_keeps_its_id_across_calls() -> None:
    jid = ids.new_job(graph.FINE_TUNING)
    assert ids.fine_tuned_model(jid, "x") == ids.fine_tuned_model(jid, "x")
    assert ids.fine_tuned_model(jid, None).endswith(jid.removeprefix("ftjob-")[: ids.MODEL_TAIL])


def test_progress_total_counts_no_epoch_for_auto_until_prepare_resolves_it() -> None:
    stages = len(graph.PIPELINES[graph.FINE_TUNING])
    assert graph.progress_total(graph.AUTO) == stages
    assert graph.progress_total(7) == stages + 7
    with pytest.raises(TypeError, match="'seven'"):
        graph.progress_total("seven")


def test_every_pipeline_is_a_job_kind_with_its_own_prefix_and_object() -> None:
    assert tuple(JOB_KINDS) == contracts.KINDS
    assert len({k.prefix for k in JOB_KINDS.values()}) == len(JOB_KINDS)
    assert len({k.object for k in JOB_KINDS.values()}) == len(JOB_KINDS)
    assert tuple(k.prefix for k in JOB_KINDS.values()) == ids.JOB_PREFIXES


def test_only_contracts_spells_a_job_kinds_prefix() -> None:
    root = Path(contracts.__file__).resolve().parents[2]  # the repository
    prefixes = re.compile("|".join(rf"['\"]{k.prefix}\b" for k in JOB_KINDS.values()))
    scanned = [*root.joinpath("shared").rglob("*.py"), *root.joinpath("services").rglob("*.py")]
    spelling = {p.relative_to(root).as_posix() for p in scanned if prefixes.search(p.read_text())}
    assert spelling == {"shared/tuneloop/contracts.py"}, "derive them from JOB_KINDS"
