"""Publish the churn lists of one as-of date as CSV and Parquet with a manifest.

The lists come from `marts.churn_list_snapshots` (dbt): each transform build stores its own as-of date's lists
there, so the export of date D publishes exactly what D's build produced, even when the marts have since been rebuilt
for a later date (a backfill runs transforms back to back). The export reads them through a view that adds the
customers' contacts (dbt macro `churn_lists_with_contacts`):
- by default as the reader role, from `serving.churn_list_snapshots`: contacts are keyed HMAC tokens (masked in the
  warehouse, by the one masking macro — this module never sees a raw contact);
- with `SA_EXPORT_INCLUDE_PII=true` as the pii_reader role, from `pii.churn_list_snapshots`: raw contacts.
Both views have the same columns: the snapshot model's select list (the export's allow-list, so a new PII column in
the marts does not reach the files) plus customer_name, email and phone. The files hold exactly those columns.

Layout under the export root (a local folder, or any fsspec URL such as `s3://bucket/prefix`):

    <root>/<as_of_date>/churned_customers.csv       every customer with is_churned_90d (includes the 30-day ones)
    <root>/<as_of_date>/churned_customers.parquet
    <root>/<as_of_date>/high_risk_customers.csv     churn_risk_level in (high, critical)
    <root>/<as_of_date>/high_risk_customers.parquet
    <root>/<as_of_date>/manifest.json               as-of date, row counts, sha256, source, generated at

Consistency: the as-of date and both lists are read in one REPEATABLE READ, read-only transaction, by COPY: the CSV
comes straight from PostgreSQL (booleans spelled True/False), the Parquet file is converted from it by Arrow, typed by
the columns' PostgreSQL types (numeric as float64). The files are written to a staging folder beside the final one
and swapped in by rename; if the swap fails the old export is put back, so the folder holds either the old or the new
export, never neither; the staging folder is removed whatever happens. On object stores, where a rename is a copy,
`manifest.json` is written last and marks completeness.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from psycopg import sql

from include.config import SCHEMA_PII, SCHEMA_SERVING, Settings, get_settings
from include.warehouse.connect import RoleKind, connect

RELATION = "churn_list_snapshots"
# The lists, each stored as the flag column `in_<list name>` of the customers' rows (dbt/models/marts/
# churn_list_snapshots.sql decides who is on which list); the descriptions go into the manifest.
LISTS = {
    "churned_customers": "is_churned_90d (includes the 30-day churners)",
    "high_risk_customers": "churn_risk_level in (high, critical)",
}

LIST_FLAGS = {name: f"in_{name}" for name in LISTS}


class ExportError(RuntimeError):
    """The lists of the requested as-of date cannot be published (the message says why)."""


@dataclass(frozen=True)
class ExportResult:
    as_of_date: str
    folder: str
    rows: dict[str, int]
    pii_included: bool
    seconds: float  # reading the lists and writing the files


def source(include_pii: bool) -> tuple[RoleKind, str]:
    """Who reads the lists, and from where: the pii_reader from `pii` only when PII is to be included."""
    return ("pii_reader", f"{SCHEMA_PII}.{RELATION}") if include_pii else ("reader", f"{SCHEMA_SERVING}.{RELATION}")


def _resolve_as_of(conn: Any, relation: sql.Identifier, name: str, requested: str | None) -> str:
    """The as-of date to publish: `requested` (a date) if its lists exist, else the newest one stored."""
    if requested is not None:
        day = date.fromisoformat(requested)
        exists = sql.SQL("select exists (select from {} where as_of_date = %s)").format(relation)
        if not conn.execute(exists, (day,)).fetchone()[0]:
            raise ExportError(f"{name} holds no churn lists for {requested}: the transform for that date did not "
                              "succeed (or its lists are older than churn_list_retention_days)")
        return day.isoformat()
    newest = conn.execute(sql.SQL("select max(as_of_date) from {}").format(relation)).fetchone()[0]
    if newest is None:
        raise ExportError(f"{name} is empty: run the transform first")
    return str(newest.isoformat())


# How a list's columns reach the files, by PostgreSQL type OID: the Arrow type of its Parquet column (numeric as
# float64, which every Parquet reader reads) and, for booleans, the CSV spelling (True/False, not PostgreSQL's t/f).
_ARROW_TYPES = {16: "bool_", 20: "int64", 21: "int64", 23: "int64", 25: "string", 1043: "string", 1700: "float64",
                701: "float64", 1082: "date32"}


@dataclass(frozen=True)
class _Layout:
    """The files' columns (the relation's, but the list flags: the file name says which list), their Arrow types and
    the select list COPY writes them with."""
    columns: list[str]
    arrow_types: dict[str, str]
    select: sql.Composed


@dataclass(frozen=True)
class _List:
    layout: _Layout
    csv: bytes


def _layout(conn: Any, relation: sql.Identifier) -> _Layout:
    described = conn.execute(sql.SQL("select * from {} limit 0").format(relation)).description or []
    columns, arrow_types, select = [], {}, []
    for column in described:
        if column.name in LIST_FLAGS.values():
            continue
        if column.type_code not in _ARROW_TYPES:
            raise ExportError(f"{relation.as_string(conn)}.{column.name}: type oid {column.type_code} has no file "
                              "mapping in include/export/churn.py (_ARROW_TYPES)")
        columns.append(column.name)
        arrow_types[column.name] = _ARROW_TYPES[column.type_code]
        name = sql.Identifier(column.name)
        select.append(sql.SQL("case when {0} then 'True' when not {0} then 'False' end as {0}").format(name)
                      if column.type_code == 16 else name)
    return _Layout(columns, arrow_types, sql.SQL(", ").join(select))


def _read_list(conn: Any, relation: sql.Identifier, layout: _Layout, as_of: str, list_name: str) -> _List:
    """One list as CSV bytes, straight from PostgreSQL (COPY)."""
    query = sql.SQL("copy (select {} from {} where as_of_date = {} and {}"
                    " order by estimated_clv desc, customer_id) to stdout with (format csv, header)").format(
        layout.select, relation, sql.Literal(as_of), sql.Identifier(LIST_FLAGS[list_name]))
    buffer = io.BytesIO()
    with conn.cursor().copy(query) as copy:
        for chunk in copy:
            buffer.write(chunk)
    return _List(layout, buffer.getvalue())


def _fetch_lists(as_of_date: str | None, include_pii: bool, settings: Settings,
                 on_read: Callable[[str, _List], None] | None = None) -> tuple[str, dict[str, _List]]:
    """The as-of date and both lists with their contacts, read in one REPEATABLE READ transaction; `on_read` is
    called with each list as soon as it is read (the next one is read meanwhile)."""
    import psycopg

    role, name = source(include_pii)
    relation = sql.Identifier(*name.split("."))
    lists: dict[str, _List] = {}
    with connect(role, settings) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            as_of = _resolve_as_of(conn, relation, name, as_of_date)
            layout = _layout(conn, relation)
            for list_name in LISTS:
                lists[list_name] = _read_list(conn, relation, layout, as_of, list_name)
                if on_read is not None:
                    on_read(list_name, lists[list_name])
    return as_of, lists


def _parquet_bytes(listed: _List) -> tuple[bytes, int]:
    """The CSV's rows as Parquet (zstd), typed by the list's columns; and the row count."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    types = {column: getattr(pa, arrow_type)() for column, arrow_type in listed.layout.arrow_types.items()}
    table = pa_csv.read_csv(
        io.BytesIO(listed.csv),
        read_options=pa_csv.ReadOptions(use_threads=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, include_columns=listed.layout.columns, true_values=["True"], false_values=["False"],
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue(), table.num_rows


def export_churn(as_of_date: str | None = None, settings: Settings | None = None,
                 include_pii: bool | None = None) -> ExportResult:
    """Write both lists of `as_of_date` (default: the newest stored) and swap them into place."""
    import fsspec

    started = time.monotonic()
    settings = settings or get_settings()
    include_pii = settings.export_include_pii if include_pii is None else include_pii
    # Each list's Parquet is made in a thread while PostgreSQL sends the next list (Arrow and the socket reads
    # release the GIL): at scale 100 reading both lists takes ~3 s and converting each ~1 s.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as converter:
        converting: dict[str, Future[tuple[bytes, int]]] = {}

        def convert_meanwhile(name: str, listed: _List) -> None:
            converting[name] = converter.submit(_parquet_bytes, listed)

        as_of, lists = _fetch_lists(as_of_date, include_pii, settings, on_read=convert_meanwhile)
        parquets = {name: future.result() for name, future in converting.items()}
    fs, root = fsspec.core.url_to_fs(settings.export_root)
    final = f"{root.rstrip('/')}/{as_of}"
    staging = f"{root.rstrip('/')}/.staging-{as_of}-{uuid.uuid4().hex[:8]}"
    try:
        fs.makedirs(staging, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for name, listed in lists.items():
            parquet, counts[name] = parquets[name]
            for extension, payload in (("csv", listed.csv), ("parquet", parquet)):
                filename = f"{name}.{extension}"
                with fs.open(f"{staging}/{filename}", "wb") as handle:
                    handle.write(payload)
                files[filename] = {"rows": counts[name], "sha256": hashlib.sha256(payload).hexdigest(),
                                   "format": extension}
        manifest = {
            "as_of_date": as_of,
            "source": source(include_pii)[1],
            "generated_at": datetime.now(UTC).isoformat(),
            "pii_included": include_pii,
            "lists": LISTS,
            "files": files,
        }
        with fs.open(f"{staging}/manifest.json", "wb") as handle:
            handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
        _swap_in(fs, staging, final)
    finally:
        if fs.exists(staging):
            fs.rm(staging, recursive=True)
    return ExportResult(as_of, f"{settings.export_root.rstrip('/')}/{as_of}", counts, include_pii,
                        round(time.monotonic() - started, 3))


def _swap_in(fs: Any, staging: str, final: str) -> None:
    """Replace `final` by `staging`; on failure put the old `final` back (old or new, never neither)."""
    replaced = None
    if fs.exists(final):
        replaced = f"{final}.replaced-{uuid.uuid4().hex[:8]}"
        fs.mv(final, replaced, recursive=True)
    try:
        fs.mv(staging, final, recursive=True)
    except BaseException:
        if replaced is not None:
            fs.mv(replaced, final, recursive=True)
        raise
    if replaced is not None:
        fs.rm(replaced, recursive=True)
