"""An image drawn in the terminal with half blocks (U+2580) in 24-bit colour.

Each character cell shows two pixels: the upper one as the foreground colour of ``▀``, the
lower one as the background. This works over SSH and inside tmux (with ``Tc``/``RGB``), where
the kitty and sixel protocols often do not.
"""

from __future__ import annotations

import warnings

import numpy as np
from rich.style import Style
from rich.text import Text

from aw_tui.report.stretch import stretch

__all__ = ["UPPER_HALF", "downsample", "half_block_text"]

UPPER_HALF = "\u2580"


def downsample(data: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """Average an image down to fit `columns` x `2*rows` pixels, keeping its aspect ratio.

    Parameters
    ----------
    data : numpy.ndarray
        A 2-D image (row 0 at the bottom, as FITS stores it).
    columns, rows : int
        The character cells available (each holds 1 x 2 pixels).

    Returns
    -------
    numpy.ndarray
        The smaller image (never larger than `data`), NaNs ignored in the averages.
    """
    height, width = data.shape
    factor = max(1, int(np.ceil(max(width / max(columns, 1), height / max(2 * rows, 1)))))
    new_h, new_w = max(1, height // factor), max(1, width // factor)
    cropped = np.asarray(data[: new_h * factor, : new_w * factor], dtype=float)
    blocks = cropped.reshape(new_h, factor, new_w, factor)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block stays NaN
        return np.nanmean(blocks, axis=(1, 3))


def half_block_text(data: np.ndarray, columns: int, rows: int) -> Text:
    """An image as Rich text of half blocks: scaled (robust limits, asinh), grey levels.

    Parameters
    ----------
    data : numpy.ndarray
        A 2-D image; FITS row 0 (the bottom) is drawn at the bottom.
    columns, rows : int
        Most character cells to use.

    Returns
    -------
    Text
        At most `rows` lines of at most `columns` cells.
    """
    small = stretch(downsample(np.asarray(data, dtype=float), columns, rows))
    grey = np.clip(np.round(small * 255), 0, 255).astype(int)[::-1]  # top row first
    if grey.shape[0] % 2:
        grey = np.vstack([grey, grey[-1:]])
    text = Text(no_wrap=True, end="")
    for top in range(0, grey.shape[0], 2):
        if top:
            text.append("\n")
        for upper, lower in zip(grey[top], grey[top + 1], strict=True):
            text.append(UPPER_HALF, Style(color=f"#{upper:02x}{upper:02x}{upper:02x}",
                                          bgcolor=f"#{lower:02x}{lower:02x}{lower:02x}"))
    return text
