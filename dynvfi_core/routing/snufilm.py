"""SNU-FILM: the official ``test-{easy,medium,hard,extreme}.txt`` lists over a local copy of the frames.

The official lists name frames as ``data/SNU-FILM/test/GOPRO_test/...``: a path relative to the
authors' checkout, not to wherever a user unpacked the dataset. :func:`load_snu_film` therefore
accepts any of the plausible roots (the folder holding ``data/``, ``SNU-FILM/`` or ``test/``) and
resolves each entry by dropping leading components until the file exists.
"""

from __future__ import annotations

from pathlib import Path

from dynvfi_core.errors import InputError
from dynvfi_core.triplets import TripletRef, read_list_file

#: the four difficulty subsets, in the order tables list them
SUBSETS = ("easy", "medium", "hard", "extreme")


def _relocate(path: Path, root: Path) -> Path:
    """``path`` (``root / entry``) itself, or root joined with the entry minus leading components."""
    if path.is_file():
        return path
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return path
    for i in range(1, len(parts)):
        candidate = root.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate
    return path


def find_lists(root: Path, lists_dir: Path | None) -> dict[str, Path]:
    """The list file of each subset: from ``lists_dir`` when given, else searched under ``root``."""
    places = [lists_dir] if lists_dir else [root, root / "SNU-FILM", root / "data" / "SNU-FILM", root.parent]
    for place in places:
        found = {s: place / f"test-{s}.txt" for s in SUBSETS if (place / f"test-{s}.txt").is_file()}
        if found:
            return found
    where = lists_dir if lists_dir else root
    raise InputError(f"no SNU-FILM lists (test-easy.txt ... test-extreme.txt) found in {where}; "
                     "pass the folder holding them with --snu-film-lists")


def load_snu_film(root: str | Path, lists_dir: str | Path | None = None,
                  subsets: tuple[str, ...] = SUBSETS) -> list[TripletRef]:
    """Triplets of the requested SNU-FILM subsets, frames located under ``root``.

    Raises :class:`InputError` naming one missing frame when the copy is incomplete, rather than
    evaluating a silently smaller benchmark.
    """
    root_p = Path(root)
    if not root_p.is_dir():
        raise InputError(f"SNU-FILM root is not a folder: {root_p}")
    lists = find_lists(root_p, Path(lists_dir) if lists_dir else None)
    unknown = [s for s in subsets if s not in SUBSETS]
    if unknown:
        raise InputError(f"unknown SNU-FILM subset(s) {unknown}; choose from {', '.join(SUBSETS)}")
    out: list[TripletRef] = []
    for name in subsets:
        if name not in lists:
            raise InputError(f"SNU-FILM list test-{name}.txt not found next to the others ({sorted(lists)})")
        for t in read_list_file(lists[name], root=root_p, subset=name):
            f0, gt, f1 = (_relocate(p, root_p) for p in (t.frame0, t.gt, t.frame1))
            out.append(TripletRef(t.id, f0, gt, f1, name, "snu-film"))
    missing = [p for t in out for p in (t.frame0, t.gt, t.frame1) if not p.is_file()]
    if missing:
        raise InputError(f"{len(missing)} SNU-FILM frame(s) missing under {root_p}, e.g. {missing[0]}")
    return out
