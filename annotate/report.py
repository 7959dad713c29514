"""Rich tables (and an optional figure) for ``dynvfi annotate stats``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def print_report(result: dict, items: int = 20, console: Console | None = None) -> None:
    """Summary, annotators (with control accuracy and BT.500), kappa pairs, least certain items."""
    con = console or Console()
    if not con.is_terminal:  # files and pipes: wide enough that no header is cut
        con = Console(width=max(con.width, 120))
    con.print(f"[bold]{result['n_votes']}[/] human scores on [bold]{result['n_items']}[/] items "
              f"({result['n_items_multi']} with 2+ scores); Krippendorff's alpha (ordinal): "
              f"[bold]{_f(result['alpha_ordinal'], '.3f')}[/]")

    t = Table(title="Annotators")
    for col in ("annotator", "votes", "skips", "mean", "controls", "ctrl acc", "ctrl ±1", "BT.500 P/Q", "rejected"):
        t.add_column(col, justify="left" if col == "annotator" else "right")
    for a in result["annotators"]:
        t.add_row(a["annotator"], str(a["votes"]), str(a["skips"]), _f(a["mean_score"]), str(a["controls"]),
                  _f(a["control_accuracy"]), _f(a["control_within1"]), f"{a['bt500_p']}/{a['bt500_q']}",
                  "[red]yes[/]" if a["bt500_rejected"] else "no")
    con.print(t)

    if result["kappa"]:
        t = Table(title="Pairwise agreement (quadratic-weighted Cohen's kappa)")
        for col in ("annotator A", "annotator B", "shared items", "kappa"):
            t.add_column(col, justify="right" if col in ("shared items", "kappa") else "left")
        for k in result["kappa"]:
            t.add_row(k["a"], k["b"], str(k["shared"]), _f(k["kappa"], ".3f"))
        con.print(t)

    if result["items"] and items > 0:
        rows = sorted(result["items"], key=lambda r: (-(r["ci_high"] - r["ci_low"] if r["ci_low"] is not None
                                                        else float("inf")), r["triplet_id"]))[:items]
        t = Table(title=f"Items, least certain first ({len(rows)} of {len(result['items'])})")
        for col in ("triplet", "votes", "mean", "95% CI (bootstrap)"):
            t.add_column(col, justify="right")
        for r in rows:
            ci = "-" if r["ci_low"] is None else f"{r['ci_low']:.2f} .. {r['ci_high']:.2f}"
            t.add_row(str(r["triplet_id"]), str(r["n_votes"]), _f(r["mean"]), ci)
        con.print(t)


def plot(result: dict, path: str | Path) -> Path:
    """Histogram of per-item mean scores and each annotator's mean score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.hist([r["mean"] for r in result["items"]], bins=[1, 1.5, 2, 2.5, 3, 3.5, 4.01], edgecolor="black")
    ax1.set(title="Per-item mean score", xlabel="score (4 = best)", ylabel="items")
    names = [a["annotator"] for a in result["annotators"] if a["mean_score"] is not None]
    ax2.bar(names, [a["mean_score"] for a in result["annotators"] if a["mean_score"] is not None],
            color=["tab:red" if a["bt500_rejected"] else "tab:blue"
                   for a in result["annotators"] if a["mean_score"] is not None])
    ax2.set(title="Mean score per annotator (red: BT.500 rejected)", ylim=(1, 4))
    ax2.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
