"""`target: fast-psnr`: the quartile label plus the position inside the quartile, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dynvfi_core.errors import InputError
from train.data import apply_target, fast_psnr_target


def test_quartile_middles_land_on_the_labels() -> None:
    ref = np.arange(1.0, 9.0)  # 8 training PSNRs: the quartiles are {1,2}, {3,4}, {5,6}, {7,8}
    # mid-rank CDF at 2.0 is (1 + 2) / 16 = 0.1875 -> (0.75 - 0.5) / 3; between 2 and 3 it is 0.25
    got = fast_psnr_target(np.array([2.0, 2.5, 4.5, 6.5, 8.0, 0.0, 99.0]), ref)
    np.testing.assert_allclose(got, [0.25 / 3, 0.5 / 3, 1.5 / 3, 2.5 / 3, 1.0, 0.0, 1.0])  # 8.0: (4 * 15/16 - 0.5) / 3 > 1, clipped


def test_apply_target_uses_the_training_split_only_and_keeps_the_label() -> None:
    df = pd.DataFrame({"split": ["train"] * 4 + ["test"], "rife_psnr": [20.0, 30.0, 40.0, 50.0, 1000.0],
                       "label": [1, 2, 3, 4, 4]})
    out = apply_target(df, "fast-psnr")
    # train CDF (mid-rank, 4 values): 1/8, 3/8, 5/8, 7/8 -> exactly the labels 1..4; the test
    # row's huge PSNR does not move them (it is not in the reference)
    np.testing.assert_allclose(out["label"], [1.0, 2.0, 3.0, 4.0, 4.0])
    assert out["difficulty_label"].tolist() == [1, 2, 3, 4, 4]


def test_needs_the_psnr_column() -> None:
    with pytest.raises(InputError, match="rife_psnr"):
        apply_target(pd.DataFrame({"split": ["train"], "label": [3]}), "fast-psnr")
