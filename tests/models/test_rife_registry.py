"""The RIFE models behind registry specs, wrappers included, and the missing-weights path."""

from __future__ import annotations

import pytest
import torch

from dynvfi_core.errors import MissingWeightsError
from dynvfi_core.metrics import psnr
from dynvfi_core.models import create


def test_scaled_v425_pads_coarser_and_stays_close(rife, fidelity) -> None:
    half = rife("rife-v4.25:scale=0.5")
    full = rife("rife-v4.25")
    assert half.pad_multiple == 2 * full.pad_multiple
    a, b = fidelity.pair("pair0")
    out_half, out_full = half.interpolate(a, b), full.interpolate(a, b)
    assert out_half.shape == a.shape
    assert 0 < float((out_half - out_full).abs().max())
    assert float(psnr(out_half, out_full)[0]) > 20


def test_tta_averages_flipped_predictions(rife, fidelity) -> None:
    tta, plain = rife("tta(rife-v4.25)"), rife("rife-v4.25")
    a, b = (x[:, :, :40, :57] for x in fidelity.pair("pair2"))
    expected = (plain.interpolate(a, b)
                + plain.interpolate(a.flip(3), b.flip(3)).flip(3)
                + plain.interpolate(a.flip(2), b.flip(2)).flip(2)) / 3
    assert float((tta.interpolate(a, b) - expected).abs().max()) < 1e-5


def test_ensemble_of_both_models_is_their_mean(rife, fidelity) -> None:
    ens = rife("ensemble(rife-v4.25,rife-hdv3)")
    a, b = (x[:, :, :40, :57] for x in fidelity.pair("pair1"))
    # t=0.25: each member handles the timestep its own way (v4.25 natively, HDv3 by halving)
    expected = (rife("rife-v4.25").interpolate(a, b, 0.25) + rife("rife-hdv3").interpolate(a, b, 0.25)) / 2
    assert float((ens.interpolate(a, b, 0.25) - expected).abs().max()) < 1e-5


@pytest.mark.parametrize("spec", ["rife-v4.25", "rife-hdv3"])
def test_models_beat_the_blend_on_high_motion_triplets(spec, rife, shared_data) -> None:
    """On the three UCF101 triplets whose outer frames differ most, motion compensation must pay.

    (On near-static UCF101 triplets the blend is as good as any model, so those prove nothing.)
    """
    from dynvfi_core.imageio import read_image, to_tensor

    root = shared_data / "triplets" / "ucf101_dvf"
    names = ("frame_00.png", "frame_01_gt.png", "frame_02.png")
    triplets = [[to_tensor(read_image(d / n)) for n in names] for d in sorted(root.iterdir()) if (d / names[1]).is_file()]
    if len(triplets) < 3:
        pytest.skip("fewer than three UCF101 triplets in the sample data")
    triplets.sort(key=lambda t: float((t[0] - t[2]).abs().mean()), reverse=True)
    a, gt, b = (torch.cat(frames) for frames in zip(*triplets[:3]))
    model_db = psnr(rife(spec).interpolate(a, b), gt).mean()
    blend_db = psnr((a + b) / 2, gt).mean()
    assert float(model_db) > float(blend_db) + 2.0


@pytest.mark.parametrize("spec, model", [("rife-v4.25", "rife-v4.25"), ("rife-hdv3", "rife-hdv3"),
                                         ("tta(rife-hdv3)", "rife-hdv3")])
def test_missing_weights_name_the_exact_path(spec, model, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DYNVFI_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        create(spec, "cpu")
    assert str(tmp_path / "weights" / model / "flownet.pkl") in str(err.value)


def test_corrupt_weights_are_rejected_not_loaded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DYNVFI_HOME", str(tmp_path))
    path = tmp_path / "weights" / "rife-v4.25" / "flownet.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(MissingWeightsError, match="sha256"):
        create("rife-v4.25", "cpu")
