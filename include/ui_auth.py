"""The Airflow UI's login for the project's own UI pages (plugins in include/airflow_plugins).

FastAPI apps of Airflow plugins are not protected by Airflow's auth on their own: each route depends on
`logged_in`, which accepts the UI's JWT cookie (what the browser sends inside the UI) or a bearer token, and answers
401/403 otherwise. Airflow's security module is imported on the first request, not when every Airflow process
(scheduler, dag-processor, each task) loads the plugins.
"""

from __future__ import annotations

from fastapi import Request


async def logged_in(request: Request) -> None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    bearer = request.headers.get("authorization", "")
    token = bearer[7:] if bearer.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    await resolve_user_from_token(token)


def base_path() -> str:
    """The path prefix of the UI (AIRFLOW__API__BASE_URL's path; '' at the root)."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="")).path.rstrip("/")
