"""
### support_freshness — are the marts fresh? (independent of the chain)

**Schedule:** hourly. It does not depend on any other DAG running: it reads what the chain recorded in `audit`
(the last successful `support_transform` in `audit.run_summary`, the last landed batch in `audit.load_batches`).

**What it does:** if the marts were last built more than `SA_STALE_AFTER_HOURS` ago (default 26 h; off in the
local runtime, whose laptop sleeps at night, unless you set it), it sends one **STALE** alert (e-mail + chat);
when a build succeeds again, one **FRESH** alert. Nothing in between: the verdict is kept in
`audit.freshness_state`. The task itself only fails when it cannot read the warehouse.

**What a STALE alert means:** no run of the chain rebuilt the marts in time — usually a paused DAG or a stopped
scheduler, a source that stopped delivering (`wait_for_delivery` still waiting), or a failed day holding the later
days at `validate_batch`. See the README run-book. A monitor outside Airflow can run `sa freshness` (exit 1 when
stale) to catch the case where the scheduler itself is down.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from include.dag_defaults import default_args, with_ui_links
from include.pipeline import FRESHNESS_DAG


@dag(
    dag_id=FRESHNESS_DAG,
    schedule="17 * * * *",
    start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1),
    tags=["support-analytics", "monitoring"],
    doc_md=with_ui_links(__doc__),
)
def support_freshness() -> None:
    @task
    def check_marts_freshness() -> dict[str, object]:
        """Alert once when the marts go stale, once when they are fresh again."""
        from include.freshness import check_and_alert

        freshness = check_and_alert()
        print(("STALE: " if freshness.stale else "fresh: ") + freshness.describe())
        return {"stale": freshness.stale, "detail": freshness.describe()}

    check_marts_freshness()


support_freshness()
