"""A DAG for the tests only (its own DAG bundle, never in `dags/`): one task that reports what a task process has —
its environment and the warehouse connection `connect("loader")` opens — into a file named by the run conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2025, 11, 1, tz="UTC"), catchup=False, tags=["test-probe"])
def environment_probe() -> None:
    @task
    def report_environment(**context: object) -> None:
        import json
        import os

        from include.warehouse.connect import connect
        from include.warehouse.connections import in_airflow_task, role_params

        with connect("loader") as conn:
            user, database, superuser = conn.execute(
                "select current_user, current_database(), rolsuper from pg_roles where rolname = current_user"
            ).fetchone()
        report = {"environ": dict(os.environ), "in_airflow_task": in_airflow_task(),
                  "loader_connection_login": role_params("loader")["user"],
                  "current_user": user, "database": database, "superuser": superuser}
        path = context["dag_run"].conf["report"]  # type: ignore[attr-defined]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the task's secrets
        with os.fdopen(fd, "w") as out:
            json.dump(report, out)

    report_environment()


environment_probe()
