"""A diverged run's losses (inf, NaN) or epochs without any: the charts draw what is finite and
name the epochs they left out, never raising."""

import math
import re

import pytest

from tuneloop_gateway.pages import charts
from tuneloop_gateway.pages.compare_charts import compare_loss_chart
from tuneloop_gateway.pages.ticks import Scale

INF, NAN = math.inf, math.nan


def epochs(*pairs: tuple[float | None, float | None]) -> list[dict]:
    """Epochs 1.. with (train_loss, valid_loss)."""
    return [
        {"epoch": i, "train_loss": train, "valid_loss": valid}
        for i, (train, valid) in enumerate(pairs, 1)
    ]


def drawn_epochs(html: str) -> set[int]:
    """The epochs of the wide chart's points."""
    return {int(e) for e in re.findall(r'class="point[^"]*"[^>]*data-epoch="(\d+)"', html)}


@pytest.mark.parametrize("bad", [INF, NAN, -INF])
def test_the_job_loss_chart_draws_the_finite_epochs_and_names_the_rest(bad):
    html = str(charts.loss_panel(epochs((1.2, 1.3), (0.8, bad), (bad, bad)), 1, False))
    assert drawn_epochs(html) == {1, 2}
    assert re.search(r'id="loss-not-finite"[^<]*<span class="not-finite-epochs">2, 3</span>', html)
    assert not re.search(r'[=,"]-?(nan|inf)', html, re.IGNORECASE)  # no such coordinate


@pytest.mark.parametrize("bad", [None, NAN, INF])
def test_the_job_loss_chart_without_any_finite_loss_says_so(bad):
    html = str(charts.loss_panel(epochs((bad, bad), (bad, None)), None, True))
    assert 'id="loss-empty"' in html and "<svg" not in html
    assert ('id="loss-not-finite"' in html) is (bad is not None)


def test_the_scale_leaves_out_what_is_not_finite():
    assert Scale.of([0.5, INF, NAN, 1.5]) == Scale.of([0.5, 1.5])
    assert Scale.of([NAN]).ticks[0] == 0.0


def test_the_compare_chart_draws_the_finite_epochs_and_names_each_jobs_rest():
    curves = {
        "a": epochs((1.0, 1.1), (INF, NAN)),
        "b": epochs((0.9, None), (0.5, 0.6), (NAN, 1e308 * 10)),
    }
    html = str(compare_loss_chart(curves))
    assert "<svg" in html and drawn_epochs(html) == {1, 2}
    assert re.search(r'id="compare-loss-not-finite-a">A: [^<]*<span[^>]*>2</span>', html)
    assert re.search(r'id="compare-loss-not-finite-b">B: [^<]*<span[^>]*>3</span>', html)


@pytest.mark.parametrize("bad", [None, NAN])
def test_the_compare_chart_with_no_finite_loss_says_so(bad):
    html = str(compare_loss_chart({"a": epochs((bad, bad)), "b": []}))
    assert 'id="compare-loss-empty"' in html and "<svg" not in html
