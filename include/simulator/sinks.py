"""The writers behind each file: a clean sink, or one that damages its file as a DefectSpec asks.

`defects.py` says *what* each defect does; this module does it while streaming, holding back at most the
first rows of the one damaged file so memory stays bounded at any scale.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrow
from . import formatting as fmt
from .defects import (
    COLUMN_TARGET,
    DATE_COLUMNS,
    EPOCH_TS,
    EXTRA_COLUMN,
    MALFORMED_FIELDS,
    MANIFEST_DEFECTS,
    RENAMED,
    ROW_DEFECTS,
    STALE_DAYS,
    TARGET_ROW,
    TIMESTAMP_COLUMNS,
    VALUE_EDITS,
    DefectNotApplicable,
    DefectReport,
    DefectSpec,
)
from .schema import BY_NAME
from .world import DAY_SECONDS
from .writer import CsvGzWriter, WrittenFile


class Sink(Protocol):
    def write(self, piece: dict[str, pa.Array]) -> None: ...

    def close(self) -> WrittenFile: ...


class CleanSink:
    """Writes pieces as they come, columns in contract order."""

    def __init__(self, path: Path, table: str) -> None:
        self.columns = BY_NAME[table].columns
        self.writer = CsvGzWriter(path, self.columns)

    def write(self, piece: dict[str, pa.Array]) -> None:
        if len(next(iter(piece.values()))):
            self.writer.write_rows([piece[c] for c in self.columns])

    def close(self) -> WrittenFile:
        return self.writer.close()


def _concat(pieces: list[dict[str, pa.Array]], columns: Sequence[str]) -> dict[str, pa.Array]:
    return {c: pa.concat_arrays([p[c] for p in pieces]) if pieces else arrow.strings([]) for c in columns}


def _set(column: pa.Array, row: int, value: str) -> pa.Array:
    mask = arrow.bools(np.arange(len(column)) == row)
    return pc.if_else(mask, arrow.text(value), column)


class RowDefectSink:
    """Holds rows back until the target row is known, damages it, then streams the rest untouched."""

    def __init__(self, path: Path, spec: DefectSpec) -> None:
        self.spec = spec
        self.table = BY_NAME[spec.table]
        self.writer = CsvGzWriter(path, self.table.columns)
        self.pending: list[dict[str, pa.Array]] = []
        self.pending_rows = 0
        self.report: DefectReport | None = None

    def write(self, piece: dict[str, pa.Array]) -> None:
        n = len(next(iter(piece.values())))
        if self.report is not None:
            if n:
                self.writer.write_rows([piece[c] for c in self.columns])
            return
        self.pending.append(piece)
        self.pending_rows += n
        if self.pending_rows > TARGET_ROW:
            self._apply(TARGET_ROW)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.table.columns

    def close(self) -> WrittenFile:
        if self.report is None:
            if self.pending_rows == 0:
                raise DefectNotApplicable(
                    f"{self.spec.name}: {self.spec.table} in folder {self.spec.folder} has no rows to damage; "
                    "pick another table or date, or a larger scale"
                )
            self._apply(self.pending_rows - 1)
        return self.writer.close()

    def _apply(self, row: int) -> None:
        rows = _concat(self.pending, self.columns)
        self.pending = []
        key = rows[self.table.primary_key][row].as_py()
        line = self.writer.rows + row + 2
        name = self.spec.name
        column: str | None = None
        if name == "malformed_row":
            before = [rows[c].slice(0, row) for c in self.columns]
            after = [rows[c].slice(row + 1) for c in self.columns]
            self.writer.write_rows(before)
            fields = [rows[c][row].as_py() for c in self.columns[:MALFORMED_FIELDS]]
            out = io.StringIO()
            csv.writer(out, lineterminator="\r\n").writerow(fields)
            self.writer.write_raw(out.getvalue().encode(), 1)
            self.writer.write_rows(after)
            detail = f"line {line} has {MALFORMED_FIELDS} fields instead of {len(self.columns)}"
        elif name == "duplicate_pk":
            n = len(rows[self.table.primary_key])
            order = arrow.ints(np.concatenate([np.arange(row + 1), [row], np.arange(row + 1, n)]))
            self.writer.write_rows([rows[c].take(order) for c in self.columns])
            line += 1
            column = self.table.primary_key
            detail = f"line {line} repeats line {line - 1} ({column} {key})"
        else:
            column, value = VALUE_EDITS[name][self.table.name]
            rows[column] = _set(rows[column], row, value)
            self.writer.write_rows([rows[c] for c in self.columns])
            detail = f"{column} set to {value!r} on line {line}"
        self.report = DefectReport(
            name, self.table.name, str(self.spec.folder), self.writer.path, line, column, key, detail
        )


class ColumnDefectSink:
    """Drops, renames or adds a column in the header and every row."""

    def __init__(self, path: Path, spec: DefectSpec) -> None:
        table = BY_NAME[spec.table]
        self.columns = table.columns
        target = COLUMN_TARGET[table.name]
        header = list(self.columns)
        if spec.name == "missing_column":
            header.remove(target)
            self.keep = tuple(header)
            self.extra = False
        elif spec.name == "renamed_column":
            header[header.index(target)] = RENAMED[target]
            self.keep = self.columns
            self.extra = False
        else:
            target = EXTRA_COLUMN[0]
            header.append(target)
            self.keep = self.columns
            self.extra = True
        self.writer = CsvGzWriter(path, header)
        detail = {
            "missing_column": f"column {target!r} removed from header and rows",
            "renamed_column": f"header {target!r} renamed to {RENAMED.get(target)!r}",
            "extra_column": f"undocumented column {target!r} appended",
        }[spec.name]
        self.report = DefectReport(spec.name, table.name, str(spec.folder), path, 1, target, None, detail)

    def write(self, piece: dict[str, pa.Array]) -> None:
        n = len(next(iter(piece.values())))
        if not n:
            return
        columns = [piece[c] for c in self.keep]
        if self.extra:
            columns.append(arrow.strings([EXTRA_COLUMN[1]]).take(arrow.ints(np.zeros(n))))
        self.writer.write_rows(columns)

    def close(self) -> WrittenFile:
        return self.writer.close()


class EmptyFileSink:
    """A valid gzip stream of zero bytes: what a crashed export leaves behind."""

    def __init__(self, path: Path, spec: DefectSpec) -> None:
        self.writer = CsvGzWriter(path, None)
        detail = "gzip payload is empty: no header, no rows"
        self.report = DefectReport(spec.name, spec.table, str(spec.folder), path, None, None, None, detail)

    def write(self, piece: dict[str, pa.Array]) -> None:
        return None

    def close(self) -> WrittenFile:
        return self.writer.close()


def _shift(column: pa.Array, name: str) -> pa.Array:
    valid = pc.not_equal(column, arrow.text(""))
    filled = pc.if_else(valid, column, arrow.text(EPOCH_TS if name in TIMESTAMP_COLUMNS else EPOCH_TS[:10]))
    mask = np.asarray(valid)
    if name in TIMESTAMP_COLUMNS:
        parsed = pc.strptime(filled, format="%Y-%m-%dT%H:%M:%S+00:00", unit="s")
        secs = np.asarray(parsed.cast(pa.int64())) - STALE_DAYS * DAY_SECONDS
        return fmt.timestamps(secs, mask)
    parsed = pc.strptime(filled, format="%Y-%m-%d", unit="s")
    days = np.asarray(parsed.cast(pa.int64())) // DAY_SECONDS - STALE_DAYS
    return fmt.dates(days, mask)


class StaleSink(CleanSink):
    """Every row's dates and timestamps moved four weeks back: a re-sent old extract."""

    def __init__(self, path: Path, spec: DefectSpec) -> None:
        super().__init__(path, spec.table)
        self.shifted = [c for c in self.columns if c in TIMESTAMP_COLUMNS | DATE_COLUMNS]
        detail = f"all rows: {', '.join(self.shifted)} moved {STALE_DAYS} days back"
        self.report = DefectReport(spec.name, spec.table, str(spec.folder), path, None, "updated_at", None, detail)

    def write(self, piece: dict[str, pa.Array]) -> None:
        super().write({c: _shift(col, c) if c in self.shifted else col for c, col in piece.items()})


