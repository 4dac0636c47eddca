"""Deliberate faults, so the extract and the quality gate can be tested against known damage.

Each defect hits exactly one file (one folder x one table), chosen as `NAME[:TABLE[:DATE]]`: TABLE defaults to
support_tickets, DATE to the first daily folder (`start`); `history` names the history folder. Everything else
in the run is byte-identical to a clean run. Except for the three manifest defects, the manifest describes the
damaged file as written (its sha256, its row count, its header), so the damage must be found by reading the
content, not by comparing with the manifest.

"The target row" below is the third data row of the file (physical line 4; the header is line 1), or the last
row when the file has fewer; the report gives the exact line. Fields never contain line breaks, so physical
lines and records coincide.

| defect | effect |
|---|---|
| malformed_row | the target row's line keeps only its first 3 fields (wrong field count) |
| duplicate_pk | the target row is written twice in a row; the report names the second copy's line |
| null_required | a required field of the target row is emptied (NULL): see NULL_REQUIRED |
| orphan_fk | the target row's customer_id becomes C99999999, which no customer has (tables with that FK) |
| out_of_range | satisfaction_score 7 / monthly_revenue -25.00 / monthly_fee -1.00 on the target row |
| unknown_category | channel 'fax' / customer_segment 'Gold' / device 'blackberry' / severity 'catastrophic' |
| bad_type | a date/timestamp field of the target row becomes 'not-a-date': see BAD_TYPE |
| missing_column | one column (COLUMN_TARGET) is dropped from the header and every row (header line 1) |
| renamed_column | that column's header is renamed (RENAMED); the data is unchanged |
| extra_column | an undocumented last column `source_system` = 'crm-legacy' is appended |
| empty_file | the .csv.gz holds a gzip stream of zero bytes: no header, no rows |
| missing_manifest | the folder is written without `_manifest.json` (TABLE is ignored) |
| manifest_sha_mismatch | the manifest's sha256 for the file is the hash of other bytes |
| manifest_count_mismatch | the manifest's row count for the file is one more than the rows written |
| stale_data | every timestamp/date field of every row is moved 28 days back (freshness checks fail) |
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrow
from . import formatting as fmt
from .schema import BY_NAME, TABLE_NAMES
from .world import DAY_SECONDS
from .writer import CsvGzWriter, WrittenFile

DEFECTS: tuple[str, ...] = (
    "malformed_row",
    "duplicate_pk",
    "null_required",
    "orphan_fk",
    "out_of_range",
    "unknown_category",
    "bad_type",
    "missing_column",
    "renamed_column",
    "extra_column",
    "empty_file",
    "missing_manifest",
    "manifest_sha_mismatch",
    "manifest_count_mismatch",
    "stale_data",
)
MANIFEST_DEFECTS = frozenset({"missing_manifest", "manifest_sha_mismatch", "manifest_count_mismatch"})
ROW_DEFECTS = frozenset(
    {"malformed_row", "duplicate_pk", "null_required", "orphan_fk", "out_of_range", "unknown_category", "bad_type"}
)
HISTORY = "history"
TARGET_ROW = 2
"""0-based index of the damaged data row (line 4), when the file has that many rows."""
MALFORMED_FIELDS = 3
ORPHAN_CUSTOMER = "C99999999"
STALE_DAYS = 28
EPOCH_TS = "1970-01-01T00:00:00+00:00"

NULL_REQUIRED: dict[str, str] = {
    "support_tickets": "customer_id",
    "customers": "customer_segment",
    "products": "product_type",
    "customer_products": "customer_id",
    "ticket_categories": "category_name",
    "root_causes": "severity",
    "customer_logins": "customer_id",
}
BAD_TYPE: dict[str, str] = {
    "support_tickets": "created_at",
    "customers": "signup_date",
    "products": "launched_at",
    "customer_products": "opened_at",
    "ticket_categories": "updated_at",
    "root_causes": "updated_at",
    "customer_logins": "login_at",
}
VALUE_EDITS: dict[str, dict[str, tuple[str, str]]] = {
    "null_required": {t: (c, "") for t, c in NULL_REQUIRED.items()},
    "orphan_fk": {
        t: ("customer_id", ORPHAN_CUSTOMER) for t in ("support_tickets", "customer_products", "customer_logins")
    },
    "out_of_range": {
        "support_tickets": ("satisfaction_score", "7"),
        "customer_products": ("monthly_revenue", "-25.00"),
        "products": ("monthly_fee", "-1.00"),
    },
    "unknown_category": {
        "support_tickets": ("channel", "fax"),
        "customers": ("customer_segment", "Gold"),
        "customer_logins": ("device", "blackberry"),
        "root_causes": ("severity", "catastrophic"),
    },
    "bad_type": {t: (c, "not-a-date") for t, c in BAD_TYPE.items()},
}
COLUMN_TARGET: dict[str, str] = {
    "support_tickets": "priority",
    "customers": "email",
    "products": "product_type",
    "customer_products": "product_id",
    "ticket_categories": "category_name",
    "root_causes": "severity",
    "customer_logins": "device",
}
RENAMED: dict[str, str] = {
    "priority": "ticket_priority",
    "email": "email_address",
    "product_type": "type",
    "product_id": "product",
    "category_name": "name",
    "severity": "severity_level",
    "device": "device_type",
}
EXTRA_COLUMN = ("source_system", "crm-legacy")
TIMESTAMP_COLUMNS = frozenset({"updated_at", "created_at", "first_response_at", "resolved_at", "login_at"})
DATE_COLUMNS = frozenset({"signup_date", "launched_at", "opened_at", "closed_at"})


class DefectNotApplicable(ValueError):
    """The requested defect cannot be placed in the requested file (e.g. a row defect in a header-only file)."""


@dataclass(frozen=True)
class DefectSpec:
    name: str
    table: str = "support_tickets"
    folder: str | date | None = None
    """'history', a date (or its ISO text), or None for the first daily folder."""

    @classmethod
    def parse(cls, text: str) -> DefectSpec:
        """`NAME[:TABLE[:DATE]]`, e.g. `orphan_fk`, `bad_type:customers`, `empty_file:products:history`."""
        parts = text.split(":")
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise ValueError(f"defect spec {text!r} is not NAME[:TABLE[:DATE]]")
        name = parts[0]
        table = parts[1] if len(parts) > 1 and parts[1] else "support_tickets"
        folder = parts[2] if len(parts) > 2 and parts[2] else None
        if folder not in (None, HISTORY):
            date.fromisoformat(folder)
        return cls(name, table, folder).validated()

    def validated(self) -> DefectSpec:
        if self.name not in DEFECTS:
            raise ValueError(f"unknown defect {self.name!r}; choose from {', '.join(DEFECTS)}")
        if self.table not in TABLE_NAMES:
            raise ValueError(f"unknown table {self.table!r}; choose from {', '.join(TABLE_NAMES)}")
        edits = VALUE_EDITS.get(self.name)
        if edits is not None and self.table not in edits:
            raise DefectNotApplicable(f"{self.name} is defined for tables {sorted(edits)}, not {self.table}")
        return self

    def resolve(self, first_day: date) -> DefectSpec:
        """The same spec with its folder spelled as written on disk ('history' or YYYY-MM-DD)."""
        folder = self.folder or first_day
        return DefectSpec(self.name, self.table, folder.isoformat() if isinstance(folder, date) else folder)


@dataclass(frozen=True)
class DefectReport:
    """Where a defect was put: the extract's tests assert that its quarantine names this line."""

    name: str
    table: str
    folder: str
    file: Path
    line: int | None
    """Physical line in the decompressed CSV (header = 1); None when the whole file or the manifest is hit."""
    column: str | None
    key: str | None
    """Primary key of the damaged row, when there is one."""
    detail: str


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
