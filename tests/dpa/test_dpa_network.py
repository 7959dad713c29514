"""The DPA network: shapes, size, gradient paths, variants and the deformable-conv kernels."""

from __future__ import annotations

import pytest
import torch

from dynvfi_core.dpa import ModelConfig, build_model, count_params
from dynvfi_core.dpa.deform import DeformConv3x3
from dynvfi_core.dpa.loss import dpa_loss
from dynvfi_core.errors import ConfigError, InputError

PAPER_PARAMS = 4.469e6


def test_default_config_has_the_papers_size():
    n = count_params(build_model(ModelConfig()))
    assert abs(n - PAPER_PARAMS) / PAPER_PARAMS <= 0.10, n


@pytest.mark.parametrize("hw", [(64, 64), (96, 160), (75, 101), (128, 64)])
def test_output_shapes_at_several_input_sizes(tiny_cfg, hw):
    torch.manual_seed(0)
    net = build_model(tiny_cfg).eval()
    x0, x1 = torch.randn(2, 3, *hw), torch.randn(2, 3, *hw)
    with torch.no_grad():
        out = net(x0, x1)
    assert out["score"].shape == (2,)
    # maps live at stage-2 resolution (1/8 of the input, rounded up by Swin's padding)
    h8, w8 = -(-hw[0] // 8), -(-hw[1] // 8)
    assert out["attn"].shape == out["score_map"].shape == (2, 1, h8, w8)
    assert float(out["attn"].min()) > 0 and float(out["attn"].max()) < 1
    assert torch.isfinite(out["score"]).all()


def test_default_network_runs_at_its_view_and_at_224():
    torch.manual_seed(0)
    net = build_model(ModelConfig()).eval()
    for hw in ((160, 160), (224, 224)):
        with torch.no_grad():
            out = net(torch.randn(1, 3, *hw), torch.randn(1, 3, *hw))
        assert out["attn"].shape == (1, 1, hw[0] // 8, hw[1] // 8)


def test_mismatched_frames_are_rejected(tiny_cfg):
    net = build_model(tiny_cfg)
    with pytest.raises(InputError):
        net(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 96))


def test_gradient_reaches_both_head_branches_and_both_feature_paths(tiny_cfg):
    torch.manual_seed(0)
    net = build_model(tiny_cfg)
    out = net(torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64))
    loss, _ = dpa_loss(out, torch.tensor([0.2, 0.9]), torch.tensor([0.3, 0.6]), aux_weight=0.5)
    loss.backward()
    groups = {
        "score branch": net.head.score.weight,
        "attention branch": net.head.attn.weight,
        "deep path (stage-4 align)": net.align[1].weight,
        "shallow path (deformable conv)": net.deform.weight,
        "deform offsets": net.deform.offset.weight,
        "Swin stage 1": next(net.backbone.layers[0].parameters()),
        "Swin stage 4": next(net.backbone.layers[3].parameters()),
    }
    for name, p in groups.items():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_variants_change_the_architecture(tiny_cfg):
    base = count_params(build_model(tiny_cfg))
    no_diff = count_params(build_model(tiny_cfg.replace(image_diff=False)))
    interp = count_params(build_model(tiny_cfg.replace(align="interp")))
    d, f = tiny_cfg.feat_dim, tiny_cfg.fusion_dim
    assert base - no_diff == 2 * d * f  # the difference feature adds 2*feat_dim fusion inputs
    c4 = tiny_cfg.stage_width(3)
    assert interp - base == (c4 - c4 // 16) * d  # 1x1 conv on C4 channels instead of C4/16
    x = torch.randn(1, 3, 64, 64)
    for cfg in (tiny_cfg.replace(image_diff=False), tiny_cfg.replace(align="interp"), tiny_cfg.replace(arch="ahiq")):
        out = build_model(cfg).eval()(x, x)
        assert out["score"].shape == (1,) and out["attn"].dim() == 4


def test_bad_settings_fail_with_config_errors():
    with pytest.raises(ConfigError):
        ModelConfig(view=(100, 100))
    with pytest.raises(ConfigError):
        ModelConfig(align="nearest")
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"swin_embd": 32})
    with pytest.raises(ConfigError):
        build_model(ModelConfig(backbone_checkpoint="/nonexistent/swin.pth"))


def test_native_deformable_conv_matches_torchvision():
    torch.manual_seed(0)
    native = DeformConv3x3(6, 5, guide_channels=4, impl="native")
    ref = DeformConv3x3(6, 5, guide_channels=4, impl="torchvision")
    torch.nn.init.normal_(native.offset.weight, std=0.5)  # large offsets, some samples leave the map
    ref.load_state_dict(native.state_dict())
    x = torch.randn(2, 6, 9, 11, requires_grad=True)
    guide = torch.randn(2, 4, 9, 11)
    a, b = native(x, guide), ref(x, guide)
    assert torch.allclose(a, b, atol=1e-4)
    ga = torch.autograd.grad(a.square().sum(), (x, native.weight, native.offset.weight))
    gb = torch.autograd.grad(b.square().sum(), (x, ref.weight, ref.offset.weight))
    for u, v in zip(ga, gb):
        assert torch.allclose(u, v, atol=1e-3, rtol=1e-3)


def test_aux_loss_moves_the_mean_attention_towards_the_perceptual_distance(tiny_cfg):
    frames0 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    frames1 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))

    def attn_mean_after(aux_weight: float, perceptual: float) -> float:
        torch.manual_seed(0)
        net = build_model(tiny_cfg)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(8):
            out = net(frames0, frames1)
            loss, _ = dpa_loss(out, torch.full((2,), 0.5), torch.full((2,), perceptual), aux_weight=aux_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return float(net(frames0, frames1)["attn"].mean())

    without = attn_mean_after(0.0, 0.5)
    towards_low, towards_high = attn_mean_after(1.0, 0.05), attn_mean_after(1.0, 0.95)
    assert towards_low < without - 0.2, (without, towards_low)
    assert towards_high > without, (without, towards_high)


def test_user_supplied_backbone_checkpoint_is_loaded_offline(tiny_cfg, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = build_model(tiny_cfg).backbone.state_dict()
    path = tmp_path / "swin.safetensors"
    save_file({k: v.contiguous() for k, v in source.items()}, str(path))
    torch.manual_seed(2)
    loaded = build_model(tiny_cfg.replace(backbone_checkpoint=str(path))).backbone.state_dict()
    assert all(torch.equal(source[k], loaded[k]) for k in source)
    with pytest.raises(ConfigError):  # a checkpoint of another width does not fit
        build_model(tiny_cfg.replace(swin_embed=32, backbone_checkpoint=str(path)))


@pytest.mark.parametrize("arch", ["dpa", "ahiq"])
def test_every_parameter_is_used(tiny_cfg, arch):
    """DDP requires it, and an unused weight would be dead size in the parameter count."""
    net = build_model(tiny_cfg.replace(arch=arch))
    out = net(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64))
    (out["score"].sum() + out["attn"].mean()).backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None]
    assert not unused, unused
