"""`dynvfi dpa compare`: DPAs and heuristics on one table, checked against hand-built truths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynvfi_core.cli import main
from dynvfi_core.dpa import DPA, save_model
from dynvfi_core.imageio import read_image, write_image
from train.compare import calibrate, compare

#: brightness steps between the two inputs; the inputs' mean absolute difference is exactly this
DELTAS = (0, 4, 8, 16, 24, 40, 60, 90)


def _table(root: Path) -> pd.DataFrame:
    """Pairs whose difficulty is their brightness step: label and fast-model PSNR fall with it."""
    rows = []
    base = np.random.default_rng(0).integers(60, 140, size=(32, 48, 3), dtype=np.uint8)
    for split in ("val", "test"):
        for i, d in enumerate(DELTAS):
            p0, p1 = root / f"{split}{i}_0.png", root / f"{split}{i}_1.png"
            write_image(p0, base)
            write_image(p1, base + np.uint8(d))
            rows.append({"triplet_id": len(rows), "clip_id": f"{split}{i}", "path0": str(p0), "path1": str(p1),
                         "label": 4 - 3 * i / (len(DELTAS) - 1), "split": split, "rife_psnr": 45.0 - 3.0 * i})
    return pd.DataFrame(rows)


def test_absdiff_orders_and_labels_the_pairs_it_was_built_for(tmp_path: Path) -> None:
    result = compare(_table(tmp_path), {}, ["absdiff"], split="test", calibrate_on="val")
    row = result["scorers"]["absdiff"]
    # higher score = easier, and easier pairs have the higher label and PSNR: a perfect order
    assert row["srcc"] == pytest.approx(1.0) and row["srcc_psnr"] == pytest.approx(1.0)
    # val holds the same steps with the same labels, so the monotone map recovers every label
    assert row["acc@0.125"] == 1.0 and row["mae"] == pytest.approx(0.0, abs=1e-9)
    assert result["n"] == len(DELTAS) and row["kind"] == "heuristic"


def test_calibration_is_pool_adjacent_violators() -> None:
    # hand-computed: (0.2, 1.0) and (0.3, 0.5) violate the order and pool to 0.75
    got = calibrate(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.5, 1.0]), np.array([0.05, 0.25, 0.4, 9.0]))
    np.testing.assert_allclose(got, [0.0, 0.75, 1.0, 1.0])


def test_cli_writes_table_json_and_plot_with_a_dpa(tiny_cfg, tmp_path: Path) -> None:
    table = _table(tmp_path / "frames")
    table.to_csv(tmp_path / "t.csv", index=False)
    dpa = DPA.untrained(tiny_cfg, device="cpu", seed=1)
    ckpt = save_model(tmp_path / "run" / "best.safetensors", dpa.model, tiny_cfg)
    out = tmp_path / "cmp"
    assert main(["dpa", "compare", "--table", str(tmp_path / "t.csv"), "--dpa", f"tiny={ckpt}",
                 "--heuristic", "absdiff", "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert set(result["scorers"]) == {"tiny", "absdiff"}
    test = table[table["split"] == "test"]
    want = dpa.score_batch([read_image(p) for p in test["path0"]], [read_image(p) for p in test["path1"]])
    from scipy import stats

    assert result["scorers"]["tiny"]["srcc_psnr"] == pytest.approx(stats.spearmanr(want, test["rife_psnr"]).statistic)
    assert "| absdiff | heuristic |" in (out / "compare.md").read_text()
    assert (out / "compare.png").stat().st_size > 0


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys) -> None:
    _table(tmp_path / "f").to_csv(tmp_path / "t.csv", index=False)
    code = main(["dpa", "compare", "--table", str(tmp_path / "t.csv"), "--dpa", str(tmp_path / "nope.safetensors"),
                 "--out", str(tmp_path / "o")])
    assert code != 0 and "no checkpoint at" in capsys.readouterr().err


def test_heuristic_map_can_come_from_another_table(tmp_path: Path) -> None:
    table = _table(tmp_path)
    held_out, corpus = table[table["split"] == "test"], table[table["split"] == "val"]
    from dynvfi_core.errors import InputError

    with pytest.raises(InputError, match="no rows in split 'val'"):
        compare(held_out, {}, ["absdiff"])
    row = compare(held_out, {}, ["absdiff"], fit_table=corpus)["scorers"]["absdiff"]
    assert row["acc@0.125"] == 1.0
