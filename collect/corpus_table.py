"""Triplet counts of a collected corpus per split, tier, stride and motion class.

``python -m collect.corpus_table --db URL [--sources ../shared/data/corpus/SOURCES.md]`` prints
Markdown tables. The motion class of a clip (small / medium / large, p95 Farneback flow, see the
corpus's SOURCES.md) is read from the SOURCES.md row whose file or folder name is the last part
of the clip's path; ready-made triplets are their own class (``triplets``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from collect.cut_eval import shared_data_dir
from db.engine import session_scope
from db.models import Clip, Triplet
from dynvfi_core.errors import DynVFIError

CLASS = re.compile(r"\|\s*(?:videos|sequences)/([^ |/]+)/?\s*\|.*\|\s*(small|medium|large)\s*\(")


def motion_classes(sources_md: Path) -> dict[str, str]:
    """File or folder name -> motion class, from the corpus's SOURCES.md tables."""
    return {m.group(1): m.group(2) for m in map(CLASS.search, sources_md.read_text().splitlines()) if m}


def counts(db_url: str, classes: dict[str, str]) -> Counter:
    """(split, tier, stride, motion class) -> triplets."""
    out: Counter = Counter()
    with session_scope(db_url) as s:
        q = select(Triplet.split, Triplet.tier, Triplet.stride, Clip.source, Clip.uri).join(Clip)
        for split, tier, stride, source, uri in s.execute(q):
            motion = "triplets" if source == "triplets" else classes.get(Path(uri).name, "unknown")
            out[(split, tier, stride, motion)] += 1
    return out


def _table(c: Counter, index: int, title: str) -> list[str]:
    splits = ("train", "val", "test")
    keys = sorted({k[index] for k in c}, key=lambda x: (isinstance(x, str), x))
    lines = [f"| {title} | " + " | ".join(splits) + " | total |", "|---" * (len(splits) + 2) + "|"]
    for key in keys:
        row = [sum(n for k, n in c.items() if k[index] == key and k[0] == sp) for sp in splits]
        lines.append(f"| {key} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    total = [sum(n for k, n in c.items() if k[0] == sp) for sp in splits]
    lines.append("| all | " + " | ".join(map(str, total)) + f" | {sum(total)} |")
    return lines


def render(c: Counter) -> str:
    """Markdown: triplets per tier, per stride (256p) and per motion class (256p), by split."""
    small = Counter({k: n for k, n in c.items() if k[1] == "256p"})
    return "\n".join(_table(c, 1, "tier") + [""] + _table(small, 2, "stride (256p)") + [""]
                     + _table(small, 3, "motion (256p)"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m collect.corpus_table", description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, help="SQLAlchemy URL of the collected corpus")
    p.add_argument("--sources", type=Path, help="corpus SOURCES.md (default: <sample data>/corpus/SOURCES.md)")
    args = p.parse_args(argv)
    try:
        sources = args.sources or shared_data_dir() / "corpus" / "SOURCES.md"
        if not sources.is_file():
            raise DynVFIError(f"SOURCES.md not found: {sources}")
        print(render(counts(args.db, motion_classes(sources))))
    except DynVFIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