def open_sink(path: Path, table: str, spec: DefectSpec | None) -> Sink:
    """The writer for one file: clean, or damaged as `spec` says (manifest defects write a clean file)."""
    if spec is None or spec.name in MANIFEST_DEFECTS:
        return CleanSink(path, table)
    if spec.name in ROW_DEFECTS:
        return RowDefectSink(path, spec)
    if spec.name in ("missing_column", "renamed_column", "extra_column"):
        return ColumnDefectSink(path, spec)
    if spec.name == "empty_file":
        return EmptyFileSink(path, spec)
    if spec.name == "stale_data":
        return StaleSink(path, spec)
    raise AssertionError(spec.name)


def tamper_manifest_entry(entry: dict[str, object], spec: DefectSpec) -> tuple[dict[str, object], str]:
    """Apply a manifest defect to one file's manifest entry; returns the new entry and a description."""
    if spec.name == "manifest_sha_mismatch":
        wrong = hashlib.sha256(f"not {entry['sha256']}".encode()).hexdigest()
        return {**entry, "sha256": wrong}, f"manifest sha256 {wrong[:12]}... does not match the file"
    if spec.name == "manifest_count_mismatch":
        rows = int(entry["rows"]) + 1  # type: ignore[call-overload]
        return {**entry, "rows": rows}, f"manifest says {rows} rows, the file has {rows - 1}"
    raise AssertionError(spec.name)
