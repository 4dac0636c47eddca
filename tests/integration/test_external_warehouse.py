"""The production path: the same bootstrap against an external PostgreSQL server (this machine's PG 15).

Skipped, saying why, only when no external server is reachable at EXTERNAL_PG_URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from include.config import Settings
from include.warehouse import bootstrap
from include.warehouse.connect import connect
from tests.external_pg import external_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.external]


@pytest.fixture(scope="module")
def external(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Settings]:
    with external_warehouse(monkeypatch_module, "sa_t") as settings:
        yield settings


def test_bootstrap_on_external_server(external: Settings) -> None:
    assert not external.is_embedded
    assert bootstrap.bootstrap(external) == [f"database {external.warehouse_db}", "masking key in private.masking_key"]
    assert bootstrap.bootstrap(external) == []
    with connect("admin", external) as conn:
        version = int(conn.execute("show server_version_num").fetchone()[0])
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert version < 180000, "expected the external server, not the embedded one"
    assert {"analytics", "staging", "marts", "audit", "serving", "pii", "private"} <= schemas


def test_external_roles_are_least_privilege(external: Settings) -> None:
    bootstrap.bootstrap(external)
    for statement in ("select * from analytics.support_tickets", "select * from audit.quarantine",
                      "select * from private.masking_key"):
        with connect("reader", external) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with connect("reader", external) as conn:
        assert conn.execute("select count(*) from serving.pipeline_status").fetchone()[0] == 0
    with connect("transformer", external) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("truncate analytics.support_tickets")
    with connect("loader", external) as conn:
        assert conn.execute("select count(*) from analytics.support_tickets").fetchone()[0] == 0


def test_airflow_on_the_external_server_never_gets_the_superuser(external: Settings) -> None:
    """Airflow's metadata DB on the external server is owned by its own role, and the environment of every Airflow
    process has WAREHOUSE_URL without credentials: what a task reads as settings reaches the server, not the
    superuser."""
    import dataclasses
    import os
    from urllib.parse import urlsplit

    from include import airflow_local

    settings = dataclasses.replace(external, airflow_db=f"{external.warehouse_db}_airflow")
    try:
        assert f"database {settings.airflow_db} owned by {settings.airflow_db_owner}" in \
            bootstrap.ensure_metadata_database(settings)
        with psycopg.connect(settings.metadata_db_url().replace("+psycopg2", "", 1)) as conn:
            user, superuser = conn.execute("select current_user, rolsuper from pg_roles"
                                           " where rolname = current_user").fetchone()
        assert (user, superuser) == (settings.airflow_db_owner, False)
        env = airflow_local.airflow_env(settings, base={"WAREHOUSE_URL": os.environ["WAREHOUSE_URL"]})
        assert urlsplit(env["WAREHOUSE_URL"]).username is None
        assert urlsplit(env["WAREHOUSE_URL"]).path == f"/{external.warehouse_db}"
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).username == settings.airflow_db_owner
    finally:
        with connect("admin", settings, autocommit=True, database="postgres") as conn:
            conn.execute(f'drop database if exists "{settings.airflow_db}" with (force)')
            conn.execute(f'drop role if exists "{settings.airflow_db_owner}"')
