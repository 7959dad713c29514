"""Per-item intervals stay on the 1-4 scale: the exact percentile bootstrap against enumeration and scipy."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from scipy import stats as sps

from annotate import stats
from annotate.store import upsert_vote
from db.annotation import Annotator
from db.engine import session_scope
from dynvfi_core.cli import main as cli


def enumerated(scores: list[int]) -> tuple[float, float]:
    """The percentile bootstrap by brute force: every one of the n**n equally likely resamples."""
    n = len(scores)
    means = [sum(r) / n for r in itertools.product(scores, repeat=n)]
    lo, hi = np.quantile(means, [0.025, 0.975], method="inverted_cdf")
    return float(lo), float(hi)


@pytest.mark.parametrize("scores", [[1, 4], [2, 3], [1, 1, 4], [1, 2, 2, 4, 3], [4, 4, 4, 4, 3, 1], [2, 2, 2, 2]])
def test_exact_bootstrap_equals_enumeration(scores) -> None:
    assert stats.bootstrap_interval(np.array(scores)) == pytest.approx(enumerated(scores), abs=1e-12)


def test_exact_bootstrap_agrees_with_scipy_resampling() -> None:
    scores = np.array([1, 2, 2, 3, 3, 3, 3, 4, 4, 1, 2, 3, 4, 4, 2])
    ref = sps.bootstrap((scores,), np.mean, confidence_level=0.95, method="percentile", n_resamples=100_000,
                        random_state=np.random.default_rng(0)).confidence_interval
    lo, hi = stats.bootstrap_interval(scores)
    step = 1 / len(scores)  # the bootstrap mean moves in steps of 1/n; scipy interpolates between them
    assert abs(lo - ref.low) <= step and abs(hi - ref.high) <= step


def test_stats_prints_intervals_inside_the_scale(sqlite_url, make_fake_dataset, capsys) -> None:
    ids = make_fake_dataset(sqlite_url, 2)
    with session_scope(sqlite_url) as s:
        for name, scores in {"ann": [1, 3], "bob": [4, 3]}.items():
            user = Annotator(name=name, password_hash="$2b$12$unused", is_auto=False, seed=0)
            s.add(user)
            s.flush()
            for tid, score in zip(ids, scores):
                upsert_vote(s, user.id, tid, score)
    assert cli(["annotate", "stats", "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    bounds = [float(v) for v in re.findall(r"(-?\d+\.\d\d) \.\. (-?\d+\.\d\d)", out) for v in v]
    assert bounds and all(1 <= b <= 4 for b in bounds), out  # Student-t would give -16.56 .. 21.56 for (1, 4)
    assert "1.00 .. 4.00" in out and "3.00 .. 3.00" in out
    items = {i["triplet_id"]: i for i in stats.compute(sqlite_url)["items"]}
    assert (items[ids[0]]["ci_low"], items[ids[0]]["ci_high"]) == (1.0, 4.0)
