"""Route-eval output for people: a Markdown table and the quality-cost curve.

The curve (PSNR against seconds per pair) shows what a table cannot: where the chosen operating
point sits between the fast and heavy models, how far it is from the oracle curve, and how far
above the random-routing line (random routing moves linearly from fast to heavy).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

METHODS = ("fast", "heavy", "routed", "random", "oracle")


def percent(x: float | None) -> str:
    """A share as a whole percentage; "n/a" where it is undefined (e.g. the oracle gains nothing)."""
    return "n/a" if x is None else f"{100 * x:.0f}%"


def rule_text(result: dict) -> str:
    """How the threshold was chosen, in words."""
    rule = result["rule"]
    th = f"threshold {result['threshold']:.4f}"
    where = (f" on {result['calibrated_on_pairs']} validation pairs" if "calibrated_on_pairs" in result
             else "")
    if rule == "heavy_share":
        pairs = "the validation pairs" if where else "all pairs"
        return f"heavy share {result['heavy_share']:.3f} of {pairs} by score quantile -> {th}"
    if rule == "budget":
        return (f"budget {result['budget']:.3f} x heavy-only time -> {th} "
                f"(calibrated time fraction {result['calibrated_time_fraction']:.3f}{where})")
    return f"fixed {th}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _skipped_lines(skipped: list[dict]) -> list[str]:
    """One line per input left out of the evaluation (the first 10), so missing pairs are explained."""
    if not skipped:
        return []
    more = [f"  - and {len(skipped) - 10} more (results.json lists all)"] if len(skipped) > 10 else []
    return [f"- {len(skipped)} incomplete triplet(s) skipped:",
            *(f"  - `{s['where']}`: {s['reason']}" for s in skipped[:10]), *more]


def markdown(result: dict) -> str:
    """The whole report as Markdown: setup, one table per subset, and a summary table."""
    cfg = result["config"]
    lines = [
        "# Dynamic VFI route evaluation",
        "",
        f"- fast model: `{cfg['fast']}`; heavy model: `{cfg['heavy']}`; scorer: `{cfg['scorer']}`",
        f"- routing rule: {rule_text(result)}",
        (f"- {cfg['n_pairs']} pairs on {cfg['device']} ({cfg['torch_threads']} torch threads); random routing = "
        f"its exact expectation (spread over {cfg['random_draws']} draws, seed {cfg['seed']}); oracle = the same number of heavy pairs, "
        "those where the heavy model gains most PSNR (uses ground truth)"),
        "- routed time includes scoring; s/pair is model time only (frames already decoded)",
        *_skipped_lines(cfg.get("skipped", [])),
        ("- routed gain / heavy gain is the paper's yardstick (it keeps ~85% of VFIformer's gain on "
         "SNU-FILM Extreme); routed gain / oracle gain is the stricter one of this project"),
        ("- time aim: routed s/pair <= fast s/pair on the easy share + heavy s/pair on the hard share "
         "+ 25% of the fast model's s/pair for scoring"),
        "",
        "## Summary",
        "",
        ("| subset | pairs | heavy fraction | fast PSNR | heavy PSNR | routed PSNR | random PSNR | oracle PSNR "
        "| routed gain / oracle gain | random gain / oracle gain | routed gain / heavy gain | time / heavy-only "
         "| scoring / fast | time aim met |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result["subsets"].items():
        lines.append(
            f"| {name} | {s['n_pairs']} | {s['routed']['heavy_fraction']:.3f} | {s['fast']['psnr']:.3f} | "
            f"{s['heavy']['psnr']:.3f} | {s['routed']['psnr']:.3f} | {s['random']['psnr']:.3f} | "
            f"{s['oracle']['psnr']:.3f} | {percent(s['gain_share_of_oracle'])} | "
            f"{percent(s['random_gain_share_of_oracle'])} | {percent(s['gain_share_of_heavy'])} | "
            f"{percent(s['time_fraction_of_heavy'])} | "
            f"{percent(s['score_time_fraction_of_fast'])} | {_yes(s['within_time_bound'])} |"
        )
    if result.get("compared_thresholds"):
        lines += ["", "## Routers compared at the same overall heavy share", "",
                  "| subset | router | heavy fraction | PSNR | SSIM | s/pair | gain / oracle gain | time / heavy-only "
                  "| time aim met |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, s in result["subsets"].items():
            rows = [(cfg["scorer"], s["routed"] | {"gain_share_of_oracle": s["gain_share_of_oracle"],
                                                   "time_fraction_of_heavy": s["time_fraction_of_heavy"],
                                                   "within_time_bound": s["within_time_bound"]})]
            rows += list(s.get("routed_by", {}).items())
            for router, r in rows:
                lines.append(f"| {name} | {router} | {r['heavy_fraction']:.3f} | {r['psnr']:.3f} | {r['ssim']:.4f} | "
                             f"{r['s_per_pair']:.4f} | {percent(r['gain_share_of_oracle'])} | "
                             f"{percent(r['time_fraction_of_heavy'])} | {_yes(r['within_time_bound'])} |")
    for name, s in result["subsets"].items():
        lines += ["", f"## {name} ({s['n_pairs']} pairs)", "",
                  "| method | PSNR | SSIM | s/pair | heavy fraction |", "|---|---|---|---|---|"]
        rows = [(m, s[m]) for m in METHODS] + [(f"routed by {k}", d) for k, d in s.get("routed_by", {}).items()]
        for m, d in rows:
            frac = d.get("heavy_fraction", 0.0 if m == "fast" else 1.0)
            lines.append(f"| {m} | {d['psnr']:.4f} | {d['ssim']:.4f} | {d['s_per_pair']:.4f} | {frac:.3f} |")
    lines += ranking_lines(result)
    warnings = verdicts(result)
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    if "plot" in result.get("files", {}):
        lines += ["", f"Quality-cost curve: `{result['files']['plot']}`"]
    return "\n".join(lines) + "\n"


#: scorers that cost nothing to train: a learned router must beat them to be worth its training
HEURISTICS = ("motion", "flip", "absdiff")
CORPUS_HINT = ("a DPA trained on a few demo clips does not generalise, and even a corpus-trained one ranks "
               "how hard a pair is for the fast model, not where the heavy model gains (train/README.md, "
               "\"Corpus training\")")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def ranking_lines(result: dict) -> list[str]:
    """Markdown table: how well each scorer orders pairs by the fast model's true quality."""
    rank = result.get("ranking") or {}
    if not rank:
        return []
    perceptual = any("srcc_perceptual" in r for r in rank.values())
    head = "| scorer | SRCC with fast PSNR | PLCC with fast PSNR |"
    sep = "|---|---|---|"
    if perceptual:
        head += " SRCC with -fast perceptual error | PLCC with -fast perceptual error |"
        sep += "---|---|"
    lines = ["", "## Ranking: scores against the fast model's true quality (all pairs; +1 = perfect)", "",
             head, sep]
    for name, r in rank.items():
        row = f"| {name} | {_fmt(r['srcc_psnr'])} | {_fmt(r['plcc_psnr'])} |"
        if perceptual:
            row += f" {_fmt(r.get('srcc_perceptual'))} | {_fmt(r.get('plcc_perceptual'))} |"
        lines.append(row)
    return lines


