"""Sources: turn each configured source into clips (one collector class per source kind).

A clip's ``key`` is its stable identity (``kind:name/relative-path``): it names the clip's row,
its frame folder, its shard and - through ``group`` - its split. Keys never contain absolute
paths, so machines that mount the data elsewhere still agree on shards and splits.
Listing is cheap (no decoding): problems with one source are returned as
:class:`SourceError` entries so the other sources still run.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from collect.config import Sampling, SourceSpec
from dynvfi_core.errors import InputError

VIDEO_EXTS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
              ".3gp", ".ts", ".mts", ".m2ts", ".ogv", ".y4m"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
MAX_KEY = 500


@dataclass(frozen=True)
class SourceError:
    """A problem with one source or clip; the run reports it and goes on."""

    source: str
    message: str


@dataclass(frozen=True)
class ClipSpec:
    """Everything a worker needs to collect one clip."""

    key: str
    group: str  # split identity: clips of one group always share a split
    kind: str  # source kind, stored as Clip.source
    uri: str  # file or folder path, or URL for web clips
    media: str  # "video" | "frames" | "url" | "triplet" (a fixed frame0/gt/frame1 folder)
    fps: float | None  # configured frame rate (overrides the container's)
    sampling: Sampling
    split_unit: str = "clip"  # "clip": the group's split; "shot": each shot its own (store.shot_splits)
    split: str | None = None  # fixed split of the source, instead of the group's hash draw


def natural_key(name: str) -> list:
    """Sort ``im2`` before ``im10`` (frame files are rarely zero-padded consistently)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def image_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()),
                  key=lambda p: natural_key(p.name))


def _key(kind: str, name: str, rel: str) -> str:
    key = f"{kind}:{name}/{rel}"
    if len(key) > MAX_KEY:  # keep the readable start, make the end unique
        key = key[: MAX_KEY - 17] + "~" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return key


class Collector(ABC):
    """Lists the clips of one source. Subclasses set ``kind`` and implement :meth:`clips`."""

    kind: ClassVar[str]

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec

    @abstractmethod
    def clips(self) -> tuple[list[ClipSpec], list[SourceError]]:
        """The source's clips sorted by key, and per-clip listing problems.

        Raises :class:`InputError` when the whole source is unusable (missing, empty)."""

    def _clip(self, rel: str, uri: str, media: str, group_rel: str | None = None) -> ClipSpec:
        key = _key(self.spec.kind, self.spec.name, rel)
        group = _key(self.spec.kind, self.spec.name, group_rel) if group_rel else key
        return ClipSpec(key=key, group=group, kind=self.spec.kind, uri=uri, media=media,
                        fps=self.spec.fps, sampling=self.spec.sampling, split_unit=self.spec.split_unit,
                        split=self.spec.split)

    def _root(self) -> Path:
        root = Path(self.spec.path or "")
        if not root.exists():
            raise InputError(f"source path does not exist: {root}")
        return root


class FolderCollector(Collector):
    """Videos (any container OpenCV/PyAV reads) and frame folders, found recursively."""

    kind = "local"

    def clips(self) -> tuple[list[ClipSpec], list[SourceError]]:
        root = self._root()
        if root.is_file():
            return [self._clip(root.name, str(root), "video")], []
        if not any(root.iterdir()):
            raise InputError(f"empty folder: {root}")
        found: list[ClipSpec] = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and path.suffix.lower() in VIDEO_EXTS:
                found.append(self._clip(rel, str(path), "video"))
            elif path.is_dir() and any(p.suffix.lower() in IMAGE_EXTS for p in path.iterdir()):
                found.append(self._clip(rel, str(path), "frames"))
        if root.is_dir() and any(p.suffix.lower() in IMAGE_EXTS for p in root.iterdir()):
            found.append(self._clip("", str(root), "frames"))
        if not found:
            raise InputError(f"no videos or frame folders in {root}")
        return sorted(found, key=lambda c: c.key), []


class Adobe240Collector(FolderCollector):
    """Adobe240 (DeepVideoDeblurring) clips: 240 fps videos or their extracted frame folders."""

    kind = "adobe240"


class VimeoCollector(Collector):
    """Vimeo-90K ``sequences/%05d/%04d/im1..imN.png`` with ``*_trainlist.txt``/``*_testlist.txt``.

    Sequences of one ``%05d`` folder are cut from the same video, so they form one split group.
    Without ``sequences/`` or list files every folder holding ``im1.png`` is a sequence.
    """

    kind = "vimeo_triplet"
    frames = 3
    default_lists = ("tri_trainlist.txt", "tri_testlist.txt")

    def clips(self) -> tuple[list[ClipSpec], list[SourceError]]:
        root = self._root()
        if not root.is_dir():
            raise InputError(f"{self.spec.kind} source must be a folder: {root}")
        seq_root = root / "sequences" if (root / "sequences").is_dir() else root
        list_files = [root / n for n in self.spec.lists] or [root / n for n in self.default_lists if (root / n).is_file()]
        errors: list[SourceError] = []
        if list_files:
            rels = []
            for lf in list_files:
                if not lf.is_file():
                    raise InputError(f"list file not found: {lf}")
                rels += [line.strip() for line in lf.read_text().splitlines() if line.strip()]
        else:
            rels = [p.parent.relative_to(seq_root).as_posix() for p in seq_root.rglob("im1.png")]
        found = []
        for rel in sorted(set(rels)):
            folder = seq_root / rel
            names = [f"im{i}.png" for i in range(1, self.frames + 1)]
            missing = [n for n in names if not (folder / n).is_file()]
            if missing:
                errors.append(SourceError(_key(self.spec.kind, self.spec.name, rel),
                                          f"sequence folder lacks {', '.join(missing)}: {folder}"))
                continue
            parts = rel.split("/")
            found.append(self._clip(rel, str(folder), "frames", parts[0] if len(parts) > 1 else None))
        if not found and not errors:
            raise InputError(f"no Vimeo-90K sequences (folders with im1.png) under {seq_root}")
        return found, errors


