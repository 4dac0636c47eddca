"""
### support_transform — build the dbt models (staging → marts) with Cosmos

**Schedule:** on the Asset `support_analytics.validated_batch`, which `support_extract` emits only after the Great
Expectations gate passed — a failed validation never reaches this DAG.

**What it does:** Cosmos renders the dbt project (`dbt/`, read from the manifest that `make install` / the image
build produces with `dbt parse`; refresh it with `sa dbt-manifest` after changing a model) in WATCHER mode:
- `dbt_producer_watcher` runs ONE `dbt build` (dbt's runner in the task's own process; its log is dbt's output):
  each model, then its tests — a failing test makes dbt skip everything built on that model;
- one task per model (`stg_tickets`, …, `mart_churned_customers`), started beside the build, turns green within
  about half a second after dbt built the model AND all its tests passed (a failure shows once the build is over), and
  publishes the model's Asset (`postgres://<host>:<port>/<db>/<schema>/<model>`) — so a failing test turns its
  model red, everything downstream is `upstream_failed`, and no mart is published on untested data;
- the views in `serving` (masked: what the reader role sees) and `pii` have no task of their own: the task of the
  mart a view serves also waits for the view and publishes its Asset; likewise `mart_churned_customers` (a view)
  reports the per-customer models it is built on (`int_customer_login_totals`, `int_customer_churn_activity`).
  `support_churn_export` is scheduled on `serving/churn_list_snapshots`, published by `churn_list_snapshots`;
  `serving_marts_build` (the build stamp) comes last.

**As-of date:** churn is evaluated as of the batch's logical date (from the triggering Asset event), or run conf
`{"as_of_date": "YYYY-MM-DD"}`; the history bootstrap uses the latest date in the data. It reaches dbt as the
environment variable `SA_AS_OF_DATE` (read by the macro `churn_as_of_date`). Reruns give the same marts.

**Tests on new rows:** the big tables' dbt tests check the rows loaded since the last build, and every row on the
weekly full-check day (`SA_FULL_CHECK_WEEKDAY`). To check every row now (say, after fixing rows by hand): trigger
with conf `{"as_of_date": "YYYY-MM-DD", "full_tests": true}`.

**On failure:** the producer's log has dbt's output (failed tests with their query); the alert names each failed
dbt test with its model and column. Fix the data (or the model), then either trigger a new run with conf
`{"as_of_date": "<date>"}` (one full `dbt build`), or clear the failed model tasks and their downstream tasks:
a cleared model task runs `dbt build --select <model>` itself. Clearing the producer does not rebuild (Cosmos
skips a producer retry; its model tasks then build their models one by one). Nothing here retries on its own.

**Alerts** (README "Alerts"): a failed dbt build sends one e-mail and one chat message, from the producer, naming
each failed dbt test with its model and column (e.g. `accepted_range on staging.stg_customer_products.
monthly_revenue`) and a link to the log; a model task alerts only when it ran dbt itself (after a clear). The next
successful run sends an all-clear; a run not finished `SA_LATE_AFTER_MINUTES` (if set) after it was queued sends a
late alert. The run's row of `audit.run_summary` (models built, dbt tests passed/failed, dbt's own time) is written
by the task that ran dbt, as dbt finishes, pass or fail; failed tasks and the run's state by the callbacks. There is no
summary task: it would add a task process and a scheduling step after the last model.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, PartitionedAssetTimetable

from include.dag_defaults import as_of_date_params, dag_alerting, default_args, with_ui_links
from include.pipeline import TRANSFORM_DAG, VALIDATED_BATCH_ASSET
from include.transform.cosmos_adapter import transform_dag

support_transform = transform_dag(
    dag_id=TRANSFORM_DAG,
    schedule=PartitionedAssetTimetable(assets=Asset(VALIDATED_BATCH_ASSET)),  # one run per validated batch
    start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=0),
    tags=["support-analytics", "transform", "dbt"],
    params=as_of_date_params(),
    doc_md=with_ui_links(__doc__),
    **dag_alerting(),
)

