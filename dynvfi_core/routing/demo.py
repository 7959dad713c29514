"""The route-eval step of ``make demo``: several held-out triplet sets, one table and plot each."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from dynvfi_core.routing.defaults import FAST_DEFAULT, HEAVY_DEFAULT
from dynvfi_core.routing.evaluate import route_eval
from dynvfi_core.routing.report import print_route_table
from dynvfi_core.routing.scorers import MotionScorer, Scorer, scorer_name
from dynvfi_core.triplets import TripletRef, discover


def demo_route_eval(
    sets: dict[str, list[TripletRef]],
    scorer: Scorer,
    out_dir: Path,
    fast_spec: str = FAST_DEFAULT,
    heavy_spec: str = HEAVY_DEFAULT,
    heavy_share: float = 1 / 3,
    seed: int = 0,
    ucf101: Path | None = None,
    console: Console | None = None,
) -> dict[str, dict]:
    """Route-evaluate each named triplet set into ``out_dir/<name>/`` and print its table.

    ``ucf101``: a UCF101-DVF folder (e.g. ``../shared/data/triplets/ucf101_dvf``) added as the
    set ``ucf101`` when it exists, so the demo runs with or without the sample data. The motion
    fallback is always compared (``routed_by``) when the main scorer is a DPA, so the table shows
    what the trained model adds over motion alone. Returns ``{set name: result dict}``.
    """
    console = console or Console()
    sets = {k: v for k, v in sets.items() if v}
    if ucf101 is not None and Path(ucf101).is_dir():
        sets["ucf101"] = discover(ucf101)
    compare = None if isinstance(scorer, MotionScorer) else {"motion": MotionScorer()}
    results = {}
    for name, triplets in sets.items():
        console.rule(f"route-eval: {name} ({len(triplets)} triplets, scorer {scorer_name(scorer)})")
        res = route_eval(triplets, scorer, fast_spec, heavy_spec, heavy_share=heavy_share,
                         out_dir=Path(out_dir) / name, seed=seed, compare=compare)
        print_route_table(res, console)
        console.print(f"table: {res['files']['markdown']}  plot: {res['files']['plot']}")
        results[name] = res
    return results
