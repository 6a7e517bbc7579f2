"""Histograms of durations in log-spaced bins 2% apart: merged by adding counts, read as
quantiles within 1% of the exact ones. Pure numpy, for the rollups and the charts alike.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

GROWTH = 1.02  # a bin's upper bound over its lower one
SMALLEST = 1e-6  # seconds; a value at or below it (or negative: clock skew) counts as 0
ZERO_BIN = -(2**20)
_LOG_GROWTH = math.log(GROWTH)


def bin_of(value: float) -> int:
    """The histogram bin of a value in seconds: (GROWTH^(b-1), GROWTH^b]."""
    if value <= SMALLEST:
        return ZERO_BIN
    return math.ceil(math.log(value) / _LOG_GROWTH)


def bins_of(values: np.ndarray) -> np.ndarray:
    """bin_of over an array (the raw values at a window's ragged edges)."""
    values = np.asarray(values, dtype=float)
    found = np.full(values.shape, ZERO_BIN, dtype=np.int64)
    positive = values > SMALLEST
    found[positive] = np.ceil(np.log(values[positive]) / _LOG_GROWTH)
    return found


def _bin_values(bins: np.ndarray) -> np.ndarray:
    """The value each bin stands for: the one within (GROWTH-1)/(GROWTH+1) of all it holds."""
    values = 2 * np.power(GROWTH, bins.astype(float)) / (GROWTH + 1)
    return np.where(bins == ZERO_BIN, 0.0, values)


class Sketch:
    """Values as histogram bins and counts; quantiles as numpy's (linear interpolation
    between the closest ranks) over the bins' values."""

    __slots__ = ("bins", "counts", "total")

    def __init__(self, bins: np.ndarray, counts: np.ndarray, total: int | None = None):
        self.bins, self.counts = bins, counts
        self.total = int(counts.sum()) if total is None else total

    @classmethod
    def from_values(cls, values: np.ndarray) -> Sketch:
        bins, counts = np.unique(bins_of(values), return_counts=True)
        return cls(bins, counts, len(values))

    @classmethod
    def from_blob(cls, blob: bytes, total: int | None = None) -> Sketch:
        """A stored histogram; `total`, its row's task count, saves summing it."""
        pairs = np.frombuffer(blob, dtype="<i4")
        half = len(pairs) // 2
        return cls(pairs[:half], pairs[half:], total)

    @classmethod
    def merged(cls, sketches: Iterable[Sketch]) -> Sketch:
        sketches = list(sketches)
        if len(sketches) == 1:
            return sketches[0]
        bins = np.concatenate([sketch.bins for sketch in sketches])
        counts = np.concatenate([sketch.counts for sketch in sketches])
        unique, where = np.unique(bins, return_inverse=True)
        return cls(unique, np.bincount(where, weights=counts).astype(np.int64))

    def __len__(self) -> int:
        return self.total

    def quantiles(self, wanted: Iterable[float]) -> np.ndarray:
        values, ends = _bin_values(self.bins), np.cumsum(self.counts)
        ranks = np.asarray(list(wanted)) * (ends[-1] - 1)
        below, above = np.floor(ranks), np.ceil(ranks)
        low = values[np.searchsorted(ends, below, side="right")]
        high = values[np.searchsorted(ends, above, side="right")]
        return low + (ranks - below) * (high - low)


def pooled_quantiles(pools: list[list[Sketch]], wanted: list[float]) -> np.ndarray:
    """The quantiles of each pool of histograms (pools × wanted), as each merged pool's
    Sketch.quantiles gives them, in one pass over one dense table: a week's chart pools
    tens of thousands of histograms."""
    every = [sketch for pool in pools for sketch in pool]
    bins = np.concatenate([sketch.bins for sketch in every])
    counts = np.concatenate([sketch.counts for sketch in every])
    pool_of_sketch = np.repeat(np.arange(len(pools)), [len(pool) for pool in pools])
    owner = np.repeat(pool_of_sketch, [len(sketch.bins) for sketch in every])
    ordinary = bins != ZERO_BIN
    lowest = int(bins[ordinary].min()) if ordinary.any() else 0
    place = np.where(ordinary, bins - lowest + 1, 0)  # column 0 holds the zero bin
    width = int(place.max()) + 1
    table = np.bincount(owner * width + place, weights=counts,
                        minlength=len(pools) * width).reshape(len(pools), width)
    ends = np.cumsum(table, axis=1)
    columns = np.arange(width)
    values = _bin_values(np.where(columns == 0, ZERO_BIN, columns + lowest - 1))
    found = np.empty((len(pools), len(wanted)))
    for index, quantile in enumerate(wanted):
        ranks = quantile * (ends[:, -1] - 1)
        below, above = np.floor(ranks), np.ceil(ranks)
        low = values[(ends <= below[:, None]).sum(axis=1)]
        high = values[(ends <= above[:, None]).sum(axis=1)]
        found[:, index] = low + (ranks - below) * (high - low)
    return found
