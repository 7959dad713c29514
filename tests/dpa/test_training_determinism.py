"""Training is reproducible across machines of one kind: the thread count is pinned by the config.

A second machine differs from the first in what torch picks by default (its thread count comes
from the core count or OMP_NUM_THREADS), so two real ``dynvfi train`` processes with different
OMP_NUM_THREADS stand in for two machines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from safetensors.torch import load_file


def _train(raw: dict, out: Path, omp_threads: int) -> dict:
    cfg = out.with_suffix(".yaml")
    cfg.write_text(yaml.safe_dump(raw | {"out_dir": str(out)}))
    env = {**os.environ, "OMP_NUM_THREADS": str(omp_threads), "MKL_NUM_THREADS": str(omp_threads)}
    subprocess.run([sys.executable, "-m", "train.cli", "train", "--config", str(cfg)], check=True, env=env,
                   capture_output=True, timeout=600)
    return load_file(str(out / "last.safetensors"))


def test_pinned_threads_give_identical_weights_whatever_the_machine_default(synthetic_table, tiny_train_dict,
                                                                            tmp_path: Path) -> None:
    raw = tiny_train_dict(synthetic_table, tmp_path / "unused", epochs=1, max_steps=3, aux_weight=0.1, threads=2)
    a = _train(raw, tmp_path / "machine_a", omp_threads=1)
    b = _train(raw, tmp_path / "machine_b", omp_threads=2)
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])][:3]
