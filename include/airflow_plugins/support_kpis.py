"""Airflow UI plugin: the "Support KPIs" page (Browse menu, embedded in the UI), served by the api-server.

A FastAPI app mounted at /support-kpis renders `include.kpi.page` for a logged-in user (`include.ui_auth`: the UI's
own login; no page without it). The page reads the marts as the reader role through the masked serving views. Imports of
the KPI code and the database driver happen per request, not at plugin load: the scheduler, the dag-processor and
every task process load plugins too, and this must not slow them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from include.ui_auth import base_path, logged_in

log = logging.getLogger(__name__)

URL_PREFIX = "/support-kpis"


def _page() -> str:
    import psycopg

    from include.config import get_settings
    from include.kpi import page, queries

    try:
        return page.render(page.gather(get_settings()))
    except queries.MartsNotBuilt as exc:
        return page.render_unavailable(f"{exc}; run the transform (support_transform) first.")
    except psycopg.errors.UndefinedTable:
        return page.render_unavailable("The marts are being rebuilt right now; reload in a minute.")
    except psycopg.OperationalError as exc:
        log.warning("Support KPIs: the warehouse did not answer: %s", exc)
        return page.render_unavailable("The warehouse does not answer right now (see the api-server log).")


def create_app() -> FastAPI:
    app = FastAPI(title="Support KPIs")

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(logged_in)])
    async def kpi_page() -> HTMLResponse:
        return HTMLResponse(await asyncio.to_thread(_page), headers={"Cache-Control": "no-store"})

    return app


class SupportKpisPlugin(AirflowPlugin):
    name = "support_kpis"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Support KPIs"}]
    external_views: ClassVar[list[dict[str, Any]]] = [{
        "name": "Support KPIs",
        "href": f"{base_path()}{URL_PREFIX}/",
        "url_route": "support-kpis",  # embedded in the UI at /plugin/support-kpis
        "category": "Browse",
        "destination": "nav",
    }]
