"""Named, independent random streams.

Every random draw comes from a stream keyed by (seed, purpose, chunk, block). Nothing is drawn from a stream
whose length depends on the requested end date, so extending a run never shifts earlier draws.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    CUSTOMERS = 1
    ACTIVITY = 2


def stream(seed: int, purpose: Stream, chunk: int, block: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, int(purpose), chunk, block])))


def choice_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix (rows need not be normalised)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` categorical draws from one weight vector."""
    cumulative = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), len(weights) - 1)
