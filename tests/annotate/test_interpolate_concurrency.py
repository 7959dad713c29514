"""Concurrent ``annotate interpolate`` runs merge, and ``--no-perceptual`` stores PSNR/SSIM only.

The concurrent runs are real ``dynvfi`` processes on one database (SQLite, and PostgreSQL where
the server binaries are installed); the race between a run's re-check and its insert is also
forced deterministically in-process, because processes seldom hit that instant on their own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import func, select, update

from annotate import auto, export, interpolate
from db.annotation import Interpolation
from db.engine import dispose_all, session_scope
from dynvfi_core.cli import main as cli
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import read_image, write_image
from dynvfi_core.models import registry
from dynvfi_core.models.base import VFIModel

N_TRIPLETS = 16
N_PROCESSES = 2
SIZE = 64
REPO = Path(__file__).resolve().parents[2]


def _shifting_triplets(make_triplets, db_url: str, root: Path, n: int) -> list[int]:
    """``n`` small triplets of smooth noise panning 1..n pixels per frame, registered in the DB."""
    rels = []
    for i in range(n):
        rng = np.random.default_rng(i)
        coarse = rng.integers(0, 256, (SIZE // 8, SIZE // 8, 3), dtype=np.uint8)
        texture = np.kron(coarse, np.ones((8, 8, 1), np.uint8))
        rel = f"triplets/shift/{i:03d}"
        for k, name in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
            write_image(root / rel / name, np.roll(texture, k * (1 + i), axis=1))
        rels.append((f"{rel}/frame_00.png", f"{rel}/frame_01_gt.png", f"{rel}/frame_02.png"))
    return make_triplets(db_url, rels, size=(SIZE, SIZE))


def _rows(url: str, model: str) -> list[Interpolation]:
    with session_scope(url) as s:
        return s.scalars(select(Interpolation).where(Interpolation.model == model)
                         .order_by(Interpolation.triplet_id)).all()


def test_concurrent_runs_of_one_model_merge(db_url, tmp_home, make_triplets) -> None:
    root = tmp_home / "data"
    ids = _shifting_triplets(make_triplets, db_url, root, N_TRIPLETS)
    dispose_all()  # the children open their own connections
    cmd = [sys.executable, "-m", "dynvfi_core.cli", "annotate", "interpolate", "--db", db_url,
           "--data-root", str(root), "--model", "blend", "--batch-size", "1", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(N_PROCESSES)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * N_PROCESSES, [err[-2000:] for _, err in outputs]
    done = [int(re.search(r"interpolated (\d+) triplets", out).group(1)) for out, _ in outputs]
    assert sum(done) == N_TRIPLETS  # every row counted by exactly the run that inserted it
    rows = _rows(db_url, "blend")
    assert sorted(r.triplet_id for r in rows) == ids  # one row per triplet, none missing
    for r in rows:
        assert r.perceptual is not None and r.input_perceptual is not None
        frame = read_image(root / r.path)
        path0 = root / f"triplets/shift/{ids.index(r.triplet_id):03d}/frame_00.png"
        path1 = path0.with_name("frame_02.png")
        blend = (read_image(path0).astype(np.float32) + read_image(path1).astype(np.float32)) / 2
        assert np.abs(frame - blend).max() <= 1.0
    assert not list(root.rglob("*.part"))  # no temporary file left behind


def test_a_lost_race_inserts_nothing_and_keeps_the_winners_frame(db_url, tmp_home, make_triplets,
                                                                 monkeypatch) -> None:
    root = tmp_home / "data"
    ids = _shifting_triplets(make_triplets, db_url, root, 6)
    winners = set(ids[::2])
    sentinel = np.full((SIZE, SIZE, 3), 7, np.uint8)
    real_check = interpolate._still_pending

    def check_then_lose(session, model, batch, backfill=False):
        """The re-check passes, then another run commits half of the batch before our insert."""
        result = real_check(session, model, batch, backfill)
        with session_scope(db_url) as other:
            for r in result:
                if r.id in winners:
                    rel = f"interp/blend/{r.id}.png"
                    write_image(root / rel, sentinel)
                    other.add(Interpolation(triplet_id=r.id, model=model, path=rel, psnr=-1.0, ssim=0.0))
        return result

    monkeypatch.setattr(interpolate, "_still_pending", check_then_lose)
    rep = interpolate.run(db_url, root, "blend", batch_size=6, progress=False, perceptual=False)
    assert rep.done == len(ids) - len(winners) and rep.by_others == len(winners)
    rows = _rows(db_url, "blend")
    assert sorted(r.triplet_id for r in rows) == ids
    for r in rows:
        if r.triplet_id in winners:  # the winner's row and frame are untouched
            assert r.psnr == -1.0 and (read_image(root / r.path) == sentinel).all()
        else:
            assert r.psnr > 0 and not (read_image(root / r.path) == sentinel).all()


def test_a_batch_finished_meanwhile_is_not_run_again(db_url, tmp_home, make_triplets, monkeypatch) -> None:
    root = tmp_home / "data"
    ids = _shifting_triplets(make_triplets, db_url, root, 4)
    real_pending = interpolate._pending

    def pending_then_others_finish(session, model, limit):
        """Another run finishes every triplet right after this run listed its work."""
        todo, before = real_pending(session, model, limit)
        with session_scope(db_url) as other:
            for r in todo:
                other.add(Interpolation(triplet_id=r.id, model=model, path=f"x/{r.id}.png", psnr=-1.0))
        return todo, before

    batches = []
    real_load = interpolate._load
    monkeypatch.setattr(interpolate, "_pending", pending_then_others_finish)
    monkeypatch.setattr(interpolate, "_load", lambda root, paths: batches.append(paths) or real_load(root, paths))
    rep = interpolate.run(db_url, root, "blend", batch_size=2, progress=False, perceptual=False)
    assert (rep.done, rep.by_others, batches) == (0, len(ids), [])  # no frame was read, no model run
    assert [r.psnr for r in _rows(db_url, "blend")] == [-1.0] * len(ids)


def test_no_perceptual_stores_psnr_ssim_only_and_never_loads_the_metric(blend_dataset, monkeypatch,
                                                                        capsys) -> None:
    url, root, ids = blend_dataset

    def no_metric(device):
        raise AssertionError("the perceptual metric was loaded")

    monkeypatch.setattr(interpolate, "get_metric", no_metric)
    assert cli(["annotate", "interpolate", "--db", url, "--data-root", str(root), "--model", "tta(blend)",
                "--no-perceptual"]) == 0
    assert f"interpolated {len(ids)} triplets" in capsys.readouterr().out
    rows = _rows(url, "tta(blend)")
    assert [r.triplet_id for r in rows] == ids
    reference = {r.triplet_id: r for r in _rows(url, "blend")}
    for r in rows:
        assert (r.perceptual, r.perceptual_metric, r.input_perceptual) == (None, None, None)
        assert r.psnr == pytest.approx(reference[r.triplet_id].psnr, abs=0.05)  # flips of a blend: a blend
        assert 0 < r.ssim <= 1
    with pytest.raises(InputError, match=re.escape("annotate interpolate --model tta(blend)")):
        auto.run(url, "perceptual", model="tta(blend)")
    assert sum(auto.run(url, "psnr", model="tta(blend)").counts.values()) == len(ids)


def test_a_run_with_the_metric_fills_in_what_no_perceptual_left_out(blend_dataset, monkeypatch) -> None:
    url, root, ids = blend_dataset
    before = {r.triplet_id: (r.perceptual, r.perceptual_metric, r.input_perceptual, r.psnr)
              for r in _rows(url, "blend")}
    with session_scope(url) as s:  # the state a --no-perceptual run leaves
        s.execute(update(Interpolation).values(perceptual=None, perceptual_metric=None, input_perceptual=None))

    def no_model(spec, device=None):
        raise AssertionError("the model was run again")

    monkeypatch.setattr(interpolate, "create", no_model)
    rep = interpolate.run(url, root, "blend", batch_size=4, progress=False)
    assert (rep.done, rep.backfilled, rep.skipped_before) == (0, len(ids), len(ids))
    after = {r.triplet_id: (r.perceptual, r.perceptual_metric, r.input_perceptual, r.psnr)
             for r in _rows(url, "blend")}
    for tid in ids:
        assert after[tid][1] == before[tid][1] and after[tid][3] == before[tid][3]
        assert after[tid][0] == pytest.approx(before[tid][0], abs=1e-4)  # from the stored PNG
        assert after[tid][2] == pytest.approx(before[tid][2], abs=1e-4)
    again = interpolate.run(url, root, "blend", progress=False)
    assert (again.done, again.backfilled) == (0, 0)
    assert sum(auto.run(url, "perceptual", model="blend").counts.values()) == len(ids)


class _HoldFirst(VFIModel):
    """Repeats the first frame: a weight-free model whose PSNR differs from the blend's."""

    def _run(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return img0.clone()


def test_heavy_gain_export_works_from_no_perceptual_rows(blend_dataset, monkeypatch, tmp_path) -> None:
    url, root, ids = blend_dataset
    monkeypatch.setitem(registry._FACTORIES, "hold-first", _HoldFirst)
    assert cli(["annotate", "interpolate", "--db", url, "--data-root", str(root), "--model", "hold-first",
                "--no-perceptual"]) == 0
    assert cli(["annotate", "auto", "--db", url, "--metric", "psnr", "--model", "blend"]) == 0
    out = tmp_path / "table.csv"
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--labels", "auto", "--model",
                "blend", "--auto", "auto:psnr", "--heavy-model", "hold-first", "-o", str(out)]) == 0
    table = export.training_table(url, root, "auto", model="blend", auto="auto:psnr", heavy_model="hold-first")
    heavy = {r.triplet_id: r.psnr for r in _rows(url, "hold-first")}
    ref = {r.triplet_id: r.psnr for r in _rows(url, "blend")}
    assert table["triplet_id"].tolist() == ids
    expected = [heavy[t] - ref[t] for t in ids]
    assert table["heavy_gain"].tolist() == pytest.approx(expected)
    assert len(set(np.round(expected, 3))) > 1 and all(np.isfinite(expected))
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Interpolation)
                        .where(Interpolation.perceptual.is_(None))) == len(ids)
