"""`make demo`: the main job on the embedded default, end to end, idempotently.

1. start and bootstrap the embedded warehouse (or use WAREHOUSE_URL);
2. generate the source systems' extracts into the landing zone (deterministic; skipped when already there);
3. land the history folder (bootstrap, no DAG run per historical day);
4. start the local Airflow (or reuse the one already running);
5. run the nightly chain for the demo days through real DAG runs and wait for it;
6. print where everything is.
"""

from __future__ import annotations

import sys
import warnings
from datetime import date, timedelta

from include.config import Settings, get_settings

DEMO_START = date(2025, 11, 1)
DEMO_DAYS = 3


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def ensure_landing(settings: Settings, start: date, end: date) -> None:
    from include.ingest.manifest import is_complete
    from include.simulator import generate

    wanted = ["history"] + [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    if all(is_complete(settings.landing_root / name) for name in wanted):
        print(f"landing zone already has {', '.join(wanted)} in {settings.landing_root}")
        return
    report = generate(settings.landing_root, start=start, end=end)
    print(f"generated {report}")


def main() -> int:
    warnings.filterwarnings("ignore")
    from include import airflow_local
    from include.ingest.batch import load_batch
    from include.warehouse import bootstrap, embedded

    settings = get_settings()
    end = DEMO_START + timedelta(days=DEMO_DAYS - 1)

    _step("warehouse")
    if settings.is_embedded:
        print(embedded.start(settings).describe())
    bootstrap.bootstrap(settings)

    _step(f"source systems → landing zone ({settings.landing_root})")
    ensure_landing(settings, DEMO_START, end)

    _step("bootstrap: land the history folder")
    for result in load_batch("history", settings):
        print(f"  analytics.{result.table:18} {result.rows_loaded:>8} rows ({result.seconds:.1f}s)")

    _step("Airflow")
    if all(s.running for s in airflow_local.component_states(settings)):
        print(f"already running at {airflow_local.base_url(settings)}")
        airflow_local.wait_healthy(settings)
    else:
        airflow_local.start(settings)
    print(f"Airflow UI: {airflow_local.base_url(settings)}  (login {airflow_local.ADMIN_USER} / "
          f"{airflow_local.ADMIN_PASSWORD})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
