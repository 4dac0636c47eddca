"""Stage one gzip CSV file into a temporary all-text table with its line numbers, via COPY.

Python's C csv parser splits records (so a malformed record can be quarantined with its exact line number instead
of failing a whole COPY), and psycopg's COPY writer streams the rest to the server in bounded memory. Typing and
checks happen afterwards in SQL (see `checks.py`).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from include import contract
from include.ingest.errors import SchemaDrift

RAW_TABLE = "_raw_batch"
LINE_NO = "_line_no"


@dataclass
class Malformed:
    line_number: int
    raw_line: str
    reason: str


@dataclass
class StageResult:
    rows_in: int = 0
    malformed: list[Malformed] = field(default_factory=list)


@contextmanager
def _open_csv(path: Path) -> Iterator[io.TextIOWrapper]:
    with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        yield text


def read_header(path: Path) -> list[str]:
    with _open_csv(path) as text:
        try:
            return next(csv.reader(text))
        except StopIteration:
            return []


def check_header(table: contract.Table, path: Path) -> None:
    """Fail before anything is written when the header is not exactly the contract's columns, in order."""
    header = read_header(path)
    expected = list(table.column_names)
    if header == expected:
        return
    if not header:
        raise SchemaDrift(f"{path}: empty file (no header row); expected columns {expected}")
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if missing or extra:
        raise SchemaDrift(
            f"{path}: columns do not match the contract of analytics.{table.name}: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    raise SchemaDrift(f"{path}: columns are in the wrong order: {header}; expected {expected}")


def create_raw_table(conn: psycopg.Connection, table: contract.Table) -> None:
    columns = [sql.SQL("{} bigint not null").format(sql.Identifier(LINE_NO))] + [
        sql.SQL("{} text").format(sql.Identifier(name)) for name in table.column_names
    ]
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(RAW_TABLE)))
    statement = sql.SQL("create temp table {} ({}) on commit drop")
    conn.execute(statement.format(sql.Identifier(RAW_TABLE), sql.SQL(", ").join(columns)))


def _to_csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def stage_file(conn: psycopg.Connection, table: contract.Table, path: Path) -> StageResult:
    """COPY the well-formed records of `path` into the temp raw table; return counts and the malformed records.

    Line numbers are physical lines of the decompressed file, the header being line 1, so an engineer can
    `zcat file | sed -n Np` the exact record. An empty field becomes NULL, as the landing contract says.
    """
    width = len(table.column_names)
    result = StageResult()
    copy_sql = sql.SQL("copy {} from stdin").format(sql.Identifier(RAW_TABLE))
    with _open_csv(path) as text, conn.cursor().copy(copy_sql) as copy:
        reader = csv.reader(text, strict=True)
        try:
            next(reader)  # header, already checked
        except StopIteration:
            return result
        line_start = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                result.rows_in += 1
                result.malformed.append(Malformed(line_start, "", f"malformed: unparseable CSV: {exc}"))
                line_start = reader.line_num + 1
                continue
            result.rows_in += 1
            if len(record) != width:
                result.malformed.append(
                    Malformed(line_start, _to_csv_line(record), f"malformed: {len(record)} fields, expected {width}")
                )
            else:
                copy.write_row([line_start, *[value if value != "" else None for value in record]])
            line_start = reader.line_num + 1
    return result


def copy_file(conn: psycopg.Connection, statement: sql.Composed, path: Path) -> int:
    """Stream the decompressed file to a COPY … FROM STDIN statement; returns the rows COPY reported."""
    with conn.cursor() as cur:
        with cur.copy(statement) as copy, gzip.open(path, "rb") as raw:
            while chunk := raw.read(1 << 20):
                copy.write(chunk)
        return cur.rowcount