def verdicts(result: dict) -> list[str]:
    """Plain warnings where the routed scorer loses to random routing or to a free heuristic.

    A new user reading a table of percentages can miss that the trained router is worse than
    flipping a coin or than the motion score; these lines say it in words.
    """
    s = result["subsets"].get("all") or next(iter(result["subsets"].values()))
    name = result["config"]["scorer"]
    own = s["gain_share_of_oracle"]
    if own is None:
        return []
    out = []
    rand = s["random_gain_share_of_oracle"]
    learned = name.startswith("dpa")
    if rand is not None and own < rand:
        out.append(f"routing by {name} keeps {percent(own)} of the oracle's gain, less than random routing "
                   f"({percent(rand)})" + (f": {CORPUS_HINT}" if learned else ""))
    for other, r in s.get("routed_by", {}).items():
        share = r["gain_share_of_oracle"]
        if other in HEURISTICS and share is not None and share > own:
            out.append(f"routing by {name} keeps {percent(own)} of the oracle's gain, the free '{other}' "
                       f"score {percent(share)}" + (f": {CORPUS_HINT}" if learned else ""))
    rank = result.get("ranking") or {}
    own_srcc = rank.get(name, {}).get("srcc_psnr")
    for other in HEURISTICS:
        other_srcc = rank.get(other, {}).get("srcc_psnr")
        if own_srcc is not None and other_srcc is not None and not math.isnan(own_srcc) and other_srcc > own_srcc:
            out.append(f"{name} ranks pairs by the fast model's PSNR worse (SRCC {own_srcc:.3f}) than the free "
                       f"'{other}' score ({other_srcc:.3f})")
    return out


