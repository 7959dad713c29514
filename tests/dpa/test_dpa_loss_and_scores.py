"""The DPA loss against hand-computed values, and the unclipped-score contract of inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynvfi_core.dpa.loss import dpa_loss, normalise_label
from dynvfi_core.errors import ConfigError


def _out(scores: list[float], attn_means: list[float]) -> dict[str, torch.Tensor]:
    """Network output whose attention maps are constant, so their means are known exactly."""
    attn = torch.tensor(attn_means, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 4, 5).clone()
    return {"score": torch.tensor(scores), "attn": attn.requires_grad_(True)}


SCORES, TARGET = [0.9, 0.2, 0.5, 0.0], torch.tensor([1.0, 0.5, 0.25, 0.0])
ATTN, PERC = [0.6, 0.1, 0.9, 0.3], torch.tensor([0.2, 0.4, float("nan"), 0.3])
MAIN = (0.1 + 0.3 + 0.25 + 0.0) / 4
# the third triplet has no perceptual distance: the aux term averages the three others only
AUX_L1 = (0.4 + 0.3 + 0.0) / 3
AUX_MSE = (0.16 + 0.09 + 0.0) / 3


@pytest.mark.parametrize(("kind", "aux"), [("l1", AUX_L1), ("mse", AUX_MSE)])
@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_loss_values(kind: str, aux: float, weight: float) -> None:
    total, parts = dpa_loss(_out(SCORES, ATTN), TARGET, PERC, aux_weight=weight, aux_kind=kind)
    assert parts["l1"] == pytest.approx(MAIN, abs=1e-6)
    assert parts["aux"] == pytest.approx(aux, abs=1e-6)
    assert float(total.detach()) == pytest.approx(MAIN + weight * aux, abs=1e-6) == parts["total"]


def test_without_aux_weight_the_loss_is_the_l1_alone() -> None:
    total, parts = dpa_loss(_out(SCORES, ATTN), TARGET, None, aux_weight=0.0)
    assert float(total) == pytest.approx(MAIN, abs=1e-6) and "aux" not in parts


def test_rows_without_a_perceptual_value_do_not_pull_the_attention() -> None:
    out = _out(SCORES, ATTN)
    total, _ = dpa_loss(out, TARGET, PERC, aux_weight=1.0, aux_kind="l1")
    total.backward()
    grad = out["attn"].grad
    assert torch.all(grad[2] == 0)  # the NaN row
    # the others: d/d(attn pixel) of |mean - p| / 3 = sign / (3 * 20 pixels)
    for row, sign in ((0, 1.0), (1, -1.0)):
        assert torch.allclose(grad[row], torch.full_like(grad[row], sign / 60))


def test_all_rows_missing_add_nothing() -> None:
    total, parts = dpa_loss(_out(SCORES, ATTN), TARGET, torch.full((4,), float("nan")), aux_weight=3.0)
    assert parts["aux"] == 0.0 and float(total.detach()) == pytest.approx(MAIN, abs=1e-6)


def test_bad_aux_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="aux_kind"):
        dpa_loss(_out(SCORES, ATTN), TARGET, PERC, aux_weight=1.0, aux_kind="huber")
    with pytest.raises(ConfigError, match="^the auxiliary loss needs the input_perceptual column$"):
        dpa_loss(_out(SCORES, ATTN), TARGET, None, aux_weight=1.0)


def test_the_default_is_the_paper_loss_alone() -> None:
    # no aux_weight given: the L1 to the label only, even when perceptual values are at hand
    total, parts = dpa_loss(_out(SCORES, ATTN), TARGET, PERC)
    assert float(total) == pytest.approx(MAIN, abs=1e-6) and "aux" not in parts


def test_one_known_perceptual_value_is_its_own_mean() -> None:
    # only the second triplet has a value: aux = |0.1 - 0.4| = 0.3, divided by 1 known row
    perc = torch.tensor([float("nan"), 0.4, float("nan"), float("nan")])
    total, parts = dpa_loss(_out(SCORES, ATTN), TARGET, perc, aux_weight=1.0)
    assert parts["aux"] == pytest.approx(0.3, abs=1e-6)
    assert float(total.detach()) == pytest.approx(MAIN + 0.3, abs=1e-6)


def test_label_normaliser_maps_levels_onto_thirds() -> None:
    got = normalise_label(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert torch.allclose(got, torch.tensor([0.0, 1 / 3, 2 / 3, 1.0]))


@pytest.mark.parametrize("bias", [1.7, -0.4])
def test_scores_are_not_clipped_at_inference(bias: float, tiny_cfg) -> None:
    """A head biased outside [0, 1] must come out as it is: the router ranks raw scores."""
    from dynvfi_core.dpa import DPA

    dpa = DPA.untrained(tiny_cfg, device="cpu")
    head = dpa.model.head.score
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(bias)  # a constant score map: the attention-weighted mean is the bias
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, 48, 64, 3), dtype=np.uint8)
    scores = dpa.score_batch(frames, frames[::-1])
    assert scores == pytest.approx(np.full(3, bias), abs=1e-5)
    assert dpa.score(frames[0], frames[1]) == pytest.approx(bias, abs=1e-5)
    assert dpa.to_level(bias) == (4 if bias > 1 else 1)  # only the level is clipped
