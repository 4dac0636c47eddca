"""Load a batch folder (`history` or one logical date) into `analytics`, one transaction per table.

Order of work, so that bad input never leaves anything half-written:
1. `verify_batch`: the manifest exists and its entries are sound, every file's sha256 matches and its content is a
   complete gzip of UTF-8 text, every header maps to the contract — checked for all files before any table is
   touched, so a refused day changes nothing. (The history bootstrap's content is checked while it loads instead:
   inflating ~2 GB twice would add seconds to the bulk load; a bad file there rolls back its own table.)
2. `load_table` per table, in contract order (reference tables first), each in one transaction: stage via COPY,
   type and check in SQL, quarantine rejected rows, then upsert. If the quarantine exceeds its threshold the
   quarantine and the failed log entry are committed but `analytics` is untouched.
A killed process leaves at most a `running` entry in `audit.load_batches`; the table's transaction rolls back and
the rerun completes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import psycopg
from psycopg import sql

from include import contract
from include.config import SCHEMA_SOURCES, Settings, get_settings
from include.ingest import checks
from include.ingest.errors import LoadError, ManifestMismatch, QuarantineThresholdExceeded
from include.ingest.manifest import (
    FileEntry,
    Manifest,
    batch_folder,
    read_manifest,
    sha256_of,
    verify_files,
)
from include.ingest.retention import purge_expired_quarantine
from include.ingest.stage import (
    GZIP_ERRORS,
    Layout,
    copy_file,
    create_raw_table,
    file_layout,
    refuse_unreadable,
    stage_file,
)
from include.warehouse import bootstrap, locks
from include.warehouse.connect import connect


@dataclass(frozen=True)
class TableLoad:
    batch_id: str
    table: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_superseded: int
    rows_kept: int  # an earlier delivery's rows of this batch kept: this delivery quarantined (or dropped) them
    seconds: float
    note: str | None = None  # e.g. the header columns the contract does not know, which were ignored


def _logical_date(batch_id: str) -> date | None:
    return None if batch_id == contract.HISTORY else date.fromisoformat(batch_id)


def verify_batch(batch_id: str, settings: Settings | None = None) -> Manifest:
    """Manifest present, checksums match, contents readable (a dated batch; see the module docstring), headers map
    to the contract: else raise before anything is written. Prints a note per file with columns the contract does
    not know (they are ignored)."""
    settings = settings or get_settings()
    manifest = read_manifest(batch_folder(settings.landing_root, batch_id))
    verify_files(manifest, content=batch_id != contract.HISTORY)
    for table in contract.TABLES:
        note = file_layout(table, manifest.files[table.name].path).note()
        if note:
            print(f"{manifest.files[table.name].path}: {note}")
    return manifest


def _log_start(batch_id: str, entry: FileEntry, settings: Settings) -> None:
    with connect("loader", settings, autocommit=True) as conn:
        conn.execute(
            "insert into audit.load_batches as b (batch_id, logical_date, table_name, source_file, sha256, status,"
            " started_at) values (%s, %s, %s, %s, %s, 'running', now())"
            " on conflict (batch_id, table_name) do update set source_file = excluded.source_file,"
            " sha256 = excluded.sha256, status = 'running', message = null, rows_in = 0, rows_loaded = 0,"
            " rows_quarantined = 0, rows_superseded = 0, rows_kept = 0, started_at = excluded.started_at,"
            " finished_at = null",
            (batch_id, _logical_date(batch_id), entry.table, str(entry.path), entry.sha256),
        )


def _log_finish(conn: psycopg.Connection, batch_id: str, table: str, status: str, message: str | None,
                rows: tuple[int, int, int, int, int], appended_only: bool = False) -> None:
    """Record the load's outcome; a success takes the next committed-load number and records `appended_only`
    (audit.sql), a failure keeps the last success's."""
    success = status == "success"
    conn.execute(
        "update audit.load_batches set status = %s, message = %s, rows_in = %s, rows_loaded = %s,"
        " rows_quarantined = %s, rows_superseded = %s, rows_kept = %s, finished_at = clock_timestamp(),"
        " load_seq = case when %s then nextval('audit.load_seq') else load_seq end,"  # see audit.sql
        " appended_only = case when %s then %s else appended_only end"
        " where batch_id = %s and table_name = %s",
        (status, message, *rows, success, success, appended_only, batch_id, table),
    )


def _log_failure(batch_id: str, table: str, message: str, settings: Settings) -> None:
    with connect("loader", settings, autocommit=True) as conn:
        _log_finish(conn, batch_id, table, "failed", message, (0, 0, 0, 0, 0))


