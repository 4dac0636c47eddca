"""The environment dbt's `profiles.yml` reads (`env_var()`), built from the one settings module.

Every caller — the Cosmos DAG, the CLI, tests and benchmarks — gets the same profile values, so host/port/dbname
match the Asset URIs computed in `include.pipeline`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from include.config import Settings, get_settings, role_password


def dbt_env(settings: Settings | None = None, role: str = "transformer") -> dict[str, str]:
    """`SA_DBT_*` variables for `dbt/profiles.yml` (connecting as the transformer role by default), plus the role
    names `dbt_project.yml` grants the `serving` and `pii` views to (re-applied on every build)."""
    settings = settings or get_settings()
    parts = settings.connection_parts()
    user = getattr(settings.roles, role)
    return {
        "SA_DBT_HOST": str(parts["host"]),
        "SA_DBT_PORT": str(parts["port"]),
        "SA_DBT_DBNAME": str(parts["dbname"]),
        "SA_DBT_USER": user,
        "SA_DBT_PASSWORD": role_password(user, settings),
        "SA_DBT_READER_ROLE": settings.roles.reader,
        "SA_DBT_PII_READER_ROLE": settings.roles.pii_reader,
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        "DBT_PROJECT_DIR": str(settings.dbt_project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
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
