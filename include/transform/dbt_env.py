"""The environment dbt's `profiles.yml` reads (`env_var()`), built from the one settings module.

Every caller — the CLI, tests, benchmarks and the dbt docs task — gets the same profile values, so host/port/dbname
match the Asset URIs computed in `include.pipeline`. The transform DAG does not use these: Cosmos writes its profile
from the Airflow Connection `warehouse_transformer` (include/transform/cosmos_adapter.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from include.config import Settings, get_settings


def dbt_project_env(settings: Settings | None = None) -> dict[str, str]:
    """What every dbt invocation needs besides credentials: the role names `dbt_project.yml` grants the `serving`
    and `pii` views to (re-applied on every build), the project and profiles folders, no usage stats, the weekly
    full-check day."""
    settings = settings or get_settings()
    return {
        "SA_DBT_READER_ROLE": settings.roles.reader,
        "SA_DBT_PII_READER_ROLE": settings.roles.pii_reader,
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        "DBT_PROJECT_DIR": str(settings.dbt_project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "SA_FULL_CHECK_WEEKDAY": str(settings.full_check_weekday),  # dbt var full_test_weekday (dbt_project.yml)
    }


def dbt_env(settings: Settings | None = None, role: str = "transformer") -> dict[str, str]:
    """`SA_DBT_*` variables for `dbt/profiles.yml`, connecting as role kind `role` (the transformer by default):
    inside an Airflow task from its Connection, else from the settings and the secrets store — plus
    `dbt_project_env`."""
    from include.warehouse.connections import role_params

    settings = settings or get_settings()
    params = role_params(role, settings)
    return {
        "SA_DBT_HOST": str(params["host"]),
        "SA_DBT_PORT": str(params["port"]),
        "SA_DBT_DBNAME": str(params["dbname"]),
        "SA_DBT_USER": str(params["user"]),
        "SA_DBT_PASSWORD": str(params["password"]),
        **dbt_project_env(settings),
    }


def apply_dbt_env(settings: Settings | None = None) -> None:
    """Set the profile variables in this process (for in-process `dbtRunner`: `include.transform.runner`, tests)."""
    os.environ.update(dbt_env(settings))


def dbt_executable(name: str = "dbt") -> str:
    """`name` beside this Python (the project's venv, the image's interpreter), else `name` on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def locked_dbt_executable() -> str:
    """`sa-dbt`: dbt holding the transform-inputs lock while it runs (`include.transform.locked_dbt`)."""
    return dbt_executable("sa-dbt")
