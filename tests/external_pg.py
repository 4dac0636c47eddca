"""A fresh database and role prefix on the external PostgreSQL (the production path), dropped afterwards.

Skips, saying why, only when no server is reachable at EXTERNAL_PG_URL (default: this machine's PostgreSQL 15) —
and fails instead under CI (`CI=true`), whose `.ci/run` starts the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from include.config import Settings, get_settings

EXTERNAL = os.environ.get("EXTERNAL_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _unreachable() -> str | None:
    try:
        with psycopg.connect(EXTERNAL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def unavailable(reason: str) -> None:
    """Skip the test for a missing local service, or fail it under CI, where `.ci/run` starts the service."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def external_warehouse(monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[Settings]:
    """Point the settings at a new database `<prefix>_<random>` with roles `<prefix>_<random>_*`."""
    problem = _unreachable()
    if problem:
        unavailable(f"no external PostgreSQL reachable at {EXTERNAL} ({problem})")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("WAREHOUSE_URL", f"{EXTERNAL.rsplit('/', 1)[0]}/{name}")
    monkeypatch.setenv("SA_ROLE_PREFIX", name)
    monkeypatch.delenv("WAREHOUSE_DB", raising=False)
    settings = get_settings()
    try:
        yield settings
    finally:
        with psycopg.connect(EXTERNAL, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            for role in settings.roles.all():
                conn.execute(f'drop role if exists "{role}"')
