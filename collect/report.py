"""The run report: a dataclass returned by :func:`collect.pipeline.collect`, a rich table for the
terminal, a JSON form stored in ``collect_run.report``, and the motion histogram PNG."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from collect.sources import SourceError


@dataclass
class CollectReport:
    """What a run did and what the collection holds for this run's clips (this shard's)."""

    shard: str
    config_hash: str
    db_url: str
    data_root: str
    clips_listed: int = 0  # clips of all sources (every shard)
    clips_in_shard: int = 0
    clips_processed: int = 0  # collected in this run
    clips_resumed: int = 0  # already complete with the same settings: skipped
    triplets_added: int = 0
    #: (tier, stride, split) -> triplets in the database for this shard's clips
    triplets: Counter = field(default_factory=Counter)
    #: candidate samples rejected, by reason (near_duplicate is decided across all clips)
    rejected: Counter = field(default_factory=Counter)
    tiers_skipped: Counter = field(default_factory=Counter)  # tier -> clips too small for it
    strides_skipped: Counter = field(default_factory=Counter)  # target fps a clip cannot give
    duplicates_kept_annotated: int = 0
    errors: list[SourceError] = field(default_factory=list)
    seconds: float = 0.0
    histogram: str | None = None
    run_id: int | None = None

    @property
    def triplets_total(self) -> int:
        return sum(self.triplets.values())

    def to_dict(self) -> dict:
        return {
            "shard": self.shard, "config_hash": self.config_hash, "db_url": self.db_url,
            "data_root": self.data_root, "clips_listed": self.clips_listed,
            "clips_in_shard": self.clips_in_shard, "clips_processed": self.clips_processed,
            "clips_resumed": self.clips_resumed, "triplets_added": self.triplets_added,
            "triplets_total": self.triplets_total,
            "triplets": [{"tier": t, "stride": s, "split": sp, "count": n}
                         for (t, s, sp), n in sorted(self.triplets.items())],
            "rejected": dict(self.rejected), "tiers_skipped": dict(self.tiers_skipped),
            "strides_skipped": dict(self.strides_skipped),
            "duplicates_kept_annotated": self.duplicates_kept_annotated,
            "errors": [{"source": e.source, "message": e.message} for e in self.errors],
            "seconds": round(self.seconds, 3), "histogram": self.histogram, "run_id": self.run_id,
        }

    def render(self, console: Console | None = None) -> None:
        """Summary tables: triplets per tier/stride/split, rejections, errors."""
        console = console or Console()
        splits = sorted({sp for _, _, sp in self.triplets}, key=["train", "val", "test"].index)
        table = Table(title=f"Triplets (shard {self.shard})")
        for col in ("tier", "stride", *splits, "total"):
            table.add_column(col, justify="right")
        for tier, stride in sorted({(t, s) for t, s, _ in self.triplets}):
            counts = [self.triplets.get((tier, stride, sp), 0) for sp in splits]
            table.add_row(tier, str(stride), *map(str, counts), str(sum(counts)))
        table.add_row("all", "", *(str(sum(n for (_, _, s), n in self.triplets.items() if s == sp)) for sp in splits),
                      str(self.triplets_total), style="bold")
        console.print(table)
        rej = Table(title="Rejected candidates / skipped")
        rej.add_column("reason")
        rej.add_column("count", justify="right")
        for reason, n in sorted(self.rejected.items()):
            rej.add_row(reason, str(n))
        for tier, n in sorted(self.tiers_skipped.items()):
            rej.add_row(f"tier {tier} above source (clips)", str(n))
        for why, n in sorted(self.strides_skipped.items()):
            rej.add_row(f"{why} (clips x targets)", str(n))
        if self.duplicates_kept_annotated:
            rej.add_row("near duplicates kept (already annotated)", str(self.duplicates_kept_annotated))
        console.print(rej)
        if self.errors:
            err = Table(title=f"Problems ({len(self.errors)})")
            err.add_column("source")
            err.add_column("message")
            for e in self.errors:
                err.add_row(e.source, e.message)
            console.print(err)
        console.print(
            f"clips: {self.clips_listed} listed, {self.clips_in_shard} in shard {self.shard}, "
            f"{self.clips_processed} collected now, {self.clips_resumed} already done | "
            f"triplets: {self.triplets_added} added, {self.triplets_total} in total | "
            f"{self.seconds:.1f} s" + (f" | motion histogram: {self.histogram}" if self.histogram else ""))


def motion_histogram(motion: dict[int, list[float]], path: Path, title: str) -> Path | None:
    """Overlaid histograms of mean motion (px at 256p) per stride; None when there is no data."""
    if not any(motion.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.concatenate([np.asarray(v) for v in motion.values() if v])
    bins = np.linspace(0.0, max(float(np.percentile(values, 99.5)), 1e-3), 40)
    fig, ax = plt.subplots(figsize=(7, 4))
    for stride in sorted(motion):
        if motion[stride]:
            ax.hist(np.clip(motion[stride], 0, bins[-1]), bins=bins, histtype="step", linewidth=1.6,
                    label=f"stride {stride} (n={len(motion[stride])})")
    ax.set_xlabel("mean DIS flow magnitude between outer frames (px at 256p)")
    ax.set_ylabel("samples")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
