"""Finding evaluation triplets (frame 0, ground-truth middle, frame 1) on disk.

:func:`discover` auto-detects the common benchmark layouts so that one command evaluates any of
them:

- Vimeo90K triplets: folders holding ``im1.png im2.png im3.png`` (with ``tri_testlist.txt`` /
  ``tri_trainlist.txt`` next to ``sequences/`` when present, only listed sequences are used);
- Vimeo90K septuplets: ``im1..im7.png`` become stride-1, -2 and -3 triplets
  (``(i, i+s, i+2s)``), subsets ``stride1`` / ``stride2`` / ``stride3``;
- Middlebury: ``frame10.png frame10i11.png frame11.png``;
- UCF101 (DVF test set): ``frame_00.png frame_01_gt.png frame_02.png``;
- SNU-FILM-style list files: each line ``frame0 gt frame1``; a folder of ``test-*.txt`` lists
  yields one subset per list (``easy``, ``medium``, ...).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from dynvfi_core.errors import IncompleteInputError, InputError

log = logging.getLogger(__name__)

LAYOUTS = "Vimeo90K (im1-im3 / im1-im7), Middlebury (frame10, frame10i11, frame11), " \
          "UCF101-DVF (frame_00, frame_01_gt, frame_02), SNU-FILM list files (frame0 gt frame1 per line)"


@dataclass(frozen=True)
class TripletRef:
    """Paths of one triplet; ``subset`` groups results (stride, SNU-FILM difficulty, ...)."""

    id: str
    frame0: Path
    gt: Path
    frame1: Path
    subset: str = "all"
    layout: str = ""


def _rel_id(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).as_posix() if folder != root else folder.name
    return rel or folder.name


@dataclass(frozen=True)
class Skipped:
    """A folder or list entry that looked like a triplet but could not be used, and why."""

    where: Path
    reason: str

    def as_json(self) -> dict[str, str]:
        """The entry as reports list it (eval-triplets --json, route-eval's results.json)."""
        return {"where": str(self.where), "reason": self.reason}


#: the files of each folder layout, for telling an incomplete triplet folder from an unrelated one
_LAYOUT_FILES = {
    "Vimeo90K triplet": ("im1.png", "im2.png", "im3.png"),
    "Middlebury": ("frame10.png", "frame10i11.png", "frame11.png"),
    "UCF101-DVF": ("frame_00.png", "frame_01_gt.png", "frame_02.png"),
}


def _incomplete(folder: Path, names: set[str]) -> Skipped | None:
    """Why a folder holding some but not all files of a layout is no triplet (None: unrelated folder)."""
    partial = [(len(names & set(files)), layout, files) for layout, files in _LAYOUT_FILES.items()
               if names & set(files)]
    if not partial:
        return None
    _, layout, files = max(partial, key=lambda x: x[0])
    missing = [f for f in files if f not in names]
    return Skipped(folder, f"incomplete {layout}: {', '.join(missing)} missing")


def _from_folder(folder: Path, root: Path, skipped: list[Skipped]) -> list[TripletRef]:
    names = set(os.listdir(folder))
    fid = _rel_id(folder, root)
    if {f"im{i}.png" for i in range(1, 8)} <= names:
        out = []
        for stride in (1, 2, 3):
            for i in range(1, 8 - 2 * stride):
                a, g, b = (folder / f"im{j}.png" for j in (i, i + stride, i + 2 * stride))
                out.append(TripletRef(f"{fid}/s{stride}_{i}", a, g, b, f"stride{stride}", "vimeo_septuplet"))
        return out
    if {"im1.png", "im2.png", "im3.png"} <= names:
        return [TripletRef(fid, folder / "im1.png", folder / "im2.png", folder / "im3.png", "all", "vimeo_triplet")]
    if {"frame10.png", "frame10i11.png", "frame11.png"} <= names:
        return [TripletRef(fid, folder / "frame10.png", folder / "frame10i11.png", folder / "frame11.png",
                           "all", "middlebury")]
    if {"frame_00.png", "frame_01_gt.png", "frame_02.png"} <= names:
        return [TripletRef(fid, folder / "frame_00.png", folder / "frame_01_gt.png", folder / "frame_02.png",
                           "all", "ucf101")]
    reason = _incomplete(folder, names)
    if reason is not None:
        skipped.append(reason)
    return []


def _vimeo_list(root: Path) -> list[Path] | None:
    """Sequence folders named by a Vimeo90K list file next to ``sequences/``, if there is one."""
    for name in ("tri_testlist.txt", "sep_testlist.txt"):
        lst = root / name
        if lst.is_file() and (root / "sequences").is_dir():
            lines = [ln.strip() for ln in lst.read_text().splitlines() if ln.strip()]
            return [root / "sequences" / ln for ln in lines]
    return None


def _resolve_list_path(entry: str, list_file: Path, root: Path | None) -> Path:
    p = Path(entry)
    if p.is_absolute():
        return p
    bases = ([root] if root else []) + [list_file.parent, *list_file.parent.parents]
    # also try with leading components dropped: the official lists say data/SNU-FILM/test/...,
    # while users often point the root at their SNU-FILM folder itself
    tails = [Path(*p.parts[k:]) for k in range(len(p.parts))]
    for tail in tails:
        for base in bases:
            if (base / tail).exists():
                return base / tail
    return (root or list_file.parent) / p


def read_list_file(list_file: Path, root: Path | None = None, subset: str | None = None) -> list[TripletRef]:
    """Triplets of a SNU-FILM-style list (``frame0 gt frame1`` per line).

    Relative paths are resolved against ``root`` when given, else against the list's folder and
    its parents (the official lists start with ``data/SNU-FILM/...``).
    """
    subset = subset or list_file.stem.removeprefix("test-")
    out = []
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise InputError(f"{list_file}:{n}: expected 'frame0 gt frame1', got {line!r}")
        a, g, b = (_resolve_list_path(x, list_file, root) for x in parts)
        out.append(TripletRef(f"{subset}/{n:04d}", a, g, b, subset, "list"))
    return out


def discover(path: str | Path, root: str | Path | None = None, strict: bool = False) -> list[TripletRef]:
    """All triplets under ``path`` (a folder or a list file), in a deterministic order.

    Incomplete triplet folders and Vimeo90K list entries without a folder are skipped with a
    warning that counts them and says why; with ``strict`` they raise
    :class:`IncompleteInputError` instead, before any model runs.
    """
    return discover_all(path, root, strict)[0]


def discover_all(path: str | Path, root: str | Path | None = None,
                 strict: bool = False) -> tuple[list[TripletRef], list[Skipped]]:
    """:func:`discover`, also returning what was skipped, for reports that list it."""
    found, skipped = scan(path, root)
    if skipped:
        examples = "; ".join(f"{s.where}: {s.reason}" for s in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        message = f"{len(skipped)} incomplete triplet(s) under {path} skipped: {examples}{more}"
        if strict:
            raise IncompleteInputError(f"{message}; --strict refuses incomplete inputs")
        log.warning("warning: %s", message)
    return found, skipped


def scan(path: str | Path, root: str | Path | None = None) -> tuple[list[TripletRef], list[Skipped]]:
    """The triplets under ``path`` and what was skipped there (see :func:`discover`)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"path not found: {p}")
    root_p = Path(root) if root else None
    skipped: list[Skipped] = []
    if p.is_file():
        if p.suffix != ".txt":
            raise InputError(f"{p} is a file but not a triplet list (.txt with 'frame0 gt frame1' lines)")
        found = read_list_file(p, root_p)
    else:
        lists = sorted(p.glob("test-*.txt"))
        if lists:
            found = [t for lst in lists for t in read_list_file(lst, root_p)]
        else:
            folders = _vimeo_list(p)
            if folders is None:
                folders = sorted({Path(dp) for dp, _, _ in os.walk(p)})
            skipped += [Skipped(f, "listed in the Vimeo90K list file but the folder does not exist")
                        for f in folders if not f.is_dir()]
            found = [t for f in folders if f.is_dir() for t in _from_folder(f, p, skipped)]
    if not found:
        raise InputError(f"no triplets found under {p}; recognised layouts: {LAYOUTS}")
    missing = [x for t in found for x in (t.frame0, t.gt, t.frame1) if not x.is_file()]
    if missing:
        raise InputError(f"{len(missing)} triplet frame(s) missing, e.g. {missing[0]}")
    return found, skipped
