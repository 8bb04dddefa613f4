"""How astronomers look at an image: robust limits, then an asinh stretch.

One function shared by the HTML report (matplotlib) and the TUI's thumbnails (half blocks).
"""

from __future__ import annotations

import numpy as np

__all__ = ["stretch"]


def stretch(data: np.ndarray) -> np.ndarray:
    """Scale an image to 0..1: robust limits, then an asinh stretch.

    The low limit is the higher of the 0.5th percentile and the median minus two robust
    sigmas (1.4826 MAD), the high one the 99.5th percentile; NaNs show as the low limit.

    Parameters
    ----------
    data : numpy.ndarray
        The image (any shape).

    Returns
    -------
    numpy.ndarray
        Floats in [0, 1], the shape of `data` (zeros when no value is finite).
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros_like(data, dtype=float)
    low, high = np.percentile(finite, [0.5, 99.5])
    median = float(np.median(finite))
    sigma = 1.4826 * float(np.median(np.abs(finite - median))) or (high - low) or 1.0
    low = max(low, median - 2 * sigma)
    scaled = np.clip((np.nan_to_num(data, nan=low) - low) / max(high - low, 1e-12), 0, 1)
    return np.arcsinh(10 * scaled) / np.arcsinh(10)