def _threshold_problem(counts: dict[str, int], settings: Settings) -> str | None:
    key_rows = sum(counts.get(kind, 0) for kind in checks.KEY_KINDS)
    parse_rows = sum(counts.get(kind, 0) for kind in checks.PARSE_KINDS)
    rule_rows = sum(counts.get(kind, 0) for kind in checks.RULE_KINDS)
    problems = []
    if key_rows > settings.max_quarantined_key_rows:
        problems.append(f"{key_rows} rows with key/required/duplicate problems "
                        f"(SA_MAX_QUARANTINED_KEY_ROWS={settings.max_quarantined_key_rows})")
    if parse_rows > settings.max_quarantined_parse_rows:
        problems.append(f"{parse_rows} malformed or uncastable rows "
                        f"(SA_MAX_QUARANTINED_PARSE_ROWS={settings.max_quarantined_parse_rows})")
    if rule_rows > settings.max_quarantined_rule_rows:
        problems.append(f"{rule_rows} rows breaking a contract rule "
                        f"(SA_MAX_QUARANTINED_RULE_ROWS={settings.max_quarantined_rule_rows})")
    return "; ".join(problems) or None


def load_table(batch_id: str, table_name: str, settings: Settings | None = None,
               manifest: Manifest | None = None) -> TableLoad:
    """Load one table of a verified batch in one transaction; raise LoadError (naming file/line/column) on failure."""
    settings = settings or get_settings()
    table = contract.table(table_name)
    manifest = manifest or read_manifest(batch_folder(settings.landing_root, batch_id))
    entry = manifest.files[table_name]
    started = time.monotonic()
    _log_start(batch_id, entry, settings)
    try:
        if not entry.path.is_file():
            raise ManifestMismatch(f"{entry.path}: listed in the manifest but not in the folder")
        if sha256_of(entry.path) != entry.sha256:
            raise ManifestMismatch(f"{entry.path}: sha256 does not match the manifest")
        layout = file_layout(table, entry.path)
        try:
            result = _load_in_transaction(batch_id, table, entry, layout, settings)
        except GZIP_ERRORS:  # a damaged file that verify_batch did not see (a load run on its own)
            refuse_unreadable(entry.path)
            raise
    except LoadError as exc:
        if not isinstance(exc, QuarantineThresholdExceeded):  # that one is logged inside its own transaction
            _log_failure(batch_id, table_name, str(exc), settings)
        raise
    except Exception as exc:
        _log_failure(batch_id, table_name, f"{type(exc).__name__}: {exc}", settings)
        raise
    return TableLoad(batch_id, table_name, *result, seconds=time.monotonic() - started, note=layout.note())


class _NeedsRowChecks(Exception):
    """The fast path met something to quarantine: redo the file with row-level checks."""


def latest_accepted_timestamp(load_time: datetime, settings: Settings) -> datetime:
    """The latest timestamp a row may carry: the source's clock plus SA_FUTURE_TOLERANCE_HOURS. The source's clock is
    the load time — or, for the simulated source with SA_TODAY pinned ahead of the real date, the end of that day
    (its days are written as of SA_TODAY; refusing them as "in the future" would be the test clock's fault)."""
    source_clock = load_time
    if settings.simulated_source and settings.today is not None:
        end_of_today = datetime.combine(settings.today + timedelta(days=1), clock_time.min, tzinfo=UTC)
        source_clock = max(load_time, end_of_today)
    return source_clock + timedelta(hours=settings.future_tolerance_hours)


