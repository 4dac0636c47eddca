"""Vectorised text formatting: numpy arrays in, Arrow string arrays out.

At scale 1000 the simulator writes a few hundred million timestamps; formatting them one by one in Python
(or even with numpy's `datetime_as_string`) would dominate the run. Fixed-width values (ids, dates,
timestamps) are therefore assembled as byte matrices from small lookup tables and handed to Arrow without a
copy. NULL is the empty string, which is what the CSV needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrow
from .world import DAY_SECONDS

_TS_SUFFIX = np.frombuffer(b"+00:00", dtype=np.uint8)


def _from_matrix(matrix: np.ndarray, valid: np.ndarray | None, n: int) -> pa.StringArray:
    """Wrap rows of a uint8 matrix (only the valid rows) as a string array; invalid rows become ''."""
    width = matrix.shape[1]
    lengths = np.full(n, width, dtype=np.int64) if valid is None else np.where(valid, width, 0)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("string column too large for one Arrow array; use smaller chunks")
    data = np.ascontiguousarray(matrix)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64, copy=True)
    for k in range(width - 1, -1, -1):
        out[:, k] = v % 10 + 48
        v //= 10
    return out


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """`prefix` + zero-padded number, e.g. C00000042. Widens (never truncates) if a number needs it."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers):
        width = max(width, len(str(int(numbers.max()))))
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    matrix = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) :] = _digits(numbers, width)
    return _from_matrix(matrix, None, len(numbers))


@cache
def _time_of_day_table() -> np.ndarray:
    s = np.arange(DAY_SECONDS)
    hh, rem = np.divmod(s, 3600)
    mm, ss = np.divmod(rem, 60)
    table = np.full((DAY_SECONDS, 8), ord(":"), dtype=np.uint8)
    table[:, 0:2] = _digits(hh, 2)
    table[:, 3:5] = _digits(mm, 2)
    table[:, 6:8] = _digits(ss, 2)
    return table


def _date_table(first_day: int, last_day: int) -> np.ndarray:
    days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype("S10")
    return np.frombuffer(text.tobytes(), dtype=np.uint8).reshape(len(days), 10)


def _date_matrix(days: np.ndarray) -> np.ndarray:
    if len(days) == 0:
        return np.empty((0, 10), dtype=np.uint8)
    low, high = int(days.min()), int(days.max())
    return _date_table(low, high)[days - low]


def timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Epoch seconds as `YYYY-MM-DDTHH:MM:SS+00:00`; rows where `valid` is False become NULL."""
    seconds = np.asarray(seconds, dtype=np.int64)
    n = len(seconds)
    kept = seconds if valid is None else seconds[valid]
    days, sod = np.divmod(kept, DAY_SECONDS)
    matrix = np.empty((len(kept), 25), dtype=np.uint8)
    matrix[:, 0:10] = _date_matrix(days)
    matrix[:, 10] = ord("T")
    matrix[:, 11:19] = _time_of_day_table()[sod]
    matrix[:, 19:25] = _TS_SUFFIX
    return _from_matrix(matrix, valid, n)


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Epoch days as `YYYY-MM-DD`; rows where `valid` is False become NULL."""
    days = np.asarray(days, dtype=np.int64)
    kept = days if valid is None else days[valid]
    return _from_matrix(_date_matrix(kept), valid, len(days))


def money(hundredths: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Integer hundredths as a fixed two-decimal number (`12.30`, `-5.00`); invalid rows are NULL."""
    h = np.asarray(hundredths, dtype=np.int64)
    whole = arrow.ints(np.abs(h) // 100).cast(pa.string())
    frac = _from_matrix(_digits(np.abs(h) % 100, 2), None, len(h))
    text = pc.binary_join_element_wise(whole, frac, arrow.text("."))
    text = pc.if_else(arrow.bools(h < 0), pc.binary_join_element_wise(arrow.text("-"), text, arrow.text("")), text)
    if valid is not None:
        text = pc.if_else(arrow.bools(valid), text, arrow.text(""))
    return text


def pick(vocabulary: Sequence[str], codes: np.ndarray) -> pa.StringArray:
    """Categorical codes to their labels; a code of -1 is NULL."""
    labels = arrow.strings(["", *vocabulary])
    return labels.take(arrow.ints(np.asarray(codes, dtype=np.int64) + 1))


def join(*parts: pa.Array | str) -> pa.StringArray:
    """Concatenate string arrays/scalars element-wise (no separator)."""
    args = [arrow.text(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, arrow.text(""))
