"""Airflow UI plugin: "GX Data Docs" (Browse menu, embedded in the UI) — the Great Expectations data docs site.

The api-server serves the local site (`include.quality.data_docs.site_dir`: what every `validate_batch` rebuilds)
at /gx-data-docs/ to logged-in users (`include.ui_auth`). Its pages use vendored CSS/JS (`sa gx-assets`,
`localize_site`): they render without internet access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from include.ui_auth import base_path, logged_in

URL_PREFIX = "/gx-data-docs"


def _site() -> Path:
    from include.config import get_settings
    from include.quality.data_docs import site_dir

    return site_dir(get_settings()).resolve()


def create_app() -> FastAPI:
    app = FastAPI(title="GX Data Docs")

    @app.get("/{path:path}", dependencies=[Depends(logged_in)], response_model=None)
    def site_file(path: str) -> FileResponse | HTMLResponse:
        site = _site()
        target = (site / (path or "index.html")).resolve()
        if not target.is_relative_to(site):
            raise HTTPException(status_code=404)
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            if target == site / "index.html":
                return HTMLResponse("<p>No data docs yet: they are built by the first validate_batch run.</p>",
                                    status_code=404)
            raise HTTPException(status_code=404)
        return FileResponse(target, headers={"Cache-Control": "no-cache"})

    return app


class GxDataDocsPlugin(AirflowPlugin):
    name = "gx_data_docs"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "GX Data Docs"}]
    external_views: ClassVar[list[dict[str, Any]]] = [{
        "name": "GX Data Docs",
        "href": f"{base_path()}{URL_PREFIX}/index.html",
        "url_route": "gx-data-docs",  # embedded in the UI at /plugin/gx-data-docs
        "category": "Browse",
        "destination": "nav",
    }]
