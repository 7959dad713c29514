"""Every settings section refuses wrong types and unknown keys with one line naming the setting.

The sections are the DPA network (``model``), training (top level and ``data``) and a
collection's ``filters`` / ``download``; values come from YAML, ``--set`` or code. Expected
messages are written out here, not derived from the validator.
"""

from __future__ import annotations

import pytest

from collect.config import parse_config
from dynvfi_core.dpa.config import ModelConfig
from dynvfi_core.errors import ConfigError
from train.config import apply_overrides, from_dict

SOURCE = {"sources": [{"kind": "local", "path": "/nonexistent"}]}


@pytest.mark.parametrize("raw, message", [
    ({"epochs": "abc"}, "epochs must be a valid integer, got 'abc'"),
    ({"epochs": "7"}, "epochs must be a valid integer, got '7'"),  # strict: no silent string -> int
    ({"epochs": True}, "epochs must be a valid integer, got True"),
    ({"epochs": 0}, "epochs must be greater than or equal to 1, got 0"),
    ({"scale_jitter": 1.0}, "scale_jitter must be less than 1, got 1.0"),
    ({"target": "psnr"}, "target must be 'difficulty', 'gain' or 'fast-psnr', got 'psnr'"),
    ({"epoch": 3}, "unknown setting epoch"),
    ({"data": {"tiers": "256p"}}, "data.tiers must be a list, got '256p'"),
    ({"data": {"tabel": "x.csv"}}, "unknown setting data.tabel"),
    ({"model": {"view": [128]}}, "model.view[1] is missing"),
    ({"model": {"swin_depths": [1, 2, "4", 2]}}, "model.swin_depths[2] must be a valid integer, got '4'"),
    ({"model": {"arch": "swin"}}, "model.arch must be 'dpa', 'ahiq' or 'rife-prior', got 'swin'"),
])
def test_training_settings_errors_name_the_setting(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(raw)
    assert str(info.value) == message


def test_yaml_lists_become_tuples_and_numbers_widen() -> None:
    cfg = from_dict(apply_overrides({}, ["model.view=[128, 128]", "model.arch=rife-prior", "lr=1",
                                         "data.tiers=[256p]"]))
    assert cfg.model.view == (128, 128) and cfg.data.tiers == ("256p",)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


def test_construction_and_replace_validate_too() -> None:
    with pytest.raises(ConfigError, match=r"^model\.align must be 'pixelshuffle' or 'interp', got 'nearest'$"):
        ModelConfig(align="nearest")
    with pytest.raises(ConfigError, match=r"^epochs must be a valid integer, got 'x'$"):
        from_dict({}).replace(epochs="x")
    assert ModelConfig().replace(view=[64, 64]).view == (64, 64)


@pytest.mark.parametrize("section, message", [
    ({"filters": {"min_motion": "low"}}, "filters.min_motion must be a valid number, got 'low'"),
    ({"filters": {"scene_treshold": 30}}, "unknown setting filters.scene_treshold"),
    ({"download": {"max_bytes": 1.5}}, "download.max_bytes must be a valid integer, got 1.5"),
    ({"download": "fast"}, "download: expected a mapping of settings, got 'fast'"),
])
def test_collect_sections_errors_name_the_setting(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**SOURCE, **section})
    assert str(info.value) == message


def test_command_line_paths_stay_strings() -> None:
    # `--table 2026 --out on` name a file and a folder, not a number and a boolean (override
    # values are YAML)
    import argparse

    from train import cli

    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command"))
    cfg = cli._config(parser.parse_args(["train", "--config", "demo", "--table", "2026", "--out", "on"]))
    assert cfg.data.table == "2026" and cfg.out_dir == "on"