class VimeoSeptupletCollector(VimeoCollector):
    kind = "vimeo_septuplet"
    frames = 7
    default_lists = ("sep_trainlist.txt", "sep_testlist.txt")


class WebCollector(Collector):
    """http(s) URLs, from a list file (one per line, ``#`` comments) and/or an inline list."""

    kind = "web"

    def clips(self) -> tuple[list[ClipSpec], list[SourceError]]:
        urls = list(self.spec.urls)
        if self.spec.path:
            lf = self._root()
            if not lf.is_file():
                raise InputError(f"web source 'path' must be a URL list file: {lf}")
            urls += [ln.strip() for ln in lf.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not urls:
            raise InputError(f"no URLs in {self.spec.path}")
        found, errors = [], []
        for url in sorted(set(urls)):
            if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
                errors.append(SourceError(f"web:{self.spec.name}/{url}", "not an http(s) URL"))
                continue
            found.append(self._clip(url, url, "url"))
        return found, errors


#: file names of ready-made triplet folders: (frame0, ground truth, frame1) stems, any image suffix
TRIPLET_LAYOUTS = (("frame_00", "frame_01_gt", "frame_02"), ("frame0", "gt", "frame1"))


def triplet_files(folder: Path) -> tuple[Path, Path, Path] | None:
    """(frame0, gt, frame1) of a ready-made triplet folder, or None when it has no known layout."""
    stems: dict[str, Path] = {}
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_EXTS and p.is_file():
            stems.setdefault(p.stem, p)
    for layout in TRIPLET_LAYOUTS:
        if all(n in stems for n in layout):
            a, g, b = (stems[n] for n in layout)
            return a, g, b
    return None


class TripletFolderCollector(Collector):
    """Ready-made triplets (UCF101-DVF ``frame_00/frame_01_gt/frame_02``, ``frame0/gt/frame1``).

    Every folder under ``path`` with one of :data:`TRIPLET_LAYOUTS` is one clip and its own split
    group, imported as the single triplet it is: stride 1 (the true spacing is unknown), one
    sample, no re-cutting. A folder holding some but not all three files is reported.
    """

    kind = "triplets"

    def clips(self) -> tuple[list[ClipSpec], list[SourceError]]:
        root = self._root()
        if not root.is_dir():
            raise InputError(f"triplets source must be a folder of triplet folders: {root}")
        sampling = replace(self.spec.sampling, strides=(1,), target_fps=(), step=1, max_per_clip=1)
        found: list[ClipSpec] = []
        errors: list[SourceError] = []
        for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
            rel = folder.relative_to(root).as_posix() if folder != root else folder.name
            if triplet_files(folder) is not None:
                clip = self._clip(rel, str(folder), "triplet")
                found.append(replace(clip, sampling=sampling))
            elif any(p.stem in {n for layout in TRIPLET_LAYOUTS for n in layout} for p in folder.iterdir()):
                errors.append(SourceError(_key(self.spec.kind, self.spec.name, rel),
                                          f"incomplete triplet folder (needs {' '.join(TRIPLET_LAYOUTS[0])} "
                                          f"or {' '.join(TRIPLET_LAYOUTS[1])}): {folder}"))
        if not found and not errors:
            raise InputError(f"no triplet folders ({' / '.join(' '.join(x) for x in TRIPLET_LAYOUTS)}) under {root}")
        return sorted(found, key=lambda c: c.key), errors


COLLECTORS: dict[str, type[Collector]] = {
    c.kind: c for c in (FolderCollector, Adobe240Collector, VimeoCollector, VimeoSeptupletCollector, WebCollector,
                        TripletFolderCollector)
}


def list_clips(sources: tuple[SourceSpec, ...]) -> tuple[list[ClipSpec], list[SourceError]]:
    """All clips of all sources (sorted by key) and the problems found while listing."""
    clips: list[ClipSpec] = []
    errors: list[SourceError] = []
    for spec in sources:
        try:
            found, problems = COLLECTORS[spec.kind](spec).clips()
        except InputError as exc:
            errors.append(SourceError(f"{spec.kind}:{spec.name}", str(exc)))
            continue
        except OSError as exc:
            errors.append(SourceError(f"{spec.kind}:{spec.name}", f"cannot read source: {exc}"))
            continue
        clips += found
        errors += problems
    return sorted(clips, key=lambda c: c.key), errors
