"""The local Airflow runtime: metadata DB on the warehouse server, all components up, the generated admin login."""

from __future__ import annotations

import json
import urllib.request

import psycopg
import pytest

from include import airflow_local
from include.config import Settings

pytestmark = [pytest.mark.e2e]


def test_metadata_database_migrates_into_its_own_database(warehouse: Settings) -> None:
    airflow_local.migrate(warehouse)
    with psycopg.connect(warehouse.admin_url(warehouse.airflow_db)) as conn:
        version = conn.execute("select version_num from alembic_version").fetchone()
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()[0]
    assert version is not None
    assert tables > 30
    with psycopg.connect(warehouse.admin_url()) as conn:
        assert conn.execute("select to_regclass('public.dag_run')").fetchone()[0] is None


def test_start_login_refuse_second_copy_and_stop(warehouse: Settings) -> None:
    airflow_local.start(warehouse)
    try:
        health = airflow_local.wait_healthy(warehouse, 60)
        assert health["metadatabase"]["status"] == "healthy"
        request = urllib.request.Request(
            airflow_local.base_url(warehouse) + "/auth/token",
            data=json.dumps({"username": "admin", "password": airflow_local.admin_password(warehouse)}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert json.load(response)["access_token"]
        with pytest.raises(airflow_local.AirflowAlreadyRunning, match="already running"):
            airflow_local.start(warehouse)
    finally:
        stopped = airflow_local.stop(warehouse)
    assert set(stopped) == set(airflow_local.COMPONENTS)
    assert not any(state.running for state in airflow_local.component_states(warehouse))