def _load_in_transaction(batch_id: str, table: contract.Table, entry: FileEntry, layout: Layout,
                         settings: Settings) -> tuple[int, int, int, int, int]:
    """Fast path first: COPY straight into the empty target (first load), or into a typed temp table that is then
    applied (`_apply`). If COPY rejects the file (bad field count or type), a key/required column is empty, a row
    breaks a contract rule or a key repeats, roll back to a savepoint and take the slow path, which finds every bad
    row with its line number and applies the rest. No explicit ANALYZE after a first load: autovacuum refreshes the
    statistics, and the loader's own plans never depend on them (the first load has no join; later loads analyze
    their batch)."""
    params = {"batch_id": batch_id, "table": table.name, "source_file": str(entry.path), "now": datetime.now(UTC)}
    not_after = latest_accepted_timestamp(params["now"], settings)
    target = sql.Identifier(SCHEMA_SOURCES, table.name)
    with connect("loader", settings) as conn:
        conn.execute("set local timezone = 'UTC'")
        conn.execute("set local work_mem = '256MB'")  # the duplicate-key check and the update's join hash in memory
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"support-analytics load {table.name}",))
        locks.hold_for_load(conn, f"load of {table.name} ({batch_id})")  # never while a dbt build runs
        conn.execute("delete from audit.quarantine where batch_id = %s and table_name = %s", (batch_id, table.name))
        purge_expired_quarantine(conn, table.name, settings.quarantine_retention_days)  # raw rows hold PII
        target_was_empty = not conn.execute(sql.SQL("select exists (select from {})").format(target)).fetchone()[0]
        earlier_rows = not target_was_empty and conn.execute(
            sql.SQL("select exists (select from {} where _batch_id = %s)").format(target), (batch_id,)).fetchone()[0]
        conn.execute(checks.create_typed_table(table, layout))
        conn.execute("savepoint fast_path")
        updated = 0  # existing keys this load rewrote
        try:
            if target_was_empty and not layout.extra:
                rows_in = _copy_into_empty_target(conn, table, entry, layout, params, not_after)
            else:
                rows_in = copy_file(conn, checks.copy_typed(table, layout), entry.path)
                _check_row_count(entry, rows_in)
                if conn.execute(checks.typed_problems(table, not_after)).fetchone()[0]:
                    raise _NeedsRowChecks
                updated = _apply(conn, table, params)
            quarantined = 0
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError, _NeedsRowChecks):
            conn.execute("rollback to savepoint fast_path")
            rows_in, quarantined = _stage_and_check(conn, batch_id, table, entry, layout, params, settings,
                                                    not_after)
            updated = _apply(conn, table, params)
        valid = rows_in - quarantined
        superseded = kept = 0
        if not target_was_empty:
            superseded, kept = _superseded_and_kept(conn, table, batch_id, valid, earlier_rows)
        _log_finish(conn, batch_id, table.name, "success", layout.note(),
                    (rows_in, valid, quarantined, superseded, kept), appended_only=not earlier_rows and updated == 0)
    return rows_in, valid, quarantined, superseded, kept


def _superseded_and_kept(conn: psycopg.Connection, table: contract.Table, batch_id: str, valid: int,
                         earlier_rows: bool) -> tuple[int, int]:
    """What the gate's row count must allow for, counted on the batch's own rows (the `_batch_id` index):
    - kept: rows an earlier delivery of this batch landed (`earlier_rows`: the table held rows of this batch before
      this load) whose new version this delivery quarantined (or dropped): the last good version stays, still tagged
      with this batch;
    - superseded: valid rows of this delivery the table does not hold as this batch's (a newer version landed)."""
    target, pk = sql.Identifier(SCHEMA_SOURCES, table.name), sql.Identifier(table.primary_key)
    current = conn.execute(sql.SQL("select count(*) from {} where _batch_id = %s").format(target),
                           (batch_id,)).fetchone()[0]
    kept = 0
    if earlier_rows:  # EXCEPT (a hashed or sorted set operation): an anti-join here can be planned as a nested loop
        kept = conn.execute(sql.SQL(
            "select count(*) from (select {pk} from {target} where _batch_id = %s except select {pk} from {typed}) k"
        ).format(pk=pk, target=target, typed=sql.Identifier(checks.TYPED_TABLE)), (batch_id,)).fetchone()[0]
    return valid - (current - kept), kept


def _copy_into_empty_target(conn: psycopg.Connection, table: contract.Table, entry: FileEntry, layout: Layout,
                            params: dict[str, object], not_after: datetime) -> int:
    """First load of a table (the history bootstrap, a new environment): COPY the file straight into it, the way
    PostgreSQL's "Populating a Database" advises — in the transaction that truncated the (empty) table, so the rows
    are written frozen and, on the embedded server (`wal_level=minimal`), without WAL; the primary key, the
    `_batch_id` index and a key-lookup index (bootstrap.KEY_LOOKUP_INDEXES) are dropped first and built once
    afterwards (faster than row-by-row index upkeep). The table's
    constraints do the fast path's checks: a bad type raises DataError, an empty required column or a repeated key
    IntegrityError (when the primary key is rebuilt), a value longer than its column allows or a row breaking a
    contract rule a CHECK constraint held during the COPY (CheckViolation; the target's columns are plain text).
    The audit columns come from their defaults, set to this load's values for the COPY (bootstrap.audit_defaults_ddl)
    and back to the table's own right after."""
    target = sql.Identifier(SCHEMA_SOURCES, table.name)
    conn.execute("set local maintenance_work_mem = '512MB'")  # the index builds sort in memory
    conn.execute(sql.SQL("truncate {}").format(target))
    conn.execute(sql.SQL("alter table {} drop constraint {}").format(
        target, sql.Identifier(bootstrap.primary_key_name(table))))
    conn.execute(sql.SQL("drop index {}").format(sql.Identifier(SCHEMA_SOURCES, bootstrap.batch_id_index_name(table))))
    if (key_index := bootstrap.key_lookup_index_name(table)) is not None:
        conn.execute(sql.SQL("drop index if exists {}").format(sql.Identifier(SCHEMA_SOURCES, key_index)))
    conn.execute(bootstrap.audit_defaults_ddl(table, {"_batch_id": params["batch_id"], "_loaded_at": params["now"]}))
    rules = checks.first_load_rules(table, target, not_after)
    if rules is not None:
        conn.execute(rules[0])
    rows_in = copy_file(conn, checks.copy_into_target(table, layout), entry.path)
    _check_row_count(entry, rows_in)
    conn.execute(bootstrap.audit_defaults_ddl(table))
    if rules is not None:
        conn.execute(rules[1])
    conn.execute(bootstrap.primary_key_ddl(table))
    conn.execute(bootstrap.batch_id_index_ddl(table))
    if (key_index_ddl := bootstrap.key_lookup_index_ddl(table)) is not None:
        conn.execute(key_index_ddl)
    return rows_in


