"""The production path: the same bootstrap against an external PostgreSQL server (this machine's PG 15).

Skipped, saying why, only when no external server is reachable at EXTERNAL_PG_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from include.config import Settings, get_settings
from include.warehouse import bootstrap
from include.warehouse.connect import connect

pytestmark = [pytest.mark.integration, pytest.mark.external]

EXTERNAL = os.environ.get("EXTERNAL_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _reachable() -> str | None:
    try:
        with psycopg.connect(EXTERNAL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


@pytest.fixture(scope="module")
def external(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Settings]:
    problem = _reachable()
    if problem:
        pytest.skip(f"no external PostgreSQL reachable at {EXTERNAL} ({problem})")
    suffix = uuid.uuid4().hex[:8]
    database = f"sa_test_{suffix}"
    base = EXTERNAL.rsplit("/", 1)[0]
    monkeypatch_module.setenv("WAREHOUSE_URL", f"{base}/{database}")
    monkeypatch_module.setenv("SA_ROLE_PREFIX", f"sa_t{suffix}")
    settings = get_settings()
    yield settings
    with psycopg.connect(EXTERNAL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}" with (force)')
        for role in settings.roles.all():
            conn.execute(f'drop role if exists "{role}"')


def test_bootstrap_on_external_server(external: Settings) -> None:
    assert not external.is_embedded
    assert bootstrap.bootstrap(external) == [f"database {external.warehouse_db}"]
    assert bootstrap.bootstrap(external) == []
    with connect("admin", external) as conn:
        version = int(conn.execute("show server_version_num").fetchone()[0])
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert version < 180000, "expected the external server, not the embedded one"
    assert {"analytics", "staging", "marts", "audit"} <= schemas


def test_external_roles_are_least_privilege(external: Settings) -> None:
    bootstrap.bootstrap(external)
    with connect("reader", external) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from analytics.support_tickets")
    with connect("transformer", external) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("truncate analytics.support_tickets")
    with connect("loader", external) as conn:
        assert conn.execute("select count(*) from analytics.support_tickets").fetchone()[0] == 0
