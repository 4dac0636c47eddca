"""The nightly schedule works with nobody pressing a button: the local source system delivers the day, the scheduled
extract run lands it. The crons are set to every minute so the test does not wait for 02:00.

The same Airflow also runs a probe task (tests/e2e/probe_dags, a DAG bundle of its own) that reports what a task
process holds: no superuser password or URL, a metadata DB URL of a non-superuser, the loader role from its Airflow
connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from include.airflow_api import AirflowApi
from include.config import get_settings, local_secret
from include.pipeline import EXTRACT_DAG, SOURCE_DAG
from include.simulator import generate
from include.source_system import HISTORY_START
from include.warehouse.connect import connect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVERY_MINUTE = "* * * * *"
PROBE_DAG = "environment_probe"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
BUNDLES = [{"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
           {"name": "test-probes", "classpath": LOCAL_BUNDLE,
            "kwargs": {"path": str(Path(__file__).parent / "probe_dags")}}]


@pytest.fixture(scope="module")
def scheduled_airflow(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch,
                      landing: Any) -> Iterator[AirflowApi]:
    """A landing zone whose history ends yesterday (real date), and Airflow with both crons every minute."""
    settings = get_settings()
    root = settings.local_dir / "landing-nightly"
    today = datetime.now(UTC).date()
    generate(root, history_start=HISTORY_START, start=today, end=today)  # history = everything before today
    for path in (root / today.isoformat()).iterdir():  # ... and today is for the source system to deliver
        path.unlink()
    (root / today.isoformat()).rmdir()
    monkeypatch_module.setenv("SA_LANDING_ROOT", str(root))
    monkeypatch_module.setenv("SA_NIGHTLY_SCHEDULE", EVERY_MINUTE)
    monkeypatch_module.setenv("SA_SOURCE_SCHEDULE", EVERY_MINUTE)
    # not shorter: a sensor re-queued before the scheduler has processed its previous reschedule is failed by
    # Airflow 3.3 ("task instance state changed externally"), seen with 5 s on a busy 2-core machine
    monkeypatch_module.setenv("SA_DELIVERY_POKE_S", "20")
    monkeypatch_module.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(BUNDLES))
    api: AirflowApi = request.getfixturevalue("running_airflow")
    # the runtime is ready once the chain's DAGs are parsed; these two can come a parse later (seen in CI: a 404)
    api.wait_for_dags([SOURCE_DAG, PROBE_DAG])
    api.unpause(SOURCE_DAG)
    api.unpause(PROBE_DAG)
    yield api


def _first_scheduled(api: AirflowApi, dag_id: str, timeout_s: float = 420) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [r for r in api.runs(dag_id) if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")]
        if done:
            return done[0]
        time.sleep(3)
    raise TimeoutError(f"no scheduled {dag_id} run finished within {timeout_s:.0f}s: {api.runs(dag_id)}")


def test_a_scheduled_run_lands_the_day_the_source_system_delivered(scheduled_airflow: AirflowApi) -> None:
    api = scheduled_airflow
    assert api.dag(EXTRACT_DAG)["timetable_summary"] == EVERY_MINUTE
    delivery = _first_scheduled(api, SOURCE_DAG)
    assert delivery["state"] == "success"
    extract = _first_scheduled(api, EXTRACT_DAG)
    failed = [t["task_id"] for t in api.task_instances(EXTRACT_DAG, extract["dag_run_id"]) if t["state"] != "success"]
    assert extract["state"] == "success", failed
    assert extract["conf"] in ({}, None) and extract["triggered_by"] != "rest_api"
    day = datetime.fromisoformat(extract["logical_date"].replace("Z", "+00:00")).date().isoformat()
    settings = get_settings()
    assert (settings.landing_root / day / "_manifest.json").is_file()
    with connect("loader", settings) as conn:
        landed = conn.execute("select count(*) filter (where status = 'success'), sum(rows_loaded)"
                              " from audit.load_batches where batch_id = %s", (day,)).fetchone()
    assert landed[0] == 7 and landed[1] > 0, landed
    assert day >= (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def test_a_task_connects_as_the_loader_from_its_connection_and_holds_no_superuser_secret(
        scheduled_airflow: AirflowApi, tmp_path: Path) -> None:
    api = scheduled_airflow
    report_file = tmp_path / "task-environment.json"
    run = api.wait_for_run(PROBE_DAG, api.trigger(PROBE_DAG, conf={"report": str(report_file)}), timeout_s=300)
    assert run["state"] == "success", api.task_instances(PROBE_DAG, run["dag_run_id"])
    report = json.loads(report_file.read_text())
    environ: dict[str, str] = report["environ"]
    settings = get_settings()

    superuser_password = local_secret("postgres_password", settings)
    assert len(superuser_password) > 20
    assert not [name for name, value in environ.items() if superuser_password in value]
    assert urlsplit(environ.get("WAREHOUSE_URL", "")).password is None
    # Airflow 3 hands a task a placeholder metadata DB URL (the task SDK talks to the API server instead)
    for name in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SQL_ALCHEMY_CONN"):
        assert environ.get(name, "airflow-db-not-allowed:///") == "airflow-db-not-allowed:///", name

    # ... and the components (api-server, scheduler, dag-processor, triggerer) reach the metadata DB as its owner
    # role, which is no superuser: every session on it, seen by the server
    with connect("admin", settings) as conn:
        users = conn.execute("select distinct usename from pg_stat_activity where datname = %s",
                             (settings.airflow_db,)).fetchall()
        superuser = conn.execute("select rolsuper from pg_roles where rolname = %s", (settings.airflow_db_owner,))
        assert users == [(settings.airflow_db_owner,)] and superuser.fetchone() == (False,)

    assert report["in_airflow_task"] is True
    assert report["loader_connection_login"] == report["current_user"] == settings.roles.loader
    assert report["superuser"] is False and report["database"] == settings.warehouse_db
    assert json.loads(environ["AIRFLOW_CONN_WAREHOUSE_LOADER"])["login"] == settings.roles.loader
