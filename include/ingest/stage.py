"""Reading a landing file: is it readable at all, which contract column each field is, and staging its records.

`inspect_file` owns the rule "a landing file is a complete gzip of UTF-8 text without NUL bytes" (a UTF-8 byte
order mark is allowed and ignored); `file_layout` owns "the header names every contract column once, in any order;
columns the contract does not know are ignored". `stage_file` stages one file into a temporary all-text table with
its line numbers, via COPY: Python's C csv parser splits records (so a malformed record can be quarantined with its
exact line number instead of failing a whole COPY), and psycopg's COPY writer streams the rest to the server in
bounded memory. Typing and checks happen afterwards in SQL (see `checks.py`).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from include import contract
from include.ingest.errors import SchemaDrift, UnreadableFile

RAW_TABLE = "_raw_batch"
LINE_NO = "_line_no"
IGNORED = "_ignored_"  # prefix of the staging columns that take a header column the contract does not know
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)  # what reading a damaged gzip raises
CHUNK = 1 << 20
# Python's csv refuses a field over 128 KiB as unparseable; raised so that a runaway text field reaches the length
# check, which names its column (a field this long is still quarantined: no contract column allows it).
csv.field_size_limit(max(csv.field_size_limit(), 1 << 28))


@dataclass(frozen=True)
class FileScan:
    sha256: str
    problem: str | None  # why the content is unreadable (with line and byte), None when it is fine


class _Hashing:
    """A binary reader that hashes what it reads: one pass over the file for its sha256 and its content."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def inspect_file(path: Path) -> FileScan:
    """sha256 of the file's bytes and, in the same read, whether its content is loadable: a complete gzip (not
    truncated, not another format), UTF-8 (a BOM is fine), no NUL byte. Fast on the common case: ASCII chunks are
    not decoded."""
    with open(path, "rb") as handle:
        hashing = _Hashing(handle)
        try:
            with gzip.GzipFile(fileobj=hashing, mode="rb") as text:  # type: ignore[arg-type]
                problem = _content_problem(path, text)
        except GZIP_ERRORS as exc:
            problem = _gzip_problem(path, exc)
        while hashing.read(CHUNK):  # the rest of the bytes, for the sha256
            pass
    return FileScan(hashing.digest.hexdigest(), problem)


def refuse_unreadable(path: Path) -> None:
    """Raise UnreadableFile naming the problem of `path`, if it has one (used when a load trips over its content)."""
    problem = inspect_file(path).problem
    if problem:
        raise UnreadableFile(problem)


def _content_problem(path: Path, text: BinaryIO) -> str | None:
    offset, pending = 0, b""
    while chunk := text.read(CHUNK):
        bad: list[tuple[int, str]] = []
        nul = chunk.find(b"\0")
        if nul >= 0:
            bad.append((offset + nul, "NUL byte (0x00) in the text"))
        if pending or not chunk.isascii():
            data = pending + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", False)
                pending = data[used:]
            except UnicodeDecodeError as exc:
                bad.append((offset - len(pending) + exc.start, f"not UTF-8 (byte 0x{data[exc.start]:02x})"))
        if bad:
            at, reason = min(bad)
            return f"{path}: {_position(path, at)}: {reason}; the source must send UTF-8 text"
        offset += len(chunk)
    if pending:
        return f"{path}: {_position(path, offset - len(pending))}: not UTF-8 (the text ends inside a character)"
    return None


def _position(path: Path, offset: int) -> str:
    """`line L, byte B` of a decompressed offset (line 1 = the header; byte 1 = the first of the line)."""
    line, line_start, done = 1, 0, 0
    try:
        with gzip.open(path, "rb") as raw:
            while done < offset and (chunk := raw.read(min(CHUNK, offset - done))):
                if count := chunk.count(b"\n"):
                    line += count
                    line_start = done + chunk.rfind(b"\n") + 1
                done += len(chunk)
    except GZIP_ERRORS:
        pass
    return f"line {line}, byte {offset - line_start + 1}"


def _gzip_problem(path: Path, exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return (f"{path}: truncated gzip (the compressed data ends before its end-of-stream marker): "
                "the source must re-send the whole file")
    if isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
        with open(path, "rb") as handle:
            start = handle.read(2)
        return f"{path}: not a gzip file (it starts with {start!r}, gzip starts with b'\\x1f\\x8b')"
    return f"{path}: corrupt gzip ({exc})"


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
    """The decompressed text; `utf-8-sig` drops a byte order mark (what spreadsheet exports start with)."""
    with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield text


def read_header(path: Path) -> list[str]:
    try:
        with _open_csv(path) as text:
            try:
                return next(csv.reader(text))
            except StopIteration:
                return []
    except (UnicodeDecodeError, csv.Error, *GZIP_ERRORS):
        refuse_unreadable(path)
        raise


@dataclass(frozen=True)
class Layout:
    """Where each contract column is in a file: `fields[i]` is the contract column of the file's field i, or None
    for a column the contract does not know (ignored, and noted in the load log)."""

    fields: tuple[str | None, ...]
    extra: tuple[str, ...] = ()

    def staging_columns(self) -> list[str]:
        """The column each field is copied into: its contract column, or a placeholder `_ignored_<i>`."""
        return [name if name is not None else f"{IGNORED}{i}" for i, name in enumerate(self.fields)]

    def note(self) -> str | None:
        if not self.extra:
            return None
        return f"ignored column(s) not in the contract: {', '.join(self.extra)} (the known columns landed)"


def file_layout(table: contract.Table, path: Path) -> Layout:
    """Map the header to the contract by name, before anything is written. Columns may come in any order; every
    contract column must be there exactly once — a missing one is refused (an optional column left out would
    overwrite landed values with NULL); an unknown one is ignored."""
    header = [name.strip() for name in read_header(path)]
    expected = list(table.column_names)
    if not header:
        raise SchemaDrift(f"{path}: empty file (no header row); expected columns {expected}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SchemaDrift(f"{path}: column(s) {repeated} appear more than once in the header")
    missing = [c for c in expected if c not in header]
    if missing:
        extra = [c for c in header if c not in expected]
        raise SchemaDrift(f"{path}: columns do not match the contract of analytics.{table.name}: missing {missing}"
                          + (f", unexpected {extra}" if extra else ""))
    known = set(expected)
    return Layout(tuple(name if name in known else None for name in header),
                  tuple(name for name in header if name not in known))


def create_raw_table(conn: psycopg.Connection, table: contract.Table, layout: Layout) -> None:
    """All-text staging table: the line number, then one column per field of the file, in the file's order."""
    columns = [sql.SQL("{} bigint not null").format(sql.Identifier(LINE_NO))] + [
        sql.SQL("{} text").format(sql.Identifier(name)) for name in layout.staging_columns()
    ]
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(RAW_TABLE)))
    statement = sql.SQL("create temp table {} ({}) on commit drop")
    conn.execute(statement.format(sql.Identifier(RAW_TABLE), sql.SQL(", ").join(columns)))


def _to_csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def stage_file(conn: psycopg.Connection, path: Path, layout: Layout) -> StageResult:
    """COPY the well-formed records of `path` into the temp raw table; return counts and the malformed records.

    Line numbers are physical lines of the decompressed file, the header being line 1, so an engineer can
    `zcat file | sed -n Np` the exact record. An empty field becomes NULL, as the landing contract says.
    """
    width = len(layout.fields)
    result = StageResult()
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in [LINE_NO, *layout.staging_columns()])
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(sql.Identifier(RAW_TABLE), columns)
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
