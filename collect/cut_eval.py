"""Precision and recall of the collection's scene-cut detector on clips with verified cuts.

``python -m collect.cut_eval`` reads ``collect/cut_eval.yaml`` (known hard cuts per clip, each
verified by eye or by an unambiguous signal, paths relative to the sample-data folder
``../shared/data`` or ``$DYNVFI_SHARED_DATA``) and runs the detector exactly as collection does
(:class:`dynvfi_core.analysis.SceneCuts` on the 256p analysis copy of every frame) twice in one
decoding pass: plain ContentDetector (cut_residual 0, the old behaviour) and with the motion
compensated confirmation (``filters.cut_residual``). A detection within ``tolerance`` frames of a
known cut is a true positive (each known cut matches at most one detection); every other
detection is a false cut.

Real footage has few cuts, so ``splices`` adds hard cuts known by construction: the first
``frames`` frames of each listed clip followed by the first ``frames`` frames of the next one in
the list (the last wraps to the first), the second clip resized to the first's analysis size.
Joining two fast-motion clips is the case where motion compensation could hide a real cut.
Prints Markdown tables (per clip, splices, totals, residual margins); ``--json`` saves them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from collect.config import Filters
from collect.frames import open_reader
from dynvfi_core.analysis import SceneCuts, analysis_size
from dynvfi_core.errors import ConfigError, InputError

DEFAULT_SPEC = Path(__file__).with_name("cut_eval.yaml")


@dataclass(frozen=True)
class Splices:
    frames: int  # frames taken from the start of each clip
    paths: tuple[str, ...]  # clip i is joined to clip i+1 (the last to the first)


@dataclass(frozen=True)
class KnownClip:
    path: str  # relative to the sample-data folder
    cuts: tuple[int, ...]  # frame k is a cut: the content jumps between frames k-1 and k
    motion: str  # motion class (SOURCES.md: small / medium / large)


@dataclass
class Score:
    """Detections of one detector setting on one clip, matched against the known cuts."""

    detected: list[int]
    true_pos: int = 0
    false_cuts: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)


def shared_data_dir() -> Path:
    """The sample-data folder; :class:`InputError` naming where it was looked for when absent."""
    env = os.environ.get("DYNVFI_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        raise InputError(f"sample data not found at {path} (set DYNVFI_SHARED_DATA)")
    return path


def load_spec(path: Path) -> tuple[int, list[KnownClip], Splices | None]:
    """(tolerance in frames, clips, splices) of a cut-evaluation YAML."""
    if not path.is_file():
        raise ConfigError(f"cut evaluation file not found: {path}")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'clips' list")
    clips = []
    for i, raw in enumerate(data["clips"]):
        if not isinstance(raw, dict) or "path" not in raw or not isinstance(raw.get("cuts"), list):
            raise ConfigError(f"{path}: clips[{i}] needs 'path' and a 'cuts' list")
        clips.append(KnownClip(str(raw["path"]), tuple(int(c) for c in raw["cuts"]), str(raw.get("motion", ""))))
    raw = data.get("splices")
    splices = None
    if raw is not None:
        if not isinstance(raw, dict) or not isinstance(raw.get("frames"), int) or raw["frames"] < 2 \
                or not isinstance(raw.get("clips"), list) or len(raw["clips"]) < 2:
            raise ConfigError(f"{path}: splices needs 'frames' (>= 2) and a 'clips' list of >= 2 paths")
        splices = Splices(raw["frames"], tuple(str(c) for c in raw["clips"]))
    return int(data.get("tolerance", 1)), clips, splices


def match(detected: list[int], known: tuple[int, ...], tolerance: int) -> Score:
    """Greedy one-to-one matching of detections to known cuts (nearest first)."""
    score = Score(sorted(detected))
    free = sorted(known)
    for d in score.detected:
        near = [k for k in free if abs(k - d) <= tolerance]
        if near:
            free.remove(min(near, key=lambda k: abs(k - d)))
            score.true_pos += 1
        else:
            score.false_cuts.append(d)
    score.missed = free
    return score


def analysis_frames(path: Path, limit: int | None = None,
                    size: tuple[int, int] | None = None) -> Iterator[np.ndarray | None]:
    """The clip's frames as collection analyses them (short side 256, or ``size``); None for a
    frame that failed to decode. Stops after ``limit`` frames."""
    if not path.exists():
        raise InputError(f"clip not found: {path}")
    reader = open_reader(path, "frames" if path.is_dir() else "video", None)
    try:
        w, h = reader.meta.width, reader.meta.height
        target = size or analysis_size(w, h)
        for frame in reader:
            if limit is not None and frame.index >= limit:
                break
            if frame.bgr is None:
                yield None
            else:
                yield frame.bgr if target == (w, h) else cv2.resize(frame.bgr, target, interpolation=cv2.INTER_AREA)
    finally:
        reader.close()


def detect(frames: Iterable[np.ndarray | None], filters: Filters, residuals: dict[str, float]) -> dict[str, SceneCuts]:
    """One detector per named cut_residual setting (0: plain ContentDetector), fed the same frames."""
    dets = {name: SceneCuts(filters.scene_threshold, None, r or None) for name, r in residuals.items()}
    for i, small in enumerate(frames):
        for d in dets.values():
            if small is None:
                d.reset()
            else:
                d.add(i, small)
    return dets


def spliced(root: Path, a: str, b: str, frames: int) -> Iterator[np.ndarray | None]:
    """The first ``frames`` frames of clip ``a``, then those of ``b`` at ``a``'s analysis size."""
    first = list(analysis_frames(root / a, frames))
    size = next(f for f in first if f is not None).shape[1::-1]
    yield from first
    yield from analysis_frames(root / b, frames, size=size)


