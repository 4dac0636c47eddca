"""Connections to the warehouse as the admin or one of the least-privilege roles."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from include.config import Settings, get_settings
from include.warehouse.connections import role_params

if TYPE_CHECKING:
    import psycopg

RoleKind = Literal["admin", "loader", "transformer", "reader", "pii_reader"]


def connect(kind: RoleKind = "loader", settings: Settings | None = None, *, autocommit: bool = False,
            database: str | None = None) -> psycopg.Connection:
    """Open a psycopg connection as `kind`; the caller owns (and closes) it.

    A role's credentials come from its Airflow Connection inside an Airflow task, else from the settings and the
    secrets store (`include.warehouse.connections.role_params`). `admin` (the bootstrap's superuser) is never
    available to a task: its URL and password are not in any Airflow process's environment.

    psycopg is imported here, not at module level: DAG files import modules that use this one (run summaries,
    callbacks), and a DAG file must parse without paying for a database driver it does not use."""
    import psycopg

    # the pid tells an operator (and the kill tests) which process a session in pg_stat_activity belongs to
    application_name = f"support-analytics:{kind}:{os.getpid()}"
    if kind == "admin":
        settings = settings or get_settings()
        return psycopg.connect(settings.admin_url(database), autocommit=autocommit,
                               application_name=application_name)
    return psycopg.connect(**role_params(kind, settings), autocommit=autocommit, application_name=application_name)
