"""route-eval: consistency of routed vs fast/heavy/random/oracle, files, seeds, SNU-FILM loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynvfi_core.cli import main
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import write_image
from dynvfi_core.routing import MotionScorer
from dynvfi_core.routing.evaluate import PairTable, evaluate_table, route_eval
from dynvfi_core.routing.snufilm import load_snu_film

METHODS = ("fast", "heavy", "routed", "random", "oracle")


def test_routed_lies_between_fast_and_oracle(tmp_path: Path, tiny_triplets, diff_scorer, shift_model_spec) -> None:
    res = route_eval(tiny_triplets, diff_scorer, "blend", shift_model_spec, heavy_share=1 / 3,
                     out_dir=tmp_path / "out", seed=0, progress=False, compare={"motion": MotionScorer()})
    s = res["subsets"]["all"]
    assert set(METHODS) <= set(s)
    for m in METHODS:
        assert {"psnr", "ssim", "s_per_pair"} <= set(s[m])
    assert s["routed"]["heavy_fraction"] == pytest.approx(4 / 12)
    assert s["random"]["heavy_fraction"] == s["oracle"]["heavy_fraction"] == s["routed"]["heavy_fraction"]
    assert s["heavy"]["psnr"] > s["fast"]["psnr"]  # the shift model really is the better one here
    assert s["fast"]["psnr"] <= s["routed"]["psnr"] <= s["oracle"]["psnr"] + 1e-9
    assert s["random"]["psnr"] <= s["oracle"]["psnr"] + 1e-9
    assert s["fast"]["s_per_pair"] <= s["routed"]["s_per_pair"] <= s["heavy"]["s_per_pair"]
    assert 0 <= s["gain_share_of_oracle"] <= 1
    assert s["gain_share_of_heavy"] == pytest.approx(
        (s["routed"]["psnr"] - s["fast"]["psnr"]) / (s["heavy"]["psnr"] - s["fast"]["psnr"]))
    assert s["time_fraction_of_heavy"] == pytest.approx(s["routed"]["s_per_pair"] / s["heavy"]["s_per_pair"])
    # the verdict is judged on the calm cost pass: scoring within 25% of the fast model's cost
    assert res["config"]["cost_repeats"] == 5 and s["time_aim_on"] == "calm cost pass"
    assert s["within_time_bound"] == (s["score_time_fraction_of_fast"] <= 0.25)
    assert list(res["ranking"]) == ["mean-abs-diff", "motion"]
    assert res["ranking"]["mean-abs-diff"]["srcc_psnr"] > 0  # more input change = harder = lower fast PSNR
    # more motion = lower score = heavy model: with this scorer routing beats random clearly
    assert s["gain_share_of_oracle"] > s["random_gain_share_of_oracle"]
    out = tmp_path / "out"
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["subsets"]["all"]["routed"] == pytest.approx(s["routed"])
    assert (out / "curve.png").stat().st_size > 10_000
    md = (out / "results.md").read_text()
    assert "| routed |" in md and "oracle" in md
    sweep = res["sweep"]["all"]
    assert sweep[0]["heavy_fraction"] == 0 and sweep[-1]["heavy_fraction"] == 1
    assert sweep[-1]["psnr"] == pytest.approx(s["heavy"]["psnr"])
    assert all(p["oracle_psnr"] >= p["psnr"] - 1e-9 for p in sweep)
    # a compared router is evaluated on the same outputs at the same heavy share
    other = s["routed_by"]["motion"]
    assert other["heavy_fraction"] == pytest.approx(4 / 12)
    assert s["fast"]["psnr"] <= other["psnr"] <= s["oracle"]["psnr"] + 1e-9
    assert "routed by motion" in md and len(res["sweep_by"]["motion"]["all"]) == len(sweep)


def _table(n: int, seed: int) -> PairTable:
    rng = np.random.default_rng(seed)
    fast = rng.uniform(25, 35, n)
    return PairTable(ids=[str(i) for i in range(n)], subsets=["a" if i % 2 else "b" for i in range(n)],
                     score=rng.uniform(size=n), motion=rng.uniform(0, 5, n), psnr_fast=fast,
                     ssim_fast=rng.uniform(0.8, 0.9, n), psnr_heavy=fast + rng.normal(0.5, 1.0, n),
                     ssim_heavy=rng.uniform(0.8, 0.9, n), t_score=np.full(n, 0.001),
                     t_fast=rng.uniform(0.01, 0.02, n), t_heavy=rng.uniform(0.1, 0.2, n))


def test_cached_evaluation_is_reproducible_and_seeded() -> None:
    p = _table(90, seed=5)
    a = evaluate_table(p, heavy_share=1 / 3, seed=7)
    b = evaluate_table(p, heavy_share=1 / 3, seed=7)
    c = evaluate_table(p, heavy_share=1 / 3, seed=8)
    assert a == b
    # random routing is its exact expectation; only the reported spread of seeded draws varies
    assert a["subsets"]["all"]["random"]["psnr"] == c["subsets"]["all"]["random"]["psnr"]
    assert a["subsets"]["all"]["random"]["psnr_std"] != c["subsets"]["all"]["random"]["psnr_std"]
    assert list(a["subsets"]) == ["b", "a", "all"]
    assert sum(a["subsets"][g]["n_pairs"] for g in ("a", "b")) == 90
    # the oracle is the best possible choice of that many heavy pairs
    for g, s in a["subsets"].items():
        assert s["oracle"]["psnr"] >= max(s["routed"]["psnr"], s["random"]["psnr"]) - 1e-9, g


def test_motion_groups_and_rules() -> None:
    p = _table(60, seed=2)
    res = evaluate_table(p, threshold=0.5, group_by="motion")
    assert list(res["subsets"]) == ["motion-low", "motion-mid", "motion-high", "all"]
    assert [res["subsets"][g]["n_pairs"] for g in ("motion-low", "motion-mid", "motion-high")] == [20, 20, 20]
    assert res["subsets"]["all"]["routed"]["heavy_fraction"] == pytest.approx((p.score < 0.5).mean())
    budget = evaluate_table(p, budget=0.4)
    assert budget["subsets"]["all"]["time_fraction_of_heavy"] <= 0.4 + 1e-9


def _fake_snu_film(tmp_path: Path) -> tuple[Path, Path]:
    """The official layout (data/SNU-FILM/test/...) with two triplets per list, frames 16x16."""
    lists = tmp_path / "lists"
    lists.mkdir()
    root = tmp_path / "unpacked" / "SNU-FILM"
    for k, name in enumerate(("easy", "medium", "hard", "extreme")):
        lines = []
        for j in range(2):
            seq = f"test/GOPRO_test/SEQ{k}{j}"
            names = [f"{seq}/{i:06d}.png" for i in (1, 1 + 2 ** k, 1 + 2 ** (k + 1))]
            for n, rel in enumerate(names):
                write_image(root / rel, np.full((16, 16, 3), 40 * n + 10 * k, np.uint8))
            lines.append(" ".join(f"data/SNU-FILM/{x}" for x in names))
        (lists / f"test-{name}.txt").write_text("\n".join(lines) + "\n")
    return root, lists


def test_snu_film_loader_resolves_the_official_paths(tmp_path: Path) -> None:
    root, lists = _fake_snu_film(tmp_path)
    found = load_snu_film(root, lists)
    assert [t.subset for t in found] == ["easy"] * 2 + ["medium"] * 2 + ["hard"] * 2 + ["extreme"] * 2
    assert all(p.is_file() for t in found for p in (t.frame0, t.gt, t.frame1))
    assert found[6].gt == root / "test/GOPRO_test/SEQ30/000009.png"
    assert [t.subset for t in load_snu_film(root.parent, lists, ("hard",))] == ["hard", "hard"]


def test_snu_film_missing_frames_are_reported(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        load_snu_film(tmp_path, shared_data / "snu_film_lists")


def test_cli_route_eval_on_snu_film_layout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, lists = _fake_snu_film(tmp_path)
    out = tmp_path / "re"
    rc = main(["route-eval", "--snu-film", str(root), "--snu-film-lists", str(lists), "--fast", "blend",
               "--heavy", "blend", "--out", str(out), "--heavy-share", "0.5"])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert list(res["subsets"]) == ["easy", "medium", "hard", "extreme", "all"]
    assert res["config"]["scorer"] == "motion-fallback"
    assert "motion fallback" in capsys.readouterr().out


def test_time_aim_allows_a_quarter_of_the_fast_time_for_scoring() -> None:
    from dynvfi_core.routing.evaluate import time_bound

    p = _table(12, seed=3)
    mask = p.score < 0.5
    chosen = np.where(mask, p.t_heavy, p.t_fast).mean()
    assert time_bound(p, mask) == pytest.approx(chosen + 0.25 * p.t_fast.mean())
    for t_score, ok in ((0.2, True), (0.3, False)):  # scoring at 20% / 30% of the fast model's time
        p.t_score = t_score * p.t_fast.mean() * np.ones(12)
        s = evaluate_table(p, threshold=0.5)["subsets"]["all"]
        assert s["within_time_bound"] is ok


def test_compare_accepts_builtins_and_dpa_checkpoints(tmp_path: Path) -> None:
    from dynvfi_core.dpa import DPA, save_model
    from dynvfi_core.errors import ConfigError
    from dynvfi_core.route_cli import compare_scorers

    dpa = DPA.untrained(seed=0, device="cpu")
    (tmp_path / "run_a").mkdir()
    ckpt = save_model(tmp_path / "run_a" / "best.safetensors", dpa.model, dpa.cfg)
    scorers = compare_scorers(["motion", str(ckpt)], device="cpu")
    assert list(scorers) == ["motion", "dpa(best.safetensors)@run_a"]
    assert isinstance(scorers["motion"], MotionScorer)
    with pytest.raises(ConfigError, match="DPA checkpoint"):
        compare_scorers(["nonsense"])
    with pytest.raises(InputError, match="not found"):
        compare_scorers([str(tmp_path / "missing.safetensors")])


def test_dpa_checkpoint_plugs_into_the_router(tmp_path: Path) -> None:
    from dynvfi_core.dpa import DPA, save_model
    from dynvfi_core.routing import load_scorer

    dpa = DPA.untrained(seed=0, device="cpu")
    ckpt = save_model(tmp_path / "dpa.safetensors", dpa.model, dpa.cfg)
    scorer = load_scorer(ckpt, device="cpu")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(2, 64, 96, 3), dtype=np.uint8)
    scores = np.asarray(scorer.score_batch(frames, frames[::-1]))
    # scores are the DPA's raw regression output (not clipped to [0, 1]; see dynvfi_core.dpa.inference)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert scores == pytest.approx(dpa.score_batch(frames, frames[::-1]), abs=1e-6)
    with pytest.raises(InputError, match="not found"):
        load_scorer(tmp_path / "missing.safetensors")


def test_threshold_is_placed_on_the_validation_set_when_given() -> None:
    from dynvfi_core.routing.calibrate import threshold_for_share

    test, val = _table(12, seed=5), _table(30, seed=6)
    val.score = val.score * 0.5  # a validation set that scores lower: its 1/3 quantile is lower too
    res = evaluate_table(test, heavy_share=1 / 3, calibration=val)
    assert res["threshold"] == threshold_for_share(val.score, 1 / 3) != threshold_for_share(test.score, 1 / 3)
    assert res["calibrated_on_pairs"] == 30
    assert res["subsets"]["all"]["routed"]["heavy_fraction"] == pytest.approx((test.score < res["threshold"]).mean())
    budget = evaluate_table(test, budget=0.5, calibration=val)
    assert budget["calibrated_time_fraction"] <= 0.5 + 1e-9 and budget["calibrated_on_pairs"] == 30


def test_cli_calibrate_on_a_validation_list(tmp_path: Path, tiny_triplets, capsys: pytest.CaptureFixture) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    for name, part in (("val.txt", tiny_triplets[:6]), ("test.txt", tiny_triplets[6:])):
        (lists / name).write_text("".join(f"{t.frame0} {t.gt} {t.frame1}\n" for t in part))
    out = tmp_path / "re"
    rc = main(["route-eval", "--data", str(lists / "test.txt"), "--calibrate-on", str(lists / "val.txt"),
               "--fast", "blend", "--heavy", "blend", "--budget", "0.6", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["rule"] == "budget" and res["calibrated_on_pairs"] == 6 and res["config"]["n_pairs"] == 6
    assert "validation pairs" in (out / "results.md").read_text()
    rc = main(["route-eval", "--data", str(lists / "test.txt"), "--calibrate-on", str(lists / "val.txt"),
               "--fast", "blend", "--heavy", "blend", "--threshold", "0.5", "--out", str(out)])
    assert rc != 0 and "needs none" in capsys.readouterr().err


def test_time_aim_is_judged_on_the_calm_costs_not_the_live_timings() -> None:
    """A busy machine inflating one live scoring time must not flip the verdict (and vice versa)."""
    p = _table(12, seed=3)
    p.t_score = np.full(12, 10.0)  # live: scoring looked 500x slower than the fast model
    p.cost = {"fast": np.full(12, 0.02), "heavy": np.full(12, 0.2), "score": np.full(12, 0.004)}
    s = evaluate_table(p, threshold=0.5)["subsets"]["all"]
    assert s["within_time_bound"] is True and s["time_aim_on"] == "calm cost pass"
    assert s["score_time_fraction_of_fast"] == pytest.approx(0.2)
    p.t_score = np.full(12, 0.0)
    p.cost["score"] = np.full(12, 0.006)  # calm: 30% of the fast model's cost
    assert evaluate_table(p, threshold=0.5)["subsets"]["all"]["within_time_bound"] is False


def test_ranking_reports_srcc_and_plcc_with_the_fast_models_quality() -> None:
    p = _table(4, seed=1)
    p.score = np.array([0.1, 0.2, 0.3, 0.4])
    p.psnr_fast = np.array([10.0, 20.0, 40.0, 30.0])
    p.perc_fast = np.array([0.4, 0.3, 0.2, 0.1])  # lower distance = better: a perfect ranking
    p.alt_score = {"motion": np.array([0.4, 0.3, 0.2, 0.1])}
    p.alt_t_score = {"motion": np.zeros(4)}
    rank = evaluate_table(p, threshold=0.25, scorer_label="mine")["ranking"]
    # by hand: rank differences (0, 0, -1, 1) -> 1 - 6 * 2 / (4 * 15) = 0.8
    assert rank["mine"]["srcc_psnr"] == pytest.approx(0.8)
    assert rank["mine"]["plcc_psnr"] == pytest.approx(np.corrcoef(p.score, p.psnr_fast)[0, 1])
    assert rank["mine"]["srcc_perceptual"] == pytest.approx(1.0)
    assert rank["motion"]["srcc_psnr"] == pytest.approx(-0.8)
    assert rank["motion"]["srcc_perceptual"] == pytest.approx(-1.0)


def test_absdiff_scorer_is_the_mean_absolute_input_difference() -> None:
    from dynvfi_core.routing.scorers import AbsDiffScorer

    a = np.zeros((4, 6, 3), np.uint8)
    b = a.copy()
    b[0, :, 0] = 200  # 6 of 72 values differ by 200: mean 16.67
    s = AbsDiffScorer(scale=10.0).score_batch([a, a], [b, a])
    assert s == pytest.approx([1 / (1 + (200 * 6 / 72) / 10), 1.0])


def _hand_table() -> PairTable:
    """Four pairs whose routing outcome is worked out by hand in the test below."""
    arr = lambda *v: np.array(v, dtype=float)  # noqa: E731
    return PairTable(
        ids=["a", "b", "c", "d"], subsets=["x"] * 4,
        score=arr(0.1, 0.3, 0.5, 0.9), motion=arr(*[np.nan] * 4),
        psnr_fast=arr(20, 30, 25, 40), ssim_fast=arr(0.5, 0.8, 0.7, 0.9),
        psnr_heavy=arr(26, 31, 27, 40.5), ssim_heavy=arr(0.7, 0.85, 0.75, 0.92),
        t_score=arr(0.02, 0.02, 0.02, 0.02), t_fast=arr(0.1, 0.1, 0.1, 0.1), t_heavy=arr(1, 1, 1, 1),
        alt_score={"motion": arr(0.6, 0.2, 0.1, 0.2)}, alt_t_score={"motion": arr(0.05, 0.05, 0.05, 0.05)})


def test_subset_result_by_hand() -> None:
    """Threshold 0.5: pairs a and b go heavy (c's score equals the threshold: not below it, fast).
    Gains heavy - fast: 6, 1, 2, 0.5 dB; the oracle with k = 2 picks a and c. The compared
    router (threshold 0.2) sends c alone; b and d sit exactly at its threshold."""
    from dynvfi_core.routing.evaluate import subset_result

    r = subset_result(_hand_table(), 0.5, seed=0, alt_thresholds={"motion": 0.2})
    approx = pytest.approx
    assert r["n_pairs"] == 4
    assert r["fast"] == approx({"psnr": 28.75, "ssim": 0.725, "s_per_pair": 0.1})
    assert r["heavy"] == approx({"psnr": 31.125, "ssim": 0.805, "s_per_pair": 1.0})
    # routed: (26 + 31 + 25 + 40) / 4; seconds (1 + 1 + 0.1 + 0.1) / 4 + 0.02 of scoring
    assert r["routed"] == approx({"psnr": 30.5, "ssim": 0.7875, "s_per_pair": 0.57, "heavy_fraction": 0.5})
    assert r["oracle"] == approx({"psnr": 30.75, "ssim": 0.7875, "s_per_pair": 0.55, "heavy_fraction": 0.5})
    # random: fast + k/n x mean gain = 28.75 + 0.5 x 2.375
    assert (r["random"]["psnr"], r["random"]["heavy_fraction"]) == (approx(29.9375), 0.5)
    assert r["gain_share_of_oracle"] == approx(1.75 / 2)
    assert r["random_gain_share_of_oracle"] == approx(1.1875 / 2)
    assert r["gain_share_of_heavy"] == approx(1.75 / 2.375) and r["heavy_gain_db"] == approx(2.375)
    assert r["time_fraction_of_heavy"] == approx(0.57)
    # the aim: model seconds of the chosen pairs (0.55) + 25% of the fast model's (0.025)
    assert r["time_bound_s_per_pair"] == approx(0.575) and r["within_time_bound"] is True
    assert (r["time_aim_on"], r["score_s_per_pair"]) == ("live timings", approx(0.02))
    assert r["score_time_fraction_of_fast"] == approx(0.2)
    alt = r["routed_by"]["motion"]
    # c alone: (20 + 30 + 27 + 40) / 4; seconds 0.325 + 0.05 of its scoring; its oracle (k = 1) is a
    assert alt == approx({"psnr": 29.25, "ssim": 0.7375, "s_per_pair": 0.375, "heavy_fraction": 0.25,
                          "gain_share_of_oracle": 0.5 / 1.5, "gain_share_of_heavy": 0.5 / 2.375,
                          "time_fraction_of_heavy": 0.375, "time_bound_s_per_pair": 0.35,
                          "within_time_bound": False})


def test_route_eval_files_hold_what_it_returns(tmp_path: Path, tiny_triplets, diff_scorer, shift_model_spec) -> None:
    """results.json is the returned dict, pairs.csv one row per pair (no index column), the
    file names are the documented ones, and one calm cost run already judges the time aim on it."""
    import pandas as pd

    from dynvfi_core.triplets import Skipped

    out = tmp_path / "deep" / "out"  # parents are created
    gone = Skipped(tmp_path / "t" / "9", "incomplete triplet folder: frame_02.png missing")
    res = route_eval(tiny_triplets, diff_scorer, "blend", shift_model_spec, heavy_share=0.5, out_dir=out, seed=3,
                     progress=False, cost_repeats=1, skipped=[gone])
    assert res["files"] == {"json": str(out / "results.json"), "markdown": str(out / "results.md"),
                            "plot": str(out / "curve.png"), "pairs": str(out / "pairs.csv")}
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(res))
    assert (out / "results.json").read_text().startswith('{\n "config"')  # indented for reading
    cfg = res["config"]
    assert (cfg["seed"], cfg["n_pairs"], cfg["device"], cfg["cost_repeats"]) == (3, 12, "cpu", 1)
    assert cfg["skipped"] == [{"where": str(gone.where), "reason": gone.reason}]
    assert res["subsets"]["all"]["time_aim_on"] == "calm cost pass"
    pairs = pd.read_csv(out / "pairs.csv", dtype={"ids": str})
    assert len(pairs) == 12 and pairs.columns[0] == "ids" and not any(c.startswith("Unnamed") for c in pairs.columns)
    assert list(pairs["ids"]) == [t.id for t in tiny_triplets]
    assert {"cost_fast", "cost_heavy", "cost_score"} <= set(pairs.columns)
    assert pairs["motion"].isna().all()  # measured only for group_by=motion
    live = route_eval(tiny_triplets, diff_scorer, "blend", shift_model_spec, out_dir=tmp_path / "o2", progress=False,
                      cost_repeats=0, group_by="motion")
    assert live["subsets"][next(iter(live["subsets"]))]["time_aim_on"] == "live timings"
    assert not pd.read_csv(tmp_path / "o2" / "pairs.csv")["motion"].isna().any()
    with pytest.raises(InputError, match="^no triplets to evaluate$"):
        route_eval([], diff_scorer, "blend", shift_model_spec, out_dir=tmp_path / "o3", progress=False)
