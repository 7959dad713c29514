"""The goldens' weight generator follows its documented rules (the goldens depend on it)."""

from __future__ import annotations

import pytest
import torch

from dynvfi_core.models.seeded_weights import buffers_of, seeded_state

LAYOUT = {
    "conv.weight": {"shape": [4, 2, 3, 3], "dtype": "float32"},
    "conv.bias": {"shape": [4], "dtype": "float32"},
    "index": {"shape": [5], "dtype": "int64"},
    "blocks.0.norm1.weight": {"shape": [6], "dtype": "float32"},
    "blocks.0.norm1.bias": {"shape": [6], "dtype": "float32"},
    "act.weight": {"shape": [4], "dtype": "float32"},
}


def test_draws_follow_the_documented_rules_in_manifest_order():
    kept = torch.arange(5)
    state = seeded_state(LAYOUT, seed=7, keep={"index": kept})
    # one generator, advanced key by key; the kept key draws nothing
    gen = torch.Generator().manual_seed(7)
    conv_w = torch.randn(4, 2, 3, 3, generator=gen) / 18 ** 0.5
    conv_b = torch.randn(4, generator=gen) * 0.1
    norm_w = 1 + torch.randn(6, generator=gen) * 0.1
    norm_b = torch.randn(6, generator=gen) * 0.1
    act_w = torch.randn(4, generator=gen) * 0.1
    assert list(state) == list(LAYOUT)
    for key, expected in (("conv.weight", conv_w), ("conv.bias", conv_b), ("blocks.0.norm1.weight", norm_w),
                          ("blocks.0.norm1.bias", norm_b), ("act.weight", act_w)):
        torch.testing.assert_close(state[key], expected, rtol=0, atol=1e-7)
    assert state["index"] is kept


def test_integer_tensors_must_be_kept():
    with pytest.raises(ValueError, match="index"):
        seeded_state(LAYOUT, seed=7)


def test_buffers_of_picks_by_last_name():
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(3))
    assert set(buffers_of(net, ("running_mean", "num_batches_tracked"))) == {"0.running_mean", "0.num_batches_tracked"}
