"""Task metrics shared by codecs (their round-trip error) and by reports.

Plain NumPy, no Numba: these run on results, not in hot loops.
"""

from __future__ import annotations

import numpy as np

__all__ = ["angular_error_deg", "normal_metrics"]


def angular_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors ``a`` and ``b`` (last axis 3), via atan2(|a x b|, a . b).

    atan2 keeps full precision at small angles, where arccos of a dot product does not. Rows with a
    NaN give NaN.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def normal_metrics(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Standard surface-normal metrics over the pixels where both are finite (and ``valid``).

    Returns mean / median / RMSE of the angular error in degrees and the percentage of pixels
    within 11.25, 22.5 and 30 degrees (the thresholds of Fouhey et al. 2013 used since).
    """
    err = angular_error_deg(pred, target)
    mask = np.isfinite(err)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    e = err[mask]
    if e.size == 0:
        nan = float("nan")
        return {
            "mean": nan,
            "median": nan,
            "rmse": nan,
            "within_11.25": nan,
            "within_22.5": nan,
            "within_30": nan,
            "count": 0,
        }
    return {
        "mean": float(e.mean()),
        "median": float(np.median(e)),
        "rmse": float(np.sqrt(np.mean(e * e))),
        "within_11.25": float(np.mean(e < 11.25) * 100),
        "within_22.5": float(np.mean(e < 22.5) * 100),
        "within_30": float(np.mean(e < 30.0) * 100),
        "count": int(e.size),
    }
