"""`dynvfi demo` runs the user's own commands in order, resumes training, and stops at a failure.

The real commands are replaced by a recorder (the whole demo takes ~10 minutes and runs as
`make demo`); what is checked is the orchestration: the order of the steps, every step on the
demo's own database (never the user's), `--resume` added only for a training run whose
checkpoint exists, a failing step ending the demo with its title and exit code, and
route-eval getting both DPAs and the free heuristics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

import dynvfi_core.cli
from dynvfi_core import demo
from dynvfi_core.errors import DynVFIError


def _run(tmp_path: Path, monkeypatch, fail_on: str | None = None) -> list[list[str]]:
    monkeypatch.setenv("DYNVFI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DYNVFI_SHARED_DATA", str(tmp_path / "no-shared-data"))
    calls: list[list[str]] = []

    def fake(argv: list[str]) -> int:
        calls.append(list(argv))
        if argv[:2] == ["annotate", "export"]:
            out = Path(argv[argv.index("-o") + 1])
            pd.DataFrame({"split": ["test", "train"], "path0": ["a/0.png", "b/0.png"],
                          "path_gt": ["a/1.png", "b/1.png"], "path1": ["a/2.png", "b/2.png"],
                          "stride": [1, 1]}).to_csv(out, index=False)
        return 3 if fail_on is not None and argv[0] == fail_on else 0

    monkeypatch.setattr(dynvfi_core.cli, "main", fake)
    args = argparse.Namespace(out=tmp_path / "out", fresh=False, heavy="blend")
    demo.cmd_demo(args)
    return calls


def test_steps_in_order_on_the_demo_database(tmp_path: Path, monkeypatch) -> None:
    calls = _run(tmp_path, monkeypatch)
    heads = [c[0] if c[0] != "annotate" else f"annotate {c[1]}" for c in calls]
    assert heads == ["collect", "annotate interpolate", "annotate interpolate", "annotate auto", "annotate export",
                     "train", "train", "route-eval"]
    db = f"sqlite:///{tmp_path / 'home' / 'demo' / 'demo.sqlite'}"
    assert all(c[c.index("--db") + 1] == db for c in calls if "--db" in c)
    assert not any("--resume" in c for c in calls)  # nothing to resume on a first run
    route = calls[-1]
    compared = [route[i + 1] for i, a in enumerate(route) if a == "--compare"]
    assert compared == ["motion", "absdiff", str(tmp_path / "out" / "dpa_gain" / "best.safetensors")]
    assert route[route.index("--dpa") + 1] == str(tmp_path / "out" / "dpa" / "best.safetensors")


def test_a_second_run_resumes_only_the_finished_training(tmp_path: Path, monkeypatch) -> None:
    best = tmp_path / "out" / "dpa" / "best.safetensors"
    best.parent.mkdir(parents=True)
    best.write_bytes(b"x")
    calls = _run(tmp_path, monkeypatch)
    trains = [c for c in calls if c[0] == "train"]
    assert "--resume" in trains[0] and "--resume" not in trains[1]


def test_a_failing_step_stops_the_demo_with_its_title(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(DynVFIError, match=r"demo step 'train the VFI-DPA.*' failed \(exit 3\)"):
        _run(tmp_path, monkeypatch, fail_on="train")
