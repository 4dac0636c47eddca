"""Building Arrow arrays straight from buffers.

`pyarrow.array()` imports pandas on first use (to recognise pandas inputs), which costs the simulator
noticeable time and memory per process for nothing; these constructors wrap numpy memory without that detour.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pyarrow as pa


def ints(values: np.ndarray) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def bools(values: np.ndarray) -> pa.Array:
    data = np.asarray(values, dtype=bool)
    bits = np.packbits(data, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(data), [None, pa.py_buffer(bits)])


def strings(values: Sequence[str]) -> pa.StringArray:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


@cache
def text(value: str) -> pa.StringScalar:
    """A string scalar for compute kernels (a bare `str` argument would go through `pa.scalar`, i.e. pandas)."""
    return strings([value])[0]
