"""The opt-in gain-predicting DPA: heavy_gain in the export, the target mapping, training metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotate.export import training_table
from annotate.store import auto_annotator, ensure_schema, upsert_vote
from db.annotation import Interpolation
from db.engine import dispose_all, session_scope
from db.models import Clip, Triplet
from dynvfi_core.cli import main as cli
from dynvfi_core.dpa import DPA
from dynvfi_core.dpa.factory import read_metadata
from dynvfi_core.errors import ConfigError, InputError
from train.config import from_dict
from train.data import apply_target, gain_target, read_table
from train.trainer import train

#: per triplet: fast PSNR, heavy PSNR (None = the heavy model has not run on it)
PSNRS = [(30.0, 31.5), (28.0, 27.25), (33.0, None), (25.0, 25.0)]


@pytest.fixture
def gain_db(tmp_path):
    """A SQLite DB with four auto-labelled triplets, interpolated by `blend` and (mostly) `tta(blend)`."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ensure_schema(url)
    with session_scope(url) as s:
        clip = Clip(key="local/a", source="local", uri="a.mp4", split="train")
        s.add(clip)
        s.flush()
        auto = auto_annotator(s, "psnr")
        ids = []
        for i, (fast, heavy) in enumerate(PSNRS):
            t = Triplet(clip_id=clip.id, frame0=i, stride=1, tier="256p", width=8, height=8, split="train",
                        path0=f"t{i}/0.png", path_gt=f"t{i}/gt.png", path1=f"t{i}/1.png")
            s.add(t)
            s.flush()
            ids.append(t.id)
            s.add(Interpolation(triplet_id=t.id, model="blend", path=f"interp/blend/{t.id}.png", psnr=fast))
            if heavy is not None:
                s.add(Interpolation(triplet_id=t.id, model="tta(blend)", path=f"interp/tta/{t.id}.png",
                                    psnr=heavy))
            upsert_vote(s, auto.id, t.id, 1 + i % 4)
    yield url, tmp_path, ids
    dispose_all()


def test_export_adds_heavy_gain_and_keeps_the_other_columns(gain_db) -> None:
    url, root, ids = gain_db
    plain = training_table(url, root, "auto", model="blend")
    table = training_table(url, root, "auto", model="blend", heavy_model="tta(blend)")
    assert "heavy_gain" not in plain.columns
    assert list(table.columns) == list(plain.columns) + ["heavy_gain"]
    pd.testing.assert_frame_equal(table[plain.columns], plain)
    gains = dict(zip(table["triplet_id"], table["heavy_gain"]))
    for tid, (fast, heavy) in zip(ids, PSNRS):
        if heavy is None:
            assert np.isnan(gains[tid])
        else:
            assert gains[tid] == pytest.approx(heavy - fast)
    with pytest.raises(InputError, match="no interpolations"):
        training_table(url, root, "auto", model="blend", heavy_model="rife-hdv3")
    with pytest.raises(ConfigError):
        training_table(url, root, "auto", model="blend", heavy_model="blend")


def test_export_cli_writes_heavy_gain(gain_db, tmp_path) -> None:
    url, root, _ = gain_db
    out = tmp_path / "t.csv"
    assert cli(["annotate", "export", "--db", url, "--data-root", str(root), "--labels", "auto", "--model", "blend",
                "--heavy-model", "tta(blend)", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert df["heavy_gain"].notna().sum() == 3 and df["heavy_gain"].isna().sum() == 1


def test_gain_target_is_monotone_decreasing_and_centred() -> None:
    gains = np.array([-3.0, -0.5, 0.0, 0.2, 0.5, 3.0])
    t = gain_target(gains, scale=0.5)
    assert np.all(np.diff(t) < 0)  # a bigger heavy gain -> a lower score -> routed to the heavy model
    assert t[2] == pytest.approx(0.5) and t[0] > 0.99 and t[-1] < 0.01
    assert gain_target(np.array([0.5]), scale=1.0)[0] > t[4]  # a larger scale flattens the curve
    df = pd.DataFrame({"label": [4.0, 1.0, 2.0], "heavy_gain": [2.0, np.nan, -2.0]})
    out = apply_target(df, "gain", 0.5)
    assert len(out) == 2 and list(out["difficulty_label"]) == [4.0, 2.0]
    assert out["label"].iloc[0] < 2.5 < out["label"].iloc[1]
    assert apply_target(df, "difficulty") is df
    with pytest.raises(InputError, match="heavy_gain"):
        apply_target(df.drop(columns="heavy_gain"), "gain")
    with pytest.raises(ConfigError):
        from_dict({"target": "psnr"})


def test_tiny_gain_training_records_its_target(synthetic_table, tiny_train_dict, tmp_path) -> None:
    df = read_table(synthetic_table)
    df["heavy_gain"] = np.linspace(-1.5, 1.5, len(df))
    df.loc[0, "heavy_gain"] = np.nan
    table = tmp_path / "gain.csv"
    df.to_csv(table, index=False)
    cfg = from_dict(tiny_train_dict(table, tmp_path / "run", epochs=1, aux_weight=0.0, target="gain"))
    summary = train(cfg, progress=False)
    assert summary["finished"]
    best = tmp_path / "run" / "best.safetensors"
    assert read_metadata(best)["target"] == "gain"
    assert read_metadata(tmp_path / "run" / "last.safetensors")["gain_scale"] == "0.5"
    dpa = DPA.load(best, device="cpu")
    assert dpa.target == "gain" and dpa.name == "dpa-gain(best.safetensors)"
    plain = train(from_dict(tiny_train_dict(table, tmp_path / "plain", max_steps=1, aux_weight=0.0)),
                  progress=False)
    assert plain["finished"]
    assert DPA.load(tmp_path / "plain" / "best.safetensors", device="cpu").target == "difficulty"