def evaluate(spec: Path, residual: float, root: Path | None = None) -> dict:
    """Per-clip scores and totals of the plain and the motion-compensated detector."""
    tolerance, clips, splices = load_spec(spec)
    root = root or shared_data_dir()
    filters = Filters()
    settings = {"before": 0.0, "after": residual}
    totals = {k: {"tp": 0, "fp": 0, "fn": 0} for k in settings}
    margins: dict[str, list[float]] = {"true_cuts": [], "explained_jumps": []}

    def score(name: str, motion: str, frames: Iterable[np.ndarray | None], known: tuple[int, ...]) -> dict:
        dets = detect(frames, filters, settings)
        scores = {k: match(sorted(d.cuts), known, tolerance) for k, d in dets.items()}
        for k, s in scores.items():
            totals[k]["tp"] += s.true_pos
            totals[k]["fp"] += len(s.false_cuts)
            totals[k]["fn"] += len(s.missed)
        after = dets["after"]
        for cut, value in after.residuals.items():  # a jump next to a known cut is neither
            if cut in known:
                margins["true_cuts"].append(value)
            elif all(abs(cut - k) > tolerance for k in known):
                margins["explained_jumps"].append(value)
        return {"clip": name, "motion": motion, "known": list(known), **{k: asdict(s) for k, s in scores.items()}}

    rows = [score(c.path, c.motion, analysis_frames(root / c.path), c.cuts) for c in clips]
    joins = []
    if splices:
        paths = splices.paths
        for a, b in zip(paths, paths[1:] + paths[:1], strict=True):
            joins.append(score(f"{a} + {b}", "splice", spliced(root, a, b, splices.frames), (splices.frames,)))
    for t in totals.values():
        t["precision"] = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else float("nan")
        t["recall"] = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else float("nan")
    return {"scene_threshold": filters.scene_threshold, "cut_residual": residual, "tolerance": tolerance,
            "clips": rows, "splices": joins, "totals": totals,
            "residual_range": {k: [round(min(v), 2), round(max(v), 2)] if v else None for k, v in margins.items()}}


def render(result: dict) -> str:
    """Markdown: one row per clip (known cuts, false cuts and misses before/after), then totals."""
    lines = [f"ContentDetector threshold {result['scene_threshold']}, cut_residual {result['cut_residual']}, "
             f"match tolerance +-{result['tolerance']} frame(s)", "",
             "| clip | motion | known cuts | before: false / missed | after: false / missed |",
             "|---|---|---|---|---|"]
    for r in result["clips"] + result["splices"]:
        cells = [f"{len(r[k]['false_cuts'])} / {len(r[k]['missed'])}" for k in ("before", "after")]
        lines.append(f"| {r['clip']} | {r['motion']} | {len(r['known'])} | {cells[0]} | {cells[1]} |")
    lines += ["", "| detector | TP | false cuts | missed | precision | recall |", "|---|---|---|---|---|---|"]
    for k, t in result["totals"].items():
        lines.append(f"| {k} | {t['tp']} | {t['fp']} | {t['fn']} | {t['precision']:.3f} | {t['recall']:.3f} |")
    ranges = result["residual_range"]
    lines += ["", f"motion residual [min, max] at the known cut frames: {ranges['true_cuts']}; "
              f"at ContentDetector jumps away from them: {ranges['explained_jumps']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m collect.cut_eval", description=__doc__.splitlines()[0])
    p.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="known cuts YAML (default: %(default)s)")
    p.add_argument("--residual", type=float, default=Filters().cut_residual,
                   help="cut_residual of the 'after' detector (default: the collection default, %(default)s)")
    p.add_argument("--json", type=Path, help="also write the per-clip detections here")
    args = p.parse_args(argv)
    try:
        result = evaluate(args.spec, args.residual)
    except (ConfigError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
