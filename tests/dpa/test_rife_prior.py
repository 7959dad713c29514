"""The motion-prior DPA variant: frozen released RIFE levels, physically meaningful maps, a trainable head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynvfi_core.dpa import DPA, ModelConfig, build_model, count_params, load_model, save_model
from dynvfi_core.dpa.factory import read_metadata
from dynvfi_core.dpa.preprocess import normalise
from dynvfi_core.dpa.rife_prior import MAP_CHANNELS, POOL
from dynvfi_core.errors import ConfigError
from dynvfi_core.imageio import read_image

FIDELITY = Path(__file__).resolve().parents[1] / "data" / "fidelity"


@pytest.fixture
def prior_cfg(require_weights) -> ModelConfig:
    require_weights("rife-v4.25")
    return ModelConfig(arch="rife-prior", view=(128, 128), prior_blocks=3)


def _views(a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return normalise(torch.from_numpy(a)[None]), normalise(torch.from_numpy(b)[None])


def test_prior_holds_the_released_weights_frozen_and_only_the_used_levels(prior_cfg, require_weights) -> None:
    net = build_model(prior_cfg)
    raw = torch.load(require_weights("rife-v4.25"), map_location="cpu", weights_only=True)
    state = net.state_dict()
    prior_keys = [k for k in state if k.startswith("prior.")]
    assert prior_keys and not any(k.startswith(("prior.block3.", "prior.block4.")) for k in prior_keys)
    for k in prior_keys:  # every prior tensor is the released one, bit for bit
        assert torch.equal(state[k], raw[k.removeprefix("prior.")]), k
    assert all(not p.requires_grad for p in net.prior.parameters())
    assert 50_000 < count_params(net) < 200_000  # only the head trains


def test_maps_measure_a_known_global_shift(prior_cfg) -> None:
    """A real frame shifted by 8 px: RIFE's flow t->0 is about -4 px, t->1 about +4 px (x)."""
    frame = read_image(FIDELITY / "pair2big_0.png")
    h, w = 128, 128
    crop = np.ascontiguousarray(frame[:h, :w + 8])
    a, b = crop[:, 8:8 + w], crop[:, :w]  # b is a moved 8 px to the right
    net = build_model(prior_cfg)
    maps = net.maps(*_views(np.ascontiguousarray(a), np.ascontiguousarray(b)))
    assert maps.shape == (1, MAP_CHANNELS, h // POOL, w // POOL)
    inner = maps[0, :, 4:-4, 4:-4].mean(dim=(1, 2))  # away from the border RIFE cannot see past
    to_px = lambda v: float(torch.sign(v) * torch.expm1(v.abs())) / 100 * w  # undo signed log of percent
    assert to_px(inner[0]) == pytest.approx(-4.0, abs=1.0)  # t->0 flow, x
    assert to_px(inner[2]) == pytest.approx(4.0, abs=1.0)  # t->1 flow, x
    assert abs(to_px(inner[1])) < 1.0 and abs(to_px(inner[3])) < 1.0  # no vertical motion
    same = net.maps(*_views(np.ascontiguousarray(a), np.ascontiguousarray(a)))
    assert float(same[0, :4].abs().max()) < 0.2  # identical frames: (almost) no flow
    residual, diff = MAP_CHANNELS - 3, MAP_CHANNELS - 2
    # the flow explains the shift: the warp residual is far below the raw frame difference
    assert float(maps[0, residual, 4:-4, 4:-4].mean()) < 0.5 * float(maps[0, diff, 4:-4, 4:-4].mean())


def test_training_moves_the_head_only(prior_cfg) -> None:
    net = build_model(prior_cfg).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    x0, x1 = torch.randn(2, 3, 128, 128), torch.randn(2, 3, 128, 128)
    loss = (net(x0, x1)["score"] - torch.tensor([0.0, 1.0])).abs().mean()
    loss.backward()
    opt.step()
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("prior."))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(("body.", "head.")))
    assert not net.prior.training  # the prior never switches to training mode


def test_checkpoint_round_trip_needs_no_weight_file(prior_cfg, tmp_path: Path, monkeypatch) -> None:
    net = build_model(prior_cfg)
    path = save_model(tmp_path / "v.safetensors", net, prior_cfg)
    import dynvfi_core.dpa.rife_prior as rp

    def no_weights(*_a, **_k):
        raise AssertionError("loading a saved checkpoint must not read RIFE's weight file")

    monkeypatch.setattr(rp, "load_state", no_weights)
    model, cfg, _ = load_model(path)
    assert cfg == prior_cfg  # the saved config, although the rebuild read no weight file
    frame0, frame1 = read_image(FIDELITY / "pair2big_0.png"), read_image(FIDELITY / "pair2big_1.png")
    with torch.inference_mode():
        want = net.eval()(*_views(*(np.ascontiguousarray(f[:128, :128]) for f in (frame0, frame1))))["score"]
    got = DPA(model, cfg, "cpu").score(frame0[:128, :128], frame1[:128, :128])
    assert got == pytest.approx(float(want), abs=1e-6)


def test_view_must_suit_rifes_coarsest_level() -> None:
    with pytest.raises(ConfigError, match="multiples of 64"):
        ModelConfig(arch="rife-prior", view=(160, 160))
    with pytest.raises(ConfigError, match="prior_blocks"):
        ModelConfig(arch="rife-prior", view=(128, 128), prior_blocks=6)


def test_trainer_fits_the_motion_prior_variant_and_draws_its_learning_curve(
        synthetic_table, tiny_train_dict, tmp_path, require_weights) -> None:
    """End to end through the trainer: the head learns the shift labels; best is chosen by SRCC."""
    from scipy import stats

    from train.config import from_dict
    from train.evaluate import predict
    from train.trainer import Trainer

    require_weights("rife-v4.25")
    raw = tiny_train_dict(synthetic_table, tmp_path / "run", epochs=6, aux_weight=0.0, lr=3e-3,
                          select_by="srcc", threads=1)
    raw["model"] = {"arch": "rife-prior", "view": [64, 64], "prior_blocks": 2, "prior_width": 16}
    trainer = Trainer(from_dict(raw), progress=False)
    summary = trainer.fit()
    assert summary["finished"] and summary["params"] < 20_000
    val = trainer.val_df
    pred = predict(trainer.model, val, (64, 64), trainer.device, progress=False)[0]
    assert stats.spearmanr(pred, val["label"]).statistic > 0.6  # larger shift -> lower score
    meta = read_metadata(tmp_path / "run" / "best.safetensors")
    assert meta["select_by"] == "srcc" and float(meta["val_selected"]) > 0.6
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 10_000
