"""Publish the churn lists of one as-of date as CSV and Parquet with a manifest.

The lists come from `marts.churn_list_snapshots` (dbt): each transform build stores its own as-of date's lists
there, so the export of date D publishes exactly what D's build produced, even when the marts have since been rebuilt
for a later date (a backfill runs transforms back to back). The snapshot's columns are the export's allow-list; the
contact columns are joined by customer id and masked unless `SA_EXPORT_INCLUDE_PII=true`.

Layout under the export root (a local folder, or any fsspec URL such as `s3://bucket/prefix`):

    <root>/<as_of_date>/churned_customers.csv       every customer with is_churned_90d (includes the 30-day ones)
    <root>/<as_of_date>/churned_customers.parquet
    <root>/<as_of_date>/high_risk_customers.csv     churn_risk_level in (high, critical)
    <root>/<as_of_date>/high_risk_customers.parquet
    <root>/<as_of_date>/manifest.json               as-of date, row counts, sha256, source, generated at

Consistency: the as-of date and both lists are read in one REPEATABLE READ, read-only transaction. The files are
written to a staging folder beside the final one and swapped in by rename; if the swap fails the old export is put
back, so the folder holds either the old or the new export, never neither; the staging folder is removed whatever
happens. On object stores, where a rename is a copy, `manifest.json` is written last and marks completeness.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from include import contract
from include.config import Settings, get_settings
from include.warehouse.connect import connect

SOURCE = "marts.churn_list_snapshots"
CONTACTS = "marts.mart_churned_customers"
LISTS = {
    "churned_customers": "is_churned_90d (includes the 30-day churners)",
    "high_risk_customers": "churn_risk_level in (high, critical)",
}
PII_COLUMNS = contract.table("customers").pii  # the mart carries the customer's PII columns under the same names


class ExportError(RuntimeError):
    """The lists of the requested as-of date cannot be published (the message says why)."""


@dataclass(frozen=True)
class ExportResult:
    as_of_date: str
    folder: str
    rows: dict[str, int]
    pii_included: bool
    seconds: float  # reading the lists and writing the files


def mask(column: str, value: Any) -> Any:
    """Keep a stable, non-reversible token so lists can still be joined across days without exposing PII."""
    if value is None:
        return None
    token = hashlib.sha256(f"{column}:{value}".encode()).hexdigest()[:12]
    return f"{token}@masked.invalid" if column == "email" else f"masked-{token}"


def _resolve_as_of(conn: Any, requested: str | None) -> str:
    """The as-of date to publish: `requested` (a date) if its lists exist, else the newest one stored."""
    if requested is not None:
        day = date.fromisoformat(requested)
        if not conn.execute(f"select exists (select from {SOURCE} where as_of_date = %s)", (day,)).fetchone()[0]:
            raise ExportError(f"{SOURCE} holds no churn lists for {requested}: the transform for that date did not "
                              "succeed (or its lists are older than churn_list_retention_days)")
        return day.isoformat()
    newest = conn.execute(f"select max(as_of_date) from {SOURCE}").fetchone()[0]
    if newest is None:
        raise ExportError(f"{SOURCE} is empty: run the transform first")
    return str(newest.isoformat())


def _fetch_lists(as_of_date: str | None, settings: Settings) -> tuple[str, dict[str, tuple[list[str], list[Any]]]]:
    """The as-of date and both lists with their contacts, read in one REPEATABLE READ transaction."""
    import psycopg

    lists: dict[str, tuple[list[str], list[Any]]] = {}
    with connect("reader", settings) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            as_of = _resolve_as_of(conn, as_of_date)
            contacts = ", ".join(f"c.{column}" for column in PII_COLUMNS)
            for name in LISTS:
                cur = conn.execute(
                    f"select s.*, {contacts} from {SOURCE} s left join {CONTACTS} c on c.customer_id = s.customer_id"
                    " where s.as_of_date = %s and s.list_name = %s order by s.estimated_clv desc, s.customer_id",
                    (as_of, name))
                columns = [d.name for d in cur.description or []][1:]  # all but list_name (the file says it)
                lists[name] = (columns, [row[1:] for row in cur.fetchall()])
    return as_of, lists


def _csv_bytes(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def _parquet_bytes(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    for name, values in data.items():  # numeric → float64 keeps the file readable by every Parquet reader
        if any(isinstance(v, Decimal) for v in values):
            data[name] = [float(v) if v is not None else None for v in values]
    sink = io.BytesIO()
    pq.write_table(pa.table(data), sink, compression="zstd")
    return sink.getvalue()


def export_churn(as_of_date: str | None = None, settings: Settings | None = None,
                 include_pii: bool | None = None) -> ExportResult:
    """Write both lists of `as_of_date` (default: the newest stored) and swap them into place."""
    import fsspec

    started = time.monotonic()
    settings = settings or get_settings()
    include_pii = settings.export_include_pii if include_pii is None else include_pii
    as_of, lists = _fetch_lists(as_of_date, settings)
    fs, root = fsspec.core.url_to_fs(settings.export_root)
    final = f"{root.rstrip('/')}/{as_of}"
    staging = f"{root.rstrip('/')}/.staging-{as_of}-{uuid.uuid4().hex[:8]}"
    try:
        fs.makedirs(staging, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for name, (columns, rows) in lists.items():
            if not include_pii:
                pii = [columns.index(c) for c in PII_COLUMNS if c in columns]
                rows = [tuple(mask(columns[i], v) if i in pii else v for i, v in enumerate(row)) for row in rows]
            counts[name] = len(rows)
            for extension, payload in (("csv", _csv_bytes(columns, rows)), ("parquet", _parquet_bytes(columns, rows))):
                filename = f"{name}.{extension}"
                with fs.open(f"{staging}/{filename}", "wb") as handle:
                    handle.write(payload)
                files[filename] = {"rows": len(rows), "sha256": hashlib.sha256(payload).hexdigest(),
                                   "format": extension}
        manifest = {
            "as_of_date": as_of,
            "source": SOURCE,
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
