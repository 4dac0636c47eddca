"""Publish dbt's documentation for the Airflow UI's "dbt Docs" page (support_dbt_docs, after each transform).

`dbt docs generate` writes index.html, manifest.json and catalog.json into a scratch target directory; they replace
the published ones (`Settings.dbt_docs_dir`) one file at a time with `os.replace`, so the page never reads a half-
written file. dbt's index.html carries its own scripts and styles: the page needs no internet access. Cosmos'
Airflow 3 plugin serves the directory (`AIRFLOW__COSMOS__DBT_DOCS_PROJECTS`, set by the local runtime and compose).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from include.config import Settings, get_settings

DOCS_FILES = ("manifest.json", "catalog.json", "index.html")  # index last: it reads the other two


class DbtDocsFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class PublishedDocs:
    directory: Path
    nodes: int
    seconds: float


def publish_dbt_docs(settings: Settings | None = None) -> PublishedDocs:
    """Generate dbt docs (as the transformer role; no build, no lock: it only reads the catalog) and publish them."""
    import json
    import time

    from include.transform.runner import run_dbt

    settings = settings or get_settings()
    started = time.monotonic()
    target = settings.dbt_docs_dir
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".generate-", dir=target) as scratch:
        result = run_dbt(["docs", "generate"], settings, target_path=Path(scratch) / "target",
                         log_path=Path(scratch) / "logs")
        if not result.success:
            raise DbtDocsFailed(f"dbt docs generate failed: {result.summary()}")
        for name in DOCS_FILES:
            staged = target / f".{name}.new"
            shutil.copyfile(Path(scratch) / "target" / name, staged)
            os.replace(staged, target / name)
    nodes = len(json.loads((target / "catalog.json").read_text()).get("nodes", {}))
    return PublishedDocs(target, nodes, round(time.monotonic() - started, 1))
