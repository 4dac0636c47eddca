"""A real local Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor) for the e2e tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from include import airflow_local
from include.airflow_api import AirflowApi


@pytest.fixture(scope="module", autouse=True)
def _restore_process_environment() -> Iterator[None]:
    """Undo what a `dag.test()` of the transform leaves in `os.environ`.

    Cosmos' OpenLineage step copies the dbt command's whole environment into the running process
    (`cosmos/operators/local.py`, `calculate_openlineage_events_completes`), `SA_AS_OF_DATE` included: harmless in a
    task's own process, but in this test process a later in-process dbt build would take that date as its as-of."""
    import os

    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


DAG_TEST_POLL_S = 0.1


@pytest.fixture(scope="session", autouse=True)
def _dag_test_polls_every_tenth_of_a_second() -> Iterator[None]:
    """`dag.test()` sleeps a whole second in each pass of its loop that finds nothing to run — after a failure, one
    pass per level of tasks it marks upstream_failed (2–3 s of a refused extract run's ~4 s). Only its own sleeps
    are shortened (told apart by the caller's frame); tasks and everything else sleep as asked."""
    import sys
    import time

    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        caller = sys._getframe(1).f_code
        if caller.co_name == "test" and caller.co_filename.endswith("sdk/definitions/dag.py"):
            seconds = min(seconds, DAG_TEST_POLL_S)
        real_sleep(seconds)

    time.sleep = sleep
    yield
    time.sleep = real_sleep


@pytest.fixture(scope="module", autouse=True)
def _forget_dag_test_runs() -> Iterator[None]:
    """Each module's `dag.test()` runs start from a metadata database without another module's runs.

    `validate_batch` depends on the previous run's gate (by logical date), and `dag.test()` gives a run without one
    the current time: a day one module left failed on purpose would hold another module's runs forever (dag.test
    waits on unrunnable tasks instead of failing them). Modules with a real Airflow use a database of their own."""
    yield
    import psycopg

    from include.config import get_settings

    settings = get_settings()
    try:
        with psycopg.connect(settings.admin_url(settings.airflow_db), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("select to_regclass('public.dag_run')").fetchone()[0]:
                conn.execute("delete from dag_run")
    except psycopg.OperationalError:
        pass  # no metadata database in this session (no dag.test module ran)


@pytest.fixture(scope="module")
def running_airflow(migrated_metadata_template, landing, monkeypatch_module) -> Iterator[AirflowApi]:  # type: ignore[no-untyped-def]
    """Start the whole Airflow against the test warehouse, with the history landed and the chain unpaused.

    Each module gets its own metadata database, a copy of the session's freshly migrated one: runs and Asset events
    left by earlier `dag.test()` runs in the session's database would otherwise trigger the Asset-scheduled DAGs the
    moment they are unpaused.
    """
    import uuid

    import psycopg

    from include.config import get_settings
    from include.ingest.batch import load_batch
    from tests.conftest import copy_metadata_template, truncate_warehouse

    monkeypatch_module.setenv("AIRFLOW_METADATA_DB", f"airflow_{uuid.uuid4().hex[:8]}")
    settings = get_settings()
    monkeypatch_module.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", airflow_local.metadata_db_url(settings))
    assert copy_metadata_template(settings, migrated_metadata_template), settings.airflow_db  # a new name
    truncate_warehouse(settings)
    load_batch("history", settings)
    try:
        api = airflow_local.start_chain(settings, migrated=True)
        yield api
    finally:
        airflow_local.stop(settings)
        with psycopg.connect(settings.admin_url("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{settings.airflow_db}" with (force)')
