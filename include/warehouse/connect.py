"""Connections to the warehouse as the admin or one of the least-privilege roles."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from include.config import Settings, get_settings

if TYPE_CHECKING:
    import psycopg

RoleKind = Literal["admin", "loader", "transformer", "reader", "pii_reader"]


def connect(kind: RoleKind = "loader", settings: Settings | None = None, *, autocommit: bool = False,
            database: str | None = None) -> psycopg.Connection:
    """Open a psycopg connection as `kind`; the caller owns (and closes) it.

    psycopg is imported here, not at module level: DAG files import modules that use this one (run summaries,
    callbacks), and a DAG file must parse without paying for a database driver it does not use."""
    import psycopg

    settings = settings or get_settings()
    url = settings.admin_url(database) if kind == "admin" else settings.role_url(getattr(settings.roles, kind))
    # the pid tells an operator (and the kill tests) which process a session in pg_stat_activity belongs to
    return psycopg.connect(url, autocommit=autocommit, application_name=f"support-analytics:{kind}:{os.getpid()}")
