"""The candidate-row contract every task source returns (world sources and ``sequence_table`` alike)."""
from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["chrom", "start", "end", "strand", "anchor", "tissue", "name", "label", "value", "spans", "var_pos",
           "ref", "alt", "source"]


def candidate_frame(n: int, **cols) -> pd.DataFrame:
    """``n`` candidate rows with every column of ``COLUMNS``; columns not given take their empty default."""
    base = {"tissue": "", "name": "", "label": None, "value": np.nan, "spans": None, "var_pos": -1,
            "ref": "", "alt": "", "source": ""}
    data = {c: cols.get(c, base.get(c)) for c in COLUMNS}
    for c, v in data.items():
        if np.ndim(v) == 0 and v is None:
            data[c] = pd.Series([None] * n, dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(n))
