"""The local runtime's CeleryExecutor topology (started for real by tests/e2e/test_celery_chain.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from include import airflow_local
from include.config import get_settings


def test_the_pinned_celery_provider_imports_with_the_pinned_celery() -> None:
    """A Celery worker imports this at start-up (celery 5.7 broke it for provider 3.26: every worker died)."""
    from airflow.providers.celery.executors import celery_executor_utils

    assert celery_executor_utils.execute_workload.name == "execute_workload"


def test_celery_runs_each_worker_as_its_own_node_and_one_log_server_for_all() -> None:
    settings = dataclasses.replace(get_settings(), celery_workers=3, celery_worker_concurrency=2)
    found = airflow_local.components(settings, {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"})
    workers = {name: args for name, args in found.items() if name.startswith(airflow_local.CELERY_WORKER)}
    assert set(found) - set(workers) == set(airflow_local.COMPONENTS)
    assert list(workers) == ["celery-worker-1", "celery-worker-2", "celery-worker-3"]
    assert len({args[args.index("--celery-hostname") + 1] for args in workers.values()}) == 3
    assert all(args[args.index("--concurrency") + 1] == "2" for args in workers.values())
    assert ["--skip-serve-logs" in args for args in workers.values()] == [False, True, True]


@pytest.mark.parametrize(("configured", "celery"), [
    ("", False), ("LocalExecutor", False), ("CeleryExecutor", True), ("LocalExecutor,CeleryExecutor", True),
    ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", True), ("KubernetesExecutor", False),
])
def test_workers_start_whenever_airflow_is_configured_with_the_celery_executor(configured: str, celery: bool) -> None:
    found = airflow_local.components(get_settings(), {"AIRFLOW__CORE__EXECUTOR": configured})
    assert any(name.startswith(airflow_local.CELERY_WORKER) for name in found) is celery


def test_celery_environment_names_the_broker_and_keeps_results_in_the_metadata_db() -> None:
    env = airflow_local.airflow_env(get_settings(), base={"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"})
    assert env["AIRFLOW__CELERY__BROKER_URL"] == airflow_local.DEFAULT_BROKER_URL
    assert "AIRFLOW__CELERY__RESULT_BACKEND" not in env  # Airflow's default: db+ the metadata DB's URL
    assert "AIRFLOW__CELERY__BROKER_URL" not in airflow_local.airflow_env(get_settings(), base={})


def test_another_auth_manager_and_given_keys_leave_no_local_login_or_generated_key_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose's airflow-init (FAB, every secret from .env) must not write the simple auth manager's password file
    or generate keys nobody uses into a secrets store."""
    given = {"AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
             "AIRFLOW__CORE__FERNET_KEY": "given", "AIRFLOW__API_AUTH__JWT_SECRET": "given",
             "SA_AIRFLOW_DB_PASSWORD": "x", "SA_LOADER_PASSWORD": "x", "SA_TRANSFORMER_PASSWORD": "x",
             "SA_READER_PASSWORD": "x", "SA_PII_READER_PASSWORD": "x", "WAREHOUSE_URL": "postgresql://db:5432/w",
             "SA_LOCAL_DIR": str(tmp_path / "local"), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    for name in ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
        monkeypatch.delenv(name, raising=False)  # the test session's own local runtime set them
    env = airflow_local.airflow_env(get_settings())
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" not in env
    assert not (tmp_path / "airflow" / "simple_auth_manager_passwords.json").exists()
    assert (env["AIRFLOW__CORE__FERNET_KEY"], env["AIRFLOW__API_AUTH__JWT_SECRET"]) == ("given", "given")
    assert not (tmp_path / "local" / "secrets.json").exists()
