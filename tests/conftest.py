"""Test-wide set-up: every test run gets its own local folder, embedded warehouse port and Airflow home.

The developer's `.local/` (demo warehouse, Airflow) is never touched: tests use `.local/pytest/` with free ports,
and the environment is fixed here, before anything imports Airflow, so the DAG tests see the same configuration as
the test warehouse.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# SA_TEST_LOCAL_DIR lets two test runs (two engineers, or a helper and CI) share a checkout without sharing state.
TEST_LOCAL = Path(os.environ.get("SA_TEST_LOCAL_DIR") or ROOT / ".local" / "pytest").resolve()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


for _var in ("WAREHOUSE_URL", "WAREHOUSE_DB", "SA_ROLE_PREFIX", "AIRFLOW_HOME", "SA_LANDING_ROOT", "SA_EXPORT_ROOT",
             "SA_EMBEDDED_PGDATA", "SA_LOADER_PASSWORD", "SA_TRANSFORMER_PASSWORD", "SA_READER_PASSWORD",
             "SA_PII_READER_PASSWORD", "SA_MASKING_KEY", "SA_MCP_TOKEN", "SA_EXPORT_INCLUDE_PII",
             "SA_QUARANTINE_RETENTION_DAYS"):
    os.environ.pop(_var, None)
for _var in [v for v in os.environ if v.startswith("AIRFLOW__") or v.startswith("AIRFLOW_CONN_")]:
    os.environ.pop(_var, None)
os.environ["SA_LOCAL_DIR"] = str(TEST_LOCAL)
# Tests pin "today" (the simulated source's) and run days by trigger or backfill; the tests of the nightly schedule
# set their own cron.
os.environ["SA_TODAY"] = "2025-11-08"
os.environ["SA_NIGHTLY_SCHEDULE"] = "off"
os.environ["SA_RETRY_DELAY_S"] = "1"
os.environ["SA_EMBEDDED_PG_PORT"] = os.environ.get("SA_TEST_PG_PORT") or str(_free_port())
os.environ["SA_AIRFLOW_PORT"] = os.environ.get("SA_TEST_AIRFLOW_PORT") or str(_free_port())

from include.config import get_settings  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Fresh state per run (a previous run's server is stopped first). xdist workers share the controller's folder.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from include.warehouse import embedded

    if TEST_LOCAL.exists():
        pid_file = TEST_LOCAL / "pgdata" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                embedded.stop()
        shutil.rmtree(TEST_LOCAL, ignore_errors=True)
    TEST_LOCAL.mkdir(parents=True, exist_ok=True)
    from include.airflow_local import airflow_env

    os.environ.update(airflow_env(get_settings()))


@pytest.fixture(scope="session")
def warehouse() -> Iterator[object]:
    """The embedded warehouse, started and bootstrapped once per run; stopped at the end."""
    from include.warehouse import bootstrap, embedded

    settings = get_settings()
    embedded.start(settings)
    bootstrap.bootstrap(settings)
    yield settings
    embedded.stop(settings)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="session")
def landing(warehouse: object) -> object:
    """Clean simulator output (scale 1, seed 42, history + 2025-11-01..03) in the test landing root."""
    from include.simulator import generate

    settings = get_settings()
    return generate(settings.landing_root, start=date(2025, 11, 1), end=date(2025, 11, 3))


def incremental_relations() -> list[str]:
    """Every dbt model that keeps rows across builds (materialized incremental: the ticket mart, the period marts, the
    login activity, churn_list_snapshots), as schema.relation, from the manifest the transform DAG renders."""
    import json

    manifest = json.loads((Path(__file__).resolve().parents[1] / "dbt" / "target" / "manifest.json").read_text())
    return sorted(f"{node['schema']}.{node['alias']}" for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental")


def truncate_warehouse(settings: object) -> None:
    """Empty every source and audit table (as admin): each test starts from a known state.

    Run summaries and freshness state too: a DAG's failed run that an earlier module left behind would otherwise make
    this module's first success send an all-clear."""
    from include import contract
    from include.warehouse.connect import connect

    tables = [f"analytics.{t.name}" for t in contract.TABLES]
    tables += ["audit.load_batches", "audit.quarantine", "audit.validation_results", "audit.run_summary",
               "audit.freshness_state", "audit.build_watermarks"]
    with connect("admin", settings) as conn:  # type: ignore[arg-type]
        conn.execute(f"truncate {', '.join(tables)}")
        # An incremental model merges what was loaded since its last build: with the sources emptied its old rows
        # would stay (and mislead the next module: an earlier module's logins for today in the login totals made the
        # history batch's default as-of date today, and churn_list_snapshots' retention then purged every 2025 list).
        # Emptied too, its next build merges everything (the documented full refresh, without a rebuild).
        for relation in incremental_relations():
            if conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0]:
                conn.execute(f"truncate {relation}")


@pytest.fixture(scope="session")
def served(landing: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Marts and serving views built from the session's simulator data, in their own database (tests/served.py)."""
    from tests.served import build_served, drop_database

    settings = build_served(get_settings(), tmp_path_factory.mktemp("served"))
    yield settings
    drop_database(settings)


@pytest.fixture
def empty_warehouse(warehouse: object) -> object:
    truncate_warehouse(warehouse)
    return warehouse


@pytest.fixture(scope="session")
def migrated_metadata_template(warehouse) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty metadata database migrated once per session: each real Airflow's own database is a copy of it
    (CREATE DATABASE … TEMPLATE, well under a second) instead of an `airflow db migrate` of its own (5–20 s)."""
    import dataclasses
    import uuid

    import psycopg

    from include import airflow_local

    settings = dataclasses.replace(get_settings(), airflow_db=f"airflow_template_{uuid.uuid4().hex[:8]}")
    with pytest.MonkeyPatch.context() as patch:  # the environment's metadata DB wins over settings (airflow_env)
        patch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", airflow_local.metadata_db_url(settings))
        airflow_local.migrate(settings)
    yield settings.airflow_db
    with psycopg.connect(settings.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{settings.airflow_db}" with (force)')


def copy_metadata_template(settings: Any, template: str) -> bool:
    """Create `settings.airflow_db` as a copy of the migrated template, owned by Airflow's own role; False when the
    database exists already (left as it is)."""
    import psycopg

    with psycopg.connect(settings.admin_url("postgres"), autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (settings.airflow_db,)).fetchone():
            return False
        conn.execute(f'create database "{settings.airflow_db}" template "{template}"'
                     f' owner "{settings.airflow_db_owner}"')
    return True


@pytest.fixture(scope="session")
def airflow_db(warehouse: object, migrated_metadata_template: str) -> object:
    """Airflow's metadata database, migrated, on the test warehouse server: a copy of the template, or migrated
    in place when a test made it already (tests/e2e/test_airflow_runtime.py migrates it the way `make demo` does)."""
    from include import airflow_local

    if not copy_metadata_template(warehouse, migrated_metadata_template):
        airflow_local.migrate(warehouse)  # type: ignore[arg-type]
    return warehouse
