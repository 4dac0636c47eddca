"""
### support_dbt_docs — dbt's documentation in the Airflow UI (Browse → dbt Docs)

**Schedule:** on the Asset of `serving.churn_list_snapshots`, like the export, but as its own DAG: after each
successful `support_transform` (queued builds merge into one docs run). It is off the chain's critical path — the
export never waits for it, and a failure here delays nothing but the docs.

**What it does:** `dbt docs generate` as the transformer role (it reads the catalog; it builds nothing and takes no
lock) into a scratch folder, then replaces `index.html`, `manifest.json` and `catalog.json` in `SA_DBT_DOCS_DIR`
(default `.local/dbt-docs`) one file at a time. Cosmos' Airflow 3 plugin serves them at Browse → **dbt Docs**
(`AIRFLOW__COSMOS__DBT_DOCS_PROJECTS`). The project overview is `dbt/models/overview.md`.

**On failure:** the previous docs stay published. Usually the warehouse was unreachable; clear the task.
Retries once; no alert (the docs are not part of the nightly contract).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from include.dag_defaults import default_args, with_ui_links
from include.pipeline import CHURN_LISTS_MODEL, DOCS_DAG, serving_uri


@dag(
    dag_id=DOCS_DAG,
    schedule=Asset(serving_uri(CHURN_LISTS_MODEL)),
    start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1),
    tags=["support-analytics", "docs", "dbt"],
    doc_md=with_ui_links(__doc__),
)
def support_dbt_docs() -> None:
    @task
    def publish_dbt_docs() -> dict[str, object]:
        """Generate dbt docs and publish them for the UI (old docs stay until the new ones are complete)."""
        from include.transform.docs import publish_dbt_docs

        published = publish_dbt_docs()
        print(f"dbt docs for {published.nodes} relations published to {published.directory} "
              f"in {published.seconds}s")
        return {"directory": str(published.directory), "nodes": published.nodes, "seconds": published.seconds}

    publish_dbt_docs()


support_dbt_docs()
