"""Batch interpolation, automatic pre-scores and the training table, on synthetic triplets.

The RIFE-versus-blend comparison also runs on the real UCF101 sample where it is present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from annotate import auto, export, interpolate
from annotate.store import add_user, upsert_vote
from db.annotation import Annotator, Interpolation, Vote
from db.engine import session_scope
from dynvfi_core import metrics
from dynvfi_core.cli import main as cli
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.imageio import read_image, to_tensor, write_image


def test_interpolate_stores_frames_and_metrics_and_resumes(blend_dataset) -> None:
    url, root, ids = blend_dataset
    with session_scope(url) as s:
        rows = s.scalars(select(Interpolation).order_by(Interpolation.triplet_id)).all()
        assert [r.triplet_id for r in rows] == ids
        r = rows[0]
        trip = r.triplet_id
        assert r.path == f"interp/blend/{trip}.png" and not Path(r.path).is_absolute()
        frame = read_image(root / r.path)
        f0 = read_image(root / f"{_trip_dir(s, trip)}/frame_00.png")
        f1 = read_image(root / f"{_trip_dir(s, trip)}/frame_02.png")
        gt = read_image(root / f"{_trip_dir(s, trip)}/frame_01_gt.png")
        expected = (f0.astype(np.float32) + f1.astype(np.float32)) / 2
        assert np.abs(frame.astype(np.float32) - expected).max() <= 1.0
        assert r.psnr == pytest.approx(float(metrics.psnr(to_tensor(frame), to_tensor(gt))), abs=1e-3)
        assert 0 < r.ssim <= 1 and r.perceptual > 0 and r.input_perceptual > 0
        assert r.perceptual_metric in ("lpips-alex", "stlpips-alex")
        assert len({round(x.psnr, 3) for x in rows}) > 1
    again = interpolate.run(url, root, "blend", progress=False)
    assert again.done == 0 and again.skipped_before == len(ids)


def _trip_dir(s, tid: int) -> str:
    from db.models import Triplet

    return str(Path(s.get(Triplet, tid).path0).parent)


def test_input_distance_is_reused_by_a_second_model(blend_dataset, monkeypatch) -> None:
    url, root, ids = blend_dataset
    calls = []
    real = interpolate.get_metric

    def counting(device):
        m = real(device)

        class Wrapped:
            name = m.name

            def __call__(self, a, b):
                calls.append(a.shape[0])
                return m(a, b)

        return Wrapped()

    monkeypatch.setattr(interpolate, "get_metric", counting)
    interpolate.run(url, root, "tta(blend)", batch_size=8, progress=False)
    assert calls == [len(ids)]  # only prediction-vs-GT; the input distances came from the cache
    with session_scope(url) as s:
        pairs = s.execute(select(Interpolation.model, Interpolation.triplet_id, Interpolation.input_perceptual)).all()
    by_model = {}
    for model, tid, d in pairs:
        by_model.setdefault(model, {})[tid] = d
    assert by_model["blend"] == by_model["tta(blend)"]


def test_auto_scores_follow_the_metric(blend_dataset) -> None:
    url, _root, ids = blend_dataset
    rep = auto.run(url, "psnr", model="blend")
    assert sum(rep.counts.values()) == len(ids) and rep.annotator == "auto:psnr"
    with session_scope(url) as s:
        psnr = dict(s.execute(select(Interpolation.triplet_id, Interpolation.psnr)).all())
        score = dict(s.execute(select(Vote.triplet_id, Vote.score).join(Annotator)
                               .where(Annotator.name == "auto:psnr")).all())
    order = sorted(ids, key=lambda t: psnr[t])
    assert [score[t] for t in order] == sorted(score[t] for t in order)  # higher PSNR never scores lower
    assert score[order[0]] == 1 and score[order[-1]] == 4
    rep = auto.run(url, "perceptual", thresholds=(0.0, 0.0001, 0.0002), model="blend")
    assert rep.counts == {1: len(ids), 2: 0, 3: 0, 4: 0}  # every blend of moving frames is farther than 0.0002


def test_score_mapping_directions() -> None:
    values = np.array([0.05, 0.15, 0.25, 0.35])
    assert auto.scores(values, (0.1, 0.2, 0.3), higher_is_better=True).tolist() == [1, 2, 3, 4]
    assert auto.scores(values, (0.1, 0.2, 0.3), higher_is_better=False).tolist() == [4, 3, 2, 1]
    with pytest.raises(ConfigError):
        auto.parse_thresholds("0.3,0.2,0.1")


def test_training_table_label_sources(blend_dataset) -> None:
    url, root, ids = blend_dataset
    with pytest.raises(InputError, match="auto"):
        export.training_table(url, root, "auto", model="blend")
    auto.run(url, "perceptual", model="blend")
    with session_scope(url) as s:
        users = [add_user(s, f"rater{i}", "correct horse battery") for i in range(3)]
        s.flush()
        for u, score in zip(users, (2, 3, 3)):
            upsert_vote(s, u.id, ids[0], score)
        upsert_vote(s, users[0].id, ids[1], 1)
        upsert_vote(s, users[1].id, ids[1], None)  # a skip is no score
    human = export.training_table(url, root, "human", model="blend")
    assert list(human.columns) == export.COLUMNS
    assert human["triplet_id"].tolist() == ids[:2]
    first = human.iloc[0]
    assert first["label"] == pytest.approx(8 / 3) and first["n_votes"] == 3 and first["ci95"] > 0
    assert human.iloc[1]["n_votes"] == 1 and np.isnan(human.iloc[1]["ci95"])
    mixed = export.training_table(url, root, "human-over-auto", model="blend")
    assert len(mixed) == len(ids)
    assert mixed.set_index("triplet_id").loc[ids[0], "label_source"] == "human"
    rest = mixed[~mixed["triplet_id"].isin(ids[:2])]
    assert (rest["label"] == rest["prescore"]).all() and (rest["label_source"] == "auto:perceptual").all()
    for col in ("path0", "path_gt", "path1"):
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in mixed[col])
    assert mixed["input_perceptual"].notna().all() and mixed["rife_psnr"].notna().all()


def test_export_cli_writes_csv_and_parquet(blend_dataset, tmp_path: Path) -> None:
    url, root, ids = blend_dataset
    assert cli(["annotate", "auto", "--db", url, "--metric", "ssim", "--model", "blend"]) == 0
    out = tmp_path / "table.parquet"
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--labels", "auto",
                "--model", "blend", "--auto", "auto:ssim", "-o", str(out)]) == 0
    pq = pd.read_parquet(out)
    assert pq["triplet_id"].tolist() == ids and set(pq["label"]) <= {1.0, 2.0, 3.0, 4.0}
    csv = tmp_path / "t.csv"
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--labels", "auto",
                "--model", "blend", "--format", "csv", "-o", str(csv)]) == 0
    assert pd.read_csv(csv)["label"].tolist() == pq["label"].tolist()
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--auto", "auto:nope",
                "--model", "blend", "-o", str(csv)]) == 2


def test_export_writes_one_split_as_route_eval_lists_per_stride(blend_dataset, tmp_path: Path) -> None:
    url, root, _ids = blend_dataset
    assert cli(["annotate", "auto", "--db", url, "--metric", "ssim", "--model", "blend"]) == 0
    table, lists = tmp_path / "t.csv", tmp_path / "lists"
    (lists).mkdir()
    (lists / "test-stride99.txt").write_text("stale\n")  # an old list must not survive
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--labels", "auto",
                "--model", "blend", "-o", str(table), "--lists", str(lists), "--lists-split", "train"]) == 0
    df = pd.read_csv(table)
    want = df[df["split"] == "train"]
    assert not want.empty
    files = sorted(lists.glob("test-*.txt"))
    assert [f.name for f in files] == sorted(f"test-stride{s}.txt" for s in want["stride"].unique())
    lines = [line.split() for f in files for line in f.read_text().splitlines()]
    assert sorted(map(tuple, lines)) == sorted(want[["path0", "path_gt", "path1"]].itertuples(index=False, name=None))


def test_interpolate_refuses_paths_outside_the_data_root(sqlite_url, tmp_home, make_triplets, capsys) -> None:
    root = tmp_home / "data"
    root.mkdir()
    write_image(tmp_home / "secret.png", np.zeros((8, 8, 3), np.uint8))  # a real image, outside the root
    make_triplets(sqlite_url, [("../secret.png", "../secret.png", "../secret.png")], size=(8, 8))
    rc = cli(["annotate", "interpolate", "--db", sqlite_url, "--data-root", str(root), "--model", "blend"])
    assert rc == 2 and "outside the data root" in capsys.readouterr().err
    with session_scope(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(Interpolation)) == 0


@pytest.mark.parametrize("dataset", ["blend_dataset", "real_blend_dataset"])
def test_rife_frames_are_perceptually_closer_than_a_blend(dataset, request, require_weights) -> None:
    require_weights("rife-v4.25")
    url, root, _ids = request.getfixturevalue(dataset)
    rep = interpolate.run(url, root, "rife-v4.25", limit=3, progress=False)
    assert rep.done == 3
    with session_scope(url) as s:
        rows = s.execute(select(Interpolation.triplet_id, Interpolation.model, Interpolation.perceptual)).all()
    rife = {t: d for t, m, d in rows if m == "rife-v4.25"}
    blend = {t: d for t, m, d in rows if m == "blend" and t in rife}
    assert len(rife) == 3 and np.mean(list(rife.values())) < np.mean(list(blend.values()))
    assert all((root / f"interp/rife-v4.25/{t}.png").is_file() for t in rife)