def write_markdown(result: dict, path: Path) -> Path:
    path.write_text(markdown(result))
    return path


def plot_sweep(result: dict, path: Path) -> Path:
    """PSNR vs s/pair per subset: routed sweep, oracle curve, random line, fast/heavy/chosen points."""
    names = list(result["subsets"])
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        s, curve = result["subsets"][name], result["sweep"][name]
        f, h, r = s["fast"], s["heavy"], s["routed"]
        ax.plot([p["s_per_pair"] for p in curve], [p["psnr"] for p in curve], "o-", ms=3, color="tab:blue",
                label=f"routed ({result['config']['scorer']}) sweep")
        for k, (alt, curves) in enumerate(result.get("sweep_by", {}).items()):
            c = curves[name]
            ax.plot([p["s_per_pair"] for p in c], [p["psnr"] for p in c], "^-", ms=3, color=f"C{4 + k}",
                     label=f"routed ({alt}) sweep")
        ax.plot([p["oracle_s_per_pair"] for p in curve], [p["oracle_psnr"] for p in curve], "s--", ms=3,
                color="tab:green", label="oracle at same heavy fraction")
        ax.plot([f["s_per_pair"], h["s_per_pair"]], [f["psnr"], h["psnr"]], ":", color="gray", label="random routing")
        ax.plot(f["s_per_pair"], f["psnr"], "o", ms=9, color="black", label="fast-only")
        ax.plot(h["s_per_pair"], h["psnr"], "D", ms=8, color="tab:red", label="heavy-only")
        ax.plot(r["s_per_pair"], r["psnr"], "*", ms=15, color="tab:orange",
                label=f"chosen threshold (heavy {r['heavy_fraction']:.2f})")
        ax.set_title(f"{name} ({s['n_pairs']} pairs)")
        ax.set_xlabel("seconds per pair")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[len(names) - 1].legend(fontsize=7, loc="lower right")
    cfg = result["config"]
    fig.suptitle(f"fast {cfg['fast']} vs heavy {cfg['heavy']}")
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Lay out, write (creating the folder) and close a report figure; returns ``path``."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_route_table(result: dict, console: Console) -> None:
    """The summary rows of a route-eval result."""
    table = Table(title=f"routed: {result['config']['scorer']}, threshold {result['threshold']:.4f}")
    for col in ("subset", "pairs", "heavy frac", "fast", "heavy", "routed", "random", "oracle",
                "gain/oracle", "time/heavy", "time aim"):
        table.add_column(col, justify="left" if col == "subset" else "right")
    for name, s in result["subsets"].items():
        table.add_row(name, str(s["n_pairs"]), f"{s['routed']['heavy_fraction']:.2f}",
                      *(f"{s[m]['psnr']:.2f}" for m in ("fast", "heavy", "routed", "random", "oracle")),
                      percent(s["gain_share_of_oracle"]), percent(s["time_fraction_of_heavy"]),
                      _yes(s["within_time_bound"]))
    console.print(table)
    if result.get("compared_thresholds"):
        cmp = Table(title="other routers at the same overall heavy share")
        for col in ("subset", "router", "heavy frac", "PSNR", "gain/oracle", "time/heavy", "time aim"):
            cmp.add_column(col, justify="left" if col in ("subset", "router") else "right")
        for name, s in result["subsets"].items():
            for router, r in s["routed_by"].items():
                cmp.add_row(name, router, f"{r['heavy_fraction']:.2f}", f"{r['psnr']:.2f}",
                            percent(r["gain_share_of_oracle"]), percent(r["time_fraction_of_heavy"]),
                            _yes(r["within_time_bound"]))
        console.print(cmp)
    rank = result.get("ranking") or {}
    if rank:
        perceptual = any("srcc_perceptual" in r for r in rank.values())
        rt = Table(title="ranking against the fast model's true quality (+1 = perfect)")
        cols = ["scorer", "SRCC psnr", "PLCC psnr"] + (["SRCC -perceptual", "PLCC -perceptual"] if perceptual else [])
        for col in cols:
            rt.add_column(col, justify="left" if col == "scorer" else "right")
        for name, r in rank.items():
            vals = [r["srcc_psnr"], r["plcc_psnr"]] + ([r.get("srcc_perceptual"), r.get("plcc_perceptual")]
                                                        if perceptual else [])
            rt.add_row(name, *(_fmt(v) for v in vals))
        console.print(rt)
    for line in verdicts(result):
        console.print(f"WARNING: {line}", style="bold yellow")
