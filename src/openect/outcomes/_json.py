"""JSON-safe values and rows of analysis tables (no NaN, no numpy scalars)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def json_value(value: Any) -> Any:
    """``value`` as a plain str, int, float, bool or None (NaN, NA and NaT as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts of str, int, float, bool or None (never NaN)."""
    return [
        {str(k): json_value(v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]
