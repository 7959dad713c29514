"""Agreement statistics and BT.500 screening on votes with a known structure."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from annotate import export, stats
from annotate.store import upsert_vote
from db.annotation import Annotator
from db.engine import session_scope
from dynvfi_core.cli import main as cli


def seed_votes(url: str, ids: list[int], raters: dict[str, list[int]]) -> None:
    with session_scope(url) as s:
        for name, scores in raters.items():
            user = Annotator(name=name, password_hash="$2b$12$unused", is_auto=False, seed=0)
            s.add(user)
            s.flush()
            for tid, score in zip(ids, scores):
                upsert_vote(s, user.id, tid, score)


def test_identical_raters_agree_perfectly(sqlite_url, make_fake_dataset) -> None:
    ids = make_fake_dataset(sqlite_url, 8)
    truth = [1, 2, 3, 4, 4, 3, 2, 1]
    seed_votes(sqlite_url, ids, {"a": truth, "b": truth, "c": truth})
    result = stats.compute(sqlite_url)
    assert result["alpha_ordinal"] == pytest.approx(1.0)
    assert [k["kappa"] for k in result["kappa"]] == pytest.approx([1.0, 1.0, 1.0])
    assert all(item["ci95"] == 0 for item in result["items"])


def test_noisy_rater_is_screened_out_and_lowers_agreement(sqlite_url, make_fake_dataset, tmp_home) -> None:
    ids = make_fake_dataset(sqlite_url, 24)
    rng = np.random.default_rng(0)
    truth = np.array([2, 3] * 12)
    good = {f"good{i}": np.clip(truth + rng.choice([-1, 0, 0, 1], size=24), 1, 4).tolist() for i in range(12)}
    noisy = {"noisy": np.where(truth == 2, 4, 1).tolist()}  # far off, in both directions
    seed_votes(sqlite_url, ids, good | noisy)
    result = stats.compute(sqlite_url)
    by_name = {a["annotator"]: a for a in result["annotators"]}
    assert by_name["noisy"]["bt500_rejected"]
    assert not any(by_name[n]["bt500_rejected"] for n in good)
    assert by_name["noisy"]["bt500_p"] > 0 and by_name["noisy"]["bt500_q"] > 0
    kappas = {(k["a"], k["b"]): k["kappa"] for k in result["kappa"]}
    with_noisy = [v for pair, v in kappas.items() if "noisy" in pair]
    without = [v for pair, v in kappas.items() if "noisy" not in pair]
    assert len(with_noisy) == 12 and max(with_noisy) < 0 < np.mean(without)
    assert 0 < result["alpha_ordinal"] < 1
    item = next(i for i in result["items"] if i["triplet_id"] == ids[0])
    scores = np.array([v[0] for v in good.values()] + [noisy["noisy"][0]], dtype=float)
    lo, hi = sps.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=sps.sem(scores))
    assert item["mean"] == pytest.approx(scores.mean()) and item["ci95"] == pytest.approx((hi - lo) / 2)
    screened = export.training_table(sqlite_url, tmp_home, "human", exclude_rejected=True).set_index("triplet_id")
    assert screened.loc[ids[0], "n_votes"] == 12
    assert screened.loc[ids[0], "label"] == pytest.approx(np.mean([v[0] for v in good.values()]))


def test_stats_cli_prints_tables_and_json(sqlite_url, make_fake_dataset, tmp_path, capsys) -> None:
    ids = make_fake_dataset(sqlite_url, 4)
    seed_votes(sqlite_url, ids, {"ann": [1, 2, 3, 4], "bob": [2, 2, 3, 3]})
    out = tmp_path / "stats.json"
    plot = tmp_path / "stats.png"
    assert cli(["annotate", "stats", "--db", sqlite_url, "--json", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "Annotators" in text and "ann" in text and "bob" in text and "kappa" in text
    data = json.loads(out.read_text())
    assert data["n_votes"] == 8 and len(data["kappa"]) == 1 and plot.stat().st_size > 1000
