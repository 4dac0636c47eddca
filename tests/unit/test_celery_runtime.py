"""The local runtime's CeleryExecutor topology (started for real by tests/e2e/test_celery_chain.py)."""

from __future__ import annotations

import dataclasses

import pytest

from include import airflow_local
from include.config import get_settings


def test_the_pinned_celery_provider_imports_with_the_pinned_celery() -> None:
    """A Celery worker imports this at start-up (celery 5.7 broke it for provider 3.26: every worker died)."""
    from airflow.providers.celery.executors import celery_executor_utils

    assert celery_executor_utils.execute_workload.name == "execute_workload"


def test_celery_runs_each_worker_as_its_own_node_with_its_own_pid_file_and_one_log_server() -> None:
    settings = dataclasses.replace(get_settings(), celery_workers=3, celery_worker_concurrency=2)
    found = airflow_local.components(settings, {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"})
    workers = {name: args for name, (args, _) in found.items() if name.startswith(airflow_local.CELERY_WORKER)}
    assert set(found) - set(workers) == set(airflow_local.COMPONENTS)
    assert list(workers) == ["celery-worker-1", "celery-worker-2", "celery-worker-3"]
    nodes = {args[args.index("--celery-hostname") + 1] for args in workers.values()}
    pid_files = {args[args.index("--pid") + 1] for args in workers.values()}
    assert len(nodes) == len(pid_files) == 3
    assert all(args[args.index("--concurrency") + 1] == "2" for args in workers.values())
    assert ["--skip-serve-logs" in args for args in workers.values()] == [False, True, True]


def test_local_executor_runs_no_worker_and_an_unknown_executor_is_refused() -> None:
    settings = get_settings()
    assert set(airflow_local.components(settings, {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})) == \
        set(airflow_local.COMPONENTS)
    with pytest.raises(ValueError, match="AIRFLOW__CORE__EXECUTOR='KubernetesExecutor'"):
        airflow_local.components(settings, {"AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor"})


def test_celery_environment_names_the_broker_and_keeps_results_in_the_metadata_db() -> None:
    env = airflow_local.airflow_env(get_settings(), base={"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"})
    assert env["AIRFLOW__CELERY__BROKER_URL"] == airflow_local.DEFAULT_BROKER_URL
    assert "AIRFLOW__CELERY__RESULT_BACKEND" not in env  # Airflow's default: db+ the metadata DB's URL
    assert "AIRFLOW__CELERY__BROKER_URL" not in airflow_local.airflow_env(get_settings(), base={})
