"""Trainer, resume, evaluation, ablation and the CLI, on the synthetic table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from dynvfi_core.dpa.inference import score_to_level
from dynvfi_core.errors import ConfigError, InputError
from train.config import from_dict, load_config
from train.data import PairDataset, load_table, read_table, split
from train.evaluate import compute_metrics, predict
from train.trainer import Trainer, train


def test_metrics_follow_their_definitions():
    pred = np.array([0.10, 0.50, 0.90, 0.30])
    gt = np.array([0.00, 0.55, 0.50, 0.30])
    m = compute_metrics(pred, gt)
    err = np.abs(pred - gt)  # 0.10, 0.05, 0.40, 0.00
    assert m["acc@0.125"] == pytest.approx(3 / 4) and m["acc@0.25"] == pytest.approx(3 / 4)
    assert m["mae"] == pytest.approx(err.mean())
    assert -1 <= m["srcc"] <= 1 and -1 <= m["plcc"] <= 1
    assert math.isnan(compute_metrics(np.ones(3), gt[:3])["srcc"])  # constant prediction


def test_metrics_rank_raw_scores_but_score_clipped_predictions() -> None:
    gt = np.array([0.0, 0.1, 0.5, 1.0])
    m = compute_metrics(np.array([-0.2, -0.1, 0.5, 1.3]), gt)
    assert m["srcc"] == pytest.approx(1.0)  # clipping would have tied the two lowest
    assert m["mae"] == pytest.approx(0.1 / 4)  # errors of the clipped predictions (0, 0, 0.5, 1)
    assert score_to_level(np.array([0.0, 0.34, 0.66, 1.0])).tolist() == [1, 2, 3, 4]


def test_augmentation_keeps_the_pair_consistent(synthetic_table):
    df = split(read_table(synthetic_table), "train").iloc[:1]
    df = pd.concat([df] * 2, ignore_index=True)
    df.loc[1, "path1"] = df.loc[0, "path0"]  # a pair of identical frames...
    ds = PairDataset(df, (32, 32), train=True, seed=0)
    for epoch in range(4):
        ds.set_epoch(epoch)
        item = ds[1]
        assert (item["frame0"] == item["frame1"]).all()  # ...stays identical after crop/flip/swap
    assert float(ds[0]["target"]) == pytest.approx((df.loc[0, "label"] - 1) / 3)


def test_tiny_training_run_reduces_the_loss(synthetic_table, tiny_train_dict, tmp_path):
    cfg = from_dict(tiny_train_dict(synthetic_table, tmp_path / "run", epochs=8, aux_weight=0.0, lr=2e-3))
    trainer = Trainer(cfg, progress=False)
    gt = (trainer.train_df["label"].to_numpy() - 1) / 3
    before = np.abs(predict(trainer.model, trainer.train_df, cfg.model.view, trainer.device, progress=False)[0] - gt).mean()
    summary = trainer.fit()
    after = np.abs(predict(trainer.model, trainer.train_df, cfg.model.view, trainer.device, progress=False)[0] - gt).mean()
    assert after < 0.8 * before, (before, after)
    assert summary["finished"] and summary["step"] == 8 * 3
    out = tmp_path / "run"
    for name in ("best.safetensors", "last.safetensors", "state.pt", "config.yaml", "train_log.csv",
                 "val_log.csv", "test/eval.json", "test/confusion.png"):
        assert (out / name).exists(), name
    assert any((out / "tb").iterdir())
    assert len(pd.read_csv(out / "val_log.csv")) == 8


def test_resume_continues_from_the_saved_step_identically(synthetic_table, tiny_train_dict, tmp_path):
    raw = tiny_train_dict(synthetic_table, tmp_path / "straight", epochs=2, aux_weight=0.1)
    straight = train(from_dict(raw), progress=False)
    raw["out_dir"] = str(tmp_path / "interrupted")
    first = train(from_dict(raw), stop_at=4, progress=False)  # mid-epoch 1 (3 steps per epoch)
    assert first["step"] == 4 and not first["finished"]
    resumed = train(from_dict(raw), resume=True, progress=False)
    assert resumed["step"] == straight["step"] == 6
    a = load_file(str(tmp_path / "straight" / "last.safetensors"))
    b = load_file(str(tmp_path / "interrupted" / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
    log_a = pd.read_csv(tmp_path / "straight" / "train_log.csv")
    log_b = pd.read_csv(tmp_path / "interrupted" / "train_log.csv")
    pd.testing.assert_frame_equal(log_a, log_b)


def test_resume_refuses_a_different_model(synthetic_table, tiny_train_dict, tmp_path):
    raw = tiny_train_dict(synthetic_table, tmp_path / "r", epochs=1)
    train(from_dict(raw), stop_at=1, progress=False)
    with pytest.raises(InputError):  # a fresh run never silently overwrites an existing one
        train(from_dict(raw), progress=False)
    raw["model"]["feat_dim"] = 8
    with pytest.raises(ConfigError):
        train(from_dict(raw), resume=True, progress=False)


def test_configs_load_and_reject_typos(tmp_path):
    for name in ("demo", "default"):
        cfg = load_config(name)
        assert cfg.model.arch == "dpa" and cfg.epochs >= 1
    assert load_config("demo", ["epochs=3", "model.view=[128,128]"]).model.view == (128, 128)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"epoch": 3}))
    with pytest.raises(ConfigError):
        load_config(bad)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")


def test_table_validation(synthetic_table, tmp_path):
    df = read_table(synthetic_table)
    broken = tmp_path / "broken.csv"
    df.drop(columns=["label"]).to_csv(broken, index=False)
    with pytest.raises(InputError):
        load_table(from_dict({"data": {"table": str(broken)}}).data)
    df.assign(label=df["label"] + 5).to_csv(broken, index=False)
    with pytest.raises(InputError):
        load_table(from_dict({"data": {"table": str(broken)}}).data)
    parquet = tmp_path / "t.parquet"
    df.to_parquet(parquet)
    assert len(load_table(from_dict({"data": {"table": str(parquet)}}).data)) == len(df)
    with pytest.raises(InputError):
        load_table(from_dict({"data": {"table": str(synthetic_table), "tiers": ["1080p"]}}).data)


def test_cli_train_eval_score_and_ablate(synthetic_table, tiny_train_dict, tmp_path, capsys):
    from dynvfi_core.cli import main

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_train_dict(synthetic_table, tmp_path / "cli", epochs=1)))
    assert main(["train", "--config", str(cfg_path)]) == 0
    ckpt = tmp_path / "cli" / "best.safetensors"
    assert main(["dpa", "eval", "--checkpoint", str(ckpt), "--table", str(synthetic_table),
                 "--out", str(tmp_path / "ev"), "--no-timing"]) == 0
    assert "acc@0.125" in capsys.readouterr().out
    assert (tmp_path / "ev" / "confusion.png").stat().st_size > 0
    df = read_table(synthetic_table)
    assert main(["dpa", "score", "--checkpoint", str(ckpt), df.path0[0], df.path1[0]]) == 0
    score, _, level = capsys.readouterr().out.split()[:3]
    assert int(level) == score_to_level(np.asarray([float(score)]))[0]  # the level is the clipped, rounded score
    assert main(["dpa", "score", "--checkpoint", str(ckpt), df.path0[0]]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["dpa", "ablate", "--config", str(cfg_path), "--out", str(tmp_path / "abl"),
                 "--variants", "AHIQ,full VFI-DPA", "--set", "max_steps=2"]) == 0
    table = (tmp_path / "abl" / "table2.md").read_text()
    assert "| AHIQ |" in table and "| full VFI-DPA |" in table
