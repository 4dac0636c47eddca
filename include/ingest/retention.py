"""How long `audit.quarantine` keeps a row: its `raw_line` is the source record as delivered, PII included, so it is
purged `SA_QUARANTINE_RETENTION_DAYS` (default 30) after it was quarantined.

Where and when: every load of a table (`include.ingest.batch`, in the load's own transaction, as the loader) first
deletes that table's quarantined rows older than the retention — so each nightly `support_extract` run, each day of
a backfill and each `sa load` purges what has expired, table by table (no load waits on another table's rows). The
clock is the wall clock on purpose: retention is about how long personal data is held, not about logical dates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

PURGE = ("delete from audit.quarantine where table_name = %s"
         " and quarantined_at < now() - make_interval(days => %s)")


def purge_expired_quarantine(conn: psycopg.Connection, table: str, retention_days: int) -> int:
    """Delete `table`'s quarantined rows older than `retention_days`; returns how many went."""
    if retention_days < 1:
        raise ValueError(f"quarantine retention must be at least 1 day, got {retention_days}")
    return conn.execute(PURGE, (table, retention_days)).rowcount
