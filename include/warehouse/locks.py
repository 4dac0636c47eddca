"""The lock that keeps a transform's inputs stable: loads and dbt builds never overlap.

The source tables keep only the latest version of each row, so a dbt build cannot read "the sources as of batch D"
back: it must see the same rows from its first model to its last test. One PostgreSQL advisory lock does it:

- every load transaction takes it SHARED (`pg_advisory_xact_lock_shared`): loads of different tables still run side
  by side, and the lock goes with the transaction (commit, rollback, or a killed process);
- every dbt invocation that builds or tests (the transform's producer, a cleared model task's own rebuild, `sa dbt`)
  takes it EXCLUSIVE while dbt runs (`include.transform.locked_dbt` holds it on a connection of the process that
  runs dbt, so the lock lasts exactly as long as dbt does: a killed process ends both).

A load that arrives during a build waits for it (and the other way round), and says in its log who it waits for.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

TRANSFORM_INPUTS_LOCK = "support-analytics: transform inputs"
_KEY = "hashtext(%s)"
WAIT_REPORT_S = 30.0


def _holders(conn: psycopg.Connection) -> str:
    """Who holds or waits for the lock, for the log line of a process that has to wait."""
    rows = conn.execute(
        "select a.pid, coalesce(nullif(a.application_name, ''), a.usename), l.mode, l.granted,"
        " now() - a.xact_start from pg_locks l join pg_stat_activity a using (pid)"
        " where l.locktype = 'advisory' and l.objid = (hashtext(%s)::bigint & 4294967295)"
        " and a.pid <> pg_backend_pid() order by l.granted desc, a.pid",
        (TRANSFORM_INPUTS_LOCK,)).fetchall()
    return "; ".join(f"pid {pid} {app} ({'holds' if granted else 'waits for'} {mode.removesuffix('Lock')}"
                     + (f", for {age}" if age is not None else "") + ")"
                     for pid, app, mode, granted, age in rows) or "nobody (released meanwhile)"


def _wait_for(conn: psycopg.Connection, try_sql: str, wait_sql: str, what: str) -> None:
    """Take the lock at once if free; else log who holds it, then wait (reporting every WAIT_REPORT_S)."""
    if conn.execute(try_sql, (TRANSFORM_INPUTS_LOCK,)).fetchone()[0]:
        return
    started = time.monotonic()
    log.warning("%s waits for the transform-inputs lock, held by: %s", what, _holders(conn))
    while True:
        conn.execute("select set_config('lock_timeout', %s, true)", (f"{int(WAIT_REPORT_S * 1000)}ms",))
        try:
            conn.execute(wait_sql, (TRANSFORM_INPUTS_LOCK,))
            break
        except Exception as exc:  # lock_timeout: report and keep waiting
            if type(exc).__name__ != "LockNotAvailable":
                raise
            if not conn.autocommit:
                raise  # inside a transaction the timeout aborted it: the caller retries the transaction
            log.warning("%s still waiting after %.0f s for: %s", what, time.monotonic() - started, _holders(conn))
    conn.execute("select set_config('lock_timeout', '0', true)")
    log.info("%s got the transform-inputs lock after %.1f s", what, time.monotonic() - started)


def hold_for_load(conn: psycopg.Connection, what: str) -> None:
    """In a load transaction: the shared lock until commit or rollback (waits while a dbt build runs)."""
    if conn.execute(f"select pg_try_advisory_xact_lock_shared({_KEY})", (TRANSFORM_INPUTS_LOCK,)).fetchone()[0]:
        return
    started = time.monotonic()
    log.warning("%s waits for the running dbt build to finish; lock held by: %s", what, _holders(conn))
    conn.execute(f"select pg_advisory_xact_lock_shared({_KEY})", (TRANSFORM_INPUTS_LOCK,))
    log.info("%s got the transform-inputs lock after %.1f s", what, time.monotonic() - started)


def hold_for_build(conn: psycopg.Connection, what: str) -> None:
    """On an autocommit connection kept open for the build: the exclusive lock until the connection closes."""
    _wait_for(conn, f"select pg_try_advisory_lock({_KEY})", f"select pg_advisory_lock({_KEY})", what)


def lock_state(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The lock's holders and waiters (tests and `sa` diagnostics)."""
    rows = conn.execute(
        "select l.pid, l.mode, l.granted from pg_locks l where l.locktype = 'advisory'"
        " and l.objid = (hashtext(%s)::bigint & 4294967295)", (TRANSFORM_INPUTS_LOCK,)).fetchall()
    return [{"pid": pid, "mode": mode, "granted": granted} for pid, mode, granted in rows]
