"""heavy-compare: gains and loss shares from per-pair PSNR, routing bounds, files, CLI and errors.

No weights: the fast model is the 50/50 blend and the candidates are the brute-force shift model
of conftest.py (exact on the rolled tiny triplets) and wrappers around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynvfi_core.cli import main
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.imageio import read_image
from dynvfi_core.metrics import PSNR_CAP_DB
from dynvfi_core.routing.heavy_study import (
    LOSS_DB,
    StudyTable,
    analyse,
    candidate_list,
    heavy_compare,
)

SHIFTS = [0, 1, 0, 2, 3, 1, 4, 5, 0, 6, 7, 2]  # the tiny_triplets fixture's motion per pair


def _psnr(sq_err_u8: np.ndarray) -> float:
    mse = float(np.mean(sq_err_u8)) / 255.0**2
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, -10 * np.log10(mse))


def _blend_psnr_bounds(a: np.ndarray, gt: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """PSNR of the 8-bit 50/50 blend; where a + b is odd, float rounding may go either way: bounds."""
    mid = (a + b) / 2
    lo, hi = (np.floor(mid) - gt) ** 2, (np.ceil(mid) - gt) ** 2
    return _psnr(np.maximum(lo, hi)), _psnr(np.minimum(lo, hi))


def test_gains_are_per_pair_psnr_differences(tmp_path: Path, tiny_triplets, shift_model_spec) -> None:
    cands = [shift_model_spec, f"ensemble(blend,{shift_model_spec})"]
    res = heavy_compare(tiny_triplets, "blend", cands, tmp_path / "out", progress=False)
    pairs = pd.read_csv(tmp_path / "out" / "pairs.csv", dtype={"id": str})
    assert list(pairs["id"]) == [t.id for t in tiny_triplets]
    # hand computation of the fast model's PSNR: the blend of the outer frames, rounded to 8 bits
    for t, got in zip(tiny_triplets, pairs["psnr[blend]"]):
        a, gt, b = (read_image(p).astype(np.float64) for p in (t.frame0, t.gt, t.frame1))
        low, high = _blend_psnr_bounds(a, gt, b)
        assert low - 1e-4 <= got <= high + 1e-4
    # the shift model recovers the rolled middle frame exactly
    assert (pairs[f"psnr[{shift_model_spec}]"] == PSNR_CAP_DB).all()
    gain = pairs[f"psnr[{shift_model_spec}]"] - pairs["psnr[blend]"]
    c = res["candidates"][shift_model_spec]
    assert c["all"]["gain_db"] == pytest.approx(gain.mean())
    assert c["all"]["share_losing"] == pytest.approx((gain < -LOSS_DB).mean())
    assert c["all"]["share_gaining"] == pytest.approx((gain > LOSS_DB).mean())
    assert c["all"]["worst_gain_db"] == pytest.approx(gain.min())
    # still pairs gain nothing from the shift model, moving ones a lot
    assert c["all"]["worst_gain_db"] == pytest.approx(0.0)
    assert c["all"]["worst_pair"] in {t.id for t, s in zip(tiny_triplets, SHIFTS) if s == 0}
    # hard = the third with the lowest blend PSNR = the 4 largest shifts here
    hard = pairs["hard"].to_numpy()
    assert hard.sum() == 4 and set(np.asarray(SHIFTS)[hard]) == {4, 5, 6, 7}
    assert c["hard"]["gain_db"] == pytest.approx(gain[hard].mean())
    assert c["hard"]["gain_db"] > c["all"]["gain_db"] > 0
    ens = res["candidates"][f"ensemble(blend,{shift_model_spec})"]
    ens_gain = pairs[f"psnr[ensemble(blend,{shift_model_spec})]"] - pairs["psnr[blend]"]
    assert ens["all"]["gain_db"] == pytest.approx(ens_gain.mean()) and ens["all"]["gain_db"] < c["all"]["gain_db"]
    for name in cands:
        assert res["candidates"][name]["cost_x_fast"] == pytest.approx(
            pairs[f"seconds[{name}]"].mean() / pairs["seconds[blend]"].mean())
    # the exhaustive search is much slower than the blend
    assert c["cost_x_fast"] > 3
    # files
    out = tmp_path / "out"
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["candidates"][shift_model_spec]["all"] == pytest.approx(c["all"])
    assert (out / "gains.png").stat().st_size > 10_000
    md = (out / "results.md").read_text()
    assert f"| `{shift_model_spec}` |" in md and "gain hard" in md and "oracle gain" in md
    # no per-subset columns when the data has a single subset
    assert c["subsets"] == {} and list(c["routing"]) == ["all"]


def _study(gain: np.ndarray, motion: np.ndarray, dpa: np.ndarray | None = None,
           subsets: list[str] | None = None) -> StudyTable:
    n = len(gain)
    fast = np.full(n, 30.0)
    return StudyTable(ids=[f"p{i}" for i in range(n)], subsets=subsets or ["all"] * n, motion=motion, dpa=dpa,
                      psnr={"fast": fast, "blend": fast - np.arange(n) * 0.1, "heavy": fast + gain},
                      seconds={"fast": np.full(n, 0.1), "blend": np.full(n, 0.01), "heavy": np.full(n, 0.3)},
                      fast="fast", candidates=["heavy"])


def test_routing_shares_are_bounded_by_the_oracle() -> None:
    rng = np.random.default_rng(1)
    gain = rng.normal(0.2, 0.5, 30)
    # motion ranks the pairs exactly by their true gain: routing by it is the oracle
    # the "DPA" says the pairs with the largest gain are the easiest: the worst possible router
    study = _study(gain, motion=gain.copy(), dpa=gain.copy(),
                   subsets=["a" if i % 3 else "b" for i in range(30)])
    res = analyse(study, heavy_share=1 / 3, seed=0)["heavy"]
    r = res["routing"]["all"]
    k = 10
    assert r["heavy_fraction"] == pytest.approx(k / 30)
    assert r["oracle_gain_db"] == pytest.approx(np.sort(gain)[::-1][:k].sum() / 30)
    shares = r["share_of_oracle"]
    assert shares["motion"] == pytest.approx(1.0)
    assert shares["dpa"] == pytest.approx(np.sort(gain)[:k].sum() / np.sort(gain)[::-1][:k].sum())
    assert shares["dpa"] < shares["random"] < shares["motion"]
    # random routing keeps, on average, k/n of the heavy-only gain: close to its expectation
    assert r["random_gain_db"] == pytest.approx(gain.mean() * k / 30, abs=0.1)
    for g in ("all", "a", "b"):
        rg = res["routing"][g]
        for key in ("motion", "dpa", "random"):
            assert rg[f"{key}_gain_db"] <= rg["oracle_gain_db"] + 1e-9
    # per-subset gains and the cost multiple
    assert set(res["subsets"]) == {"a", "b"} and res["subsets"]["b"]["n_pairs"] == 10
    assert res["subsets"]["b"]["gain_db"] == pytest.approx(gain[::3].mean())
    assert res["cost_x_fast"] == pytest.approx(3.0)
    # hard third = the lowest blend PSNR = the last 10 pairs here
    assert res["hard"]["gain_db"] == pytest.approx(gain[20:].mean())


def test_without_dpa_only_motion_and_random_are_reported() -> None:
    gain = np.linspace(-1, 1, 9)
    res = analyse(_study(gain, motion=np.arange(9.0)), heavy_share=1 / 3)["heavy"]
    assert set(res["routing"]["all"]["share_of_oracle"]) == {"motion", "random"}
    assert res["all"]["worst_pair"] == "p0" and res["all"]["worst_gain_db"] == pytest.approx(-1)
    assert res["all"]["share_losing"] == pytest.approx(4 / 9)


def _list_data(tmp_path: Path, tiny_triplets) -> Path:
    """The tiny triplets as a SNU-FILM-style folder of lists: two subsets, 'easy' and 'hard'."""
    lists = tmp_path / "lists"
    lists.mkdir()
    for name, part in (("easy", tiny_triplets[:6]), ("hard", tiny_triplets[6:])):
        (lists / f"test-{name}.txt").write_text("".join(f"{t.frame0} {t.gt} {t.frame1}\n" for t in part))
    return lists


def test_cli_end_to_end_with_subsets_and_a_dpa(tmp_path: Path, tiny_triplets, shift_model_spec,
                                               capsys: pytest.CaptureFixture) -> None:
    from dynvfi_core.dpa import DPA, save_model

    dpa = DPA.untrained(seed=0, device="cpu")
    ckpt = save_model(tmp_path / "dpa.safetensors", dpa.model, dpa.cfg)
    out = tmp_path / "out"
    rc = main(["heavy-compare", "--data", str(_list_data(tmp_path, tiny_triplets)), "--fast", "blend",
               "--candidate", shift_model_spec, "--candidate", f"tta({shift_model_spec})", "--candidate", "blend",
               "--dpa", str(ckpt), "--limit", "10", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["n_pairs"] == 10 and res["config"]["subsets"] == ["easy", "hard"]
    # the fast model given again as a candidate is dropped
    assert list(res["candidates"]) == [shift_model_spec, f"tta({shift_model_spec})"]
    c = res["candidates"][shift_model_spec]
    assert list(c["subsets"]) == ["easy", "hard"] and c["subsets"]["hard"]["n_pairs"] == 4
    assert set(c["routing"]) == {"all", "easy", "hard"}
    assert "dpa" in c["routing"]["all"]["share_of_oracle"]
    pairs = pd.read_csv(out / "pairs.csv")
    assert len(pairs) == 10 and pairs["dpa_score"].between(0, 1).all()
    assert (out / "gains.png").is_file() and "gain hard" in (out / "results.md").read_text()
    printed = capsys.readouterr().out
    assert "oracle gain" in printed and shift_model_spec in printed


@pytest.mark.parametrize(("extra", "message"), [
    (["--candidate", "blend"], "no heavy candidate distinct from the fast model"),
    (["--candidate", " blend "], "no heavy candidate distinct from the fast model"),
    (["--candidate", "ensemble(tta(blend))"], "needs at least two models"),
    (["--candidate", "no-such-model"], "unknown model"),
    (["--candidate", "tta(blend)", "--heavy-share", "1.5"], "heavy-share"),
    (["--candidate", "tta(blend)", "--limit", "0"], "--limit"),
])
def test_cli_bad_input_is_one_line(tmp_path: Path, tiny_triplets, extra: list[str], message: str,
                                   capsys: pytest.CaptureFixture) -> None:
    data = tiny_triplets[0].frame0.parent.parent
    rc = main(["heavy-compare", "--data", str(data), "--fast", "blend", *extra, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc != 0 and message in err and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "results.json").exists()


def test_empty_data_and_no_candidates_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    rc = main(["heavy-compare", "--data", str(tmp_path / "empty"), "--candidate", "tta(blend)", "--fast", "blend",
               "--out", str(tmp_path / "o")])
    assert rc != 0 and "no triplets found" in capsys.readouterr().err
    with pytest.raises(InputError, match="no triplets"):
        heavy_compare([], "blend", ["tta(blend)"], tmp_path / "o", progress=False)
    with pytest.raises(ConfigError):
        candidate_list("rife-v4.25", ["rife-v4.25", "rife-v4.25 "])
    assert candidate_list("blend", ["tta(blend)", "tta( blend)", "blend"]) == ["tta(blend)"]
