"""Connections to the warehouse as the admin or one of the least-privilege roles."""

from __future__ import annotations

from typing import Literal

import psycopg

from include.config import Settings, get_settings

RoleKind = Literal["admin", "loader", "transformer", "reader"]


def connect(kind: RoleKind = "loader", settings: Settings | None = None, *, autocommit: bool = False,
            database: str | None = None) -> psycopg.Connection:
    """Open a psycopg connection as `kind`; the caller owns (and closes) it."""
    settings = settings or get_settings()
    url = settings.admin_url(database) if kind == "admin" else settings.role_url(getattr(settings.roles, kind))
    return psycopg.connect(url, autocommit=autocommit, application_name=f"support-analytics:{kind}")
