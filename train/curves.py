"""The learning-curve PNG of a training run, redrawn after every epoch from its CSV logs.

Why a picture: whether a run over- or under-fits (training loss still falling while validation
SRCC stalls, or both flat) is obvious in a plot and invisible in a column of numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_learning_curve(run_dir: str | Path) -> Path | None:
    """``run_dir/learning_curve.png``: training loss per step, validation metrics per epoch.

    Returns the path, or None while the logs are still empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run_dir)
    train_log, val_log = run / "train_log.csv", run / "val_log.csv"
    if not train_log.is_file() or not val_log.is_file():
        return None
    tr, va = pd.read_csv(train_log), pd.read_csv(val_log)
    if tr.empty or va.empty:
        return None
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    ax0.plot(tr["step"], tr["loss"], lw=1, label="total")
    ax0.plot(tr["step"], tr["l1"], lw=1, label="L1 (score vs target)")
    ax0.set_xlabel("step")
    ax0.set_ylabel("training loss")
    ax0.grid(alpha=0.3)
    ax0.legend(fontsize=8)
    for col in ("acc@0.125", "acc@0.25", "srcc", "plcc"):
        ax1.plot(va["step"], va[col], "o-", ms=3, label=col)
    ax1.set_xlabel("step (end of epoch)")
    ax1.set_ylabel("validation")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(run.name)
    fig.tight_layout()
    out = run / "learning_curve.png"
    fig.savefig(out)
    plt.close(fig)
    return out
