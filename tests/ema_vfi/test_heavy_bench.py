"""``make bench`` rows of the hand-supplied heavy models: real weights where installed, otherwise
seeded random weights, and the row's name says which."""

from __future__ import annotations

from pathlib import Path

import torch

from dynvfi_core import bench


def test_rows_say_random_weights_when_the_files_are_absent(empty_home: Path):
    labels = {spec: label for label, spec, _, _ in bench._hand_supplied()}
    assert labels == {
        "vfiformer": "vfiformer (random weights)",
        "ema-vfi": "ema-vfi (random weights)",
        "ema-vfi:variant=small": "ema-vfi:variant=small (random weights)",
    }


def test_an_installed_file_makes_its_row_use_the_registry(empty_home: Path):
    path = empty_home / "weights" / "ema-vfi" / "ours.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"placed by the user")
    rows = {spec: (label, factory) for label, spec, factory, _ in bench._hand_supplied()}
    assert rows["ema-vfi"] == ("ema-vfi", None)
    assert rows["ema-vfi:variant=small"][0].endswith("(random weights)")


def test_random_weight_row_times_the_named_variant():
    threads = torch.get_num_threads()
    try:
        row = bench._time_model("ema-vfi:variant=small", 32, 32, 1,
                                "dynvfi_core.models.ema_vfi:random_weight_model", {"variant": "small"})
    finally:
        torch.set_num_threads(threads)
    assert row["ms_per_pair"] > 0 and row["peak_mb"] > 0
    assert row["params_m"] == 14_489_815 / 1e6  # the small network, not the base one
