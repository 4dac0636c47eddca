"""A pool of read-only connections as the reader role, each query under a statement timeout.

For long-running readers that answer many small queries (the MCP server): a connection per request would cost a
TLS-less handshake and authentication each time (~5 ms here) and let a burst of clients exhaust the server's
connections. Every pooled session is read-only, REPEATABLE READ (one answer = one snapshot, even across several
queries) and has `statement_timeout` set, so no query can hold the warehouse for long.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from include.config import Settings

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool


def reader_pool(settings: Settings, *, size: int, statement_timeout_ms: int, name: str) -> ConnectionPool:
    """An unopened pool of up to `size` reader connections (open it with `pool.open()` or as a context manager)."""
    import psycopg
    from psycopg_pool import ConnectionPool

    def configure(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute("select set_config('statement_timeout', %s, false), "
                     "set_config('idle_in_transaction_session_timeout', %s, false), "
                     "set_config('default_transaction_read_only', 'on', false)",
                     (f"{statement_timeout_ms}ms", f"{max(statement_timeout_ms * 5, 10_000)}ms"))
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True

    return ConnectionPool(settings.role_url(settings.roles.reader), min_size=1, max_size=size, open=False,
                          configure=configure, check=ConnectionPool.check_connection, name=name, timeout=10,
                          kwargs={"application_name": f"support-analytics:{name}"})
