"""Gzipped CSV files with reproducible bytes and a running sha256.

Rows are rendered to CSV text by Arrow kernels (minimal RFC 4180 quoting: a field is quoted only if it holds a
comma, quote or line break; quotes are doubled), lines end in CRLF as RFC 4180 says, and an empty field is
NULL. The gzip header carries no file name and mtime 0, so the same rows always give the same bytes; the
sha256 is computed on the compressed bytes as they are written, never by re-reading the file.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrow

EOL = "\r\n"
GZIP_LEVEL = 1
"""Fastest deflate: at scale 1000 compression is a large share of the run, and level 1 is still deterministic."""
_NEEDS_QUOTES = '[",\r\n]'


def _quoted(column: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(column, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return column
    quote = arrow.text('"')
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(column, '"', '""'), quote, arrow.text(""))
    return pc.if_else(needs, quoted, column)


def _text_bytes(lines: pa.Array) -> bytes:
    """The concatenated values of a string array, straight from its data buffer."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    if data is None:
        return b""
    return data.slice(int(bounds[0]), int(bounds[-1] - bounds[0])).to_pybytes()


def render(columns: Sequence[pa.Array]) -> bytes:
    """CSV lines (with EOL) for equally long string columns; '' renders as an empty (NULL) field."""
    if not columns or len(columns[0]) == 0:
        return b""
    line = pc.binary_join_element_wise(*(_quoted(c) for c in columns), arrow.text(","))
    return _text_bytes(pc.binary_join_element_wise(line, arrow.text(""), arrow.text(EOL)))


def render_header(names: Sequence[str]) -> bytes:
    return render([arrow.strings([n]) for n in names])


class _HashingFile:
    """A write-only file that hashes what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    sha256: str
    columns: tuple[str, ...]


class CsvGzWriter:
    """One `<table>.csv.gz`: header (unless `columns` is None, for an empty payload), then rows."""

    def __init__(self, path: Path, columns: Sequence[str] | None, level: int = GZIP_LEVEL) -> None:
        self.path = path
        self.columns = tuple(columns or ())
        self.rows = 0
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close(); the writer outlives any with-block
        self._hashing = _HashingFile(self._raw)
        self._gzip = gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=self._hashing, mtime=0)
        if columns is not None:
            self._gzip.write(render_header(self.columns))

    def write_rows(self, columns: Sequence[pa.Array]) -> None:
        self._gzip.write(render(columns))
        self.rows += len(columns[0]) if columns else 0

    def write_raw(self, data: bytes, rows: int) -> None:
        """Pre-rendered lines, for defects that must break the CSV grammar."""
        self._gzip.write(data)
        self.rows += rows

    def close(self) -> WrittenFile:
        self._gzip.close()
        self._raw.close()
        return WrittenFile(self.path, self.rows, self._hashing.digest.hexdigest(), self.columns)