def _apply(conn: psycopg.Connection, table: contract.Table, params: dict[str, object]) -> int:
    """Update the keys whose incoming version is newer, insert the new keys; returns the existing keys it updated.
    Fresh statistics of the batch keep the update's join plan sane whatever its size."""
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier(checks.TYPED_TABLE)))
    updated = conn.execute(checks.apply_updates(table), params).rowcount
    conn.execute(checks.apply_inserts(table), params)
    return int(updated)


def _check_row_count(entry: FileEntry, rows_in: int) -> None:
    if rows_in != entry.rows:
        raise ManifestMismatch(f"{entry.path}: {rows_in} data rows in the file but the manifest says {entry.rows}")


def _stage_and_check(conn: psycopg.Connection, batch_id: str, table: contract.Table, entry: FileEntry,
                     layout: Layout, params: dict[str, object], settings: Settings,
                     not_after: datetime) -> tuple[int, int]:
    """Slow path: stage as text with line numbers, quarantine every bad row, fill the typed table with the rest.
    Commits the quarantine and raises when it exceeds the thresholds (analytics untouched). A file whose text is
    not loadable at all (not UTF-8, a NUL byte; verify_batch refuses it first) is refused by name, line and byte."""
    create_raw_table(conn, table, layout)
    try:
        staged = stage_file(conn, entry.path, layout)
    except (UnicodeDecodeError, psycopg.errors.DataError, *GZIP_ERRORS):
        refuse_unreadable(entry.path)
        raise
    _check_row_count(entry, staged.rows_in)  # before any quarantine is kept: a short file is not bad rows
    conn.execute(checks.build_checked(table, not_after))
    conn.execute(checks.insert_quarantine(table), params)
    if staged.malformed:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.quarantine (batch_id, table_name, source_file, line_number, raw_line, reason,"
                " quarantined_at) values (%s, %s, %s, %s, %s, %s, %s)",
                [(batch_id, table.name, str(entry.path), m.line_number, m.raw_line, m.reason, params["now"])
                 for m in staged.malformed],
            )
    counts = dict(conn.execute(checks.reason_counts()).fetchall())
    if staged.malformed:
        counts["malformed"] = len(staged.malformed)
    quarantined = sum(counts.values())
    problem = _threshold_problem(counts, settings)
    if problem:
        firsts = [(m.line_number, m.reason) for m in staged.malformed[:5]]
        firsts += conn.execute(checks.first_reasons()).fetchall()
        message = (f"{entry.path.name} → analytics.{table.name}: {problem}. Nothing was loaded; "
                   f"see audit.quarantine (batch_id={batch_id!r}). First: "
                   + "; ".join(f"line {line}: {reason}" for line, reason in sorted(firsts)[:5]))
        _log_finish(conn, batch_id, table.name, "failed", message, (staged.rows_in, 0, quarantined, 0, 0))
        conn.commit()
        raise QuarantineThresholdExceeded(message)
    conn.execute(checks.typed_from_checked(table))
    return staged.rows_in, quarantined


def load_batch(batch_id: str, settings: Settings | None = None) -> list[TableLoad]:
    """Verify the whole folder, then load every table in contract order (used for `history` and by the CLI)."""
    settings = settings or get_settings()
    manifest = verify_batch(batch_id, settings)
    return [load_table(batch_id, table.name, settings, manifest) for table in contract.TABLES]
