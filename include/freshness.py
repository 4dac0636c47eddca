"""Are the marts fresh? The check that does not depend on the chain running.

Every failure of the chain alerts by itself; what does not alert is nothing happening at all — a paused DAG, a
source that stopped delivering, a gate holding days back. This check looks at the outcome instead: when did a
transform last build the marts successfully (`audit.run_summary`), and what did the extract last land
(`audit.load_batches`)? Marts older than `SA_STALE_AFTER_HOURS` (default 26 h: a nightly job plus slack) are stale.

It alerts on a change only — once when the marts go stale, once when they are fresh again — keeping its last verdict
in `audit.freshness_state`. The hourly DAG `support_freshness` runs it inside Airflow; `sa freshness` runs it from
outside (exit code 1 when stale), for a monitor that must notice when the scheduler itself is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from include.config import Settings, get_settings
from include.notify.channels import deliver
from include.notify.messages import freshness_alert
from include.pipeline import TRANSFORM_DAG
from include.warehouse.connect import connect

CHECK = "marts"


@dataclass(frozen=True)
class Freshness:
    checked_at: datetime
    marts_built_at: datetime | None
    marts_as_of: str | None
    last_landed_batch: str | None
    last_landed_at: datetime | None
    limit_hours: float | None

    @property
    def age_hours(self) -> float | None:
        if self.marts_built_at is None:
            return None
        return (self.checked_at - self.marts_built_at).total_seconds() / 3600

    @property
    def stale(self) -> bool:
        if self.limit_hours is None:
            return False
        return self.age_hours is None or self.age_hours > self.limit_hours

    def describe(self) -> str:
        built = (f"marts last built {self.marts_built_at:%Y-%m-%d %H:%M} UTC ({self.age_hours:.1f} h ago, as of "
                 f"{self.marts_as_of})" if self.marts_built_at else "marts never built by support_transform")
        landed = (f"last landed batch {self.last_landed_batch} at {self.last_landed_at:%Y-%m-%d %H:%M} UTC"
                  if self.last_landed_at else "nothing landed yet")
        limit = f"limit {self.limit_hours:g} h (SA_STALE_AFTER_HOURS)" if self.limit_hours else "no limit set"
        return f"{built}; {landed}; {limit}"


def check(settings: Settings | None = None, now: datetime | None = None) -> Freshness:
    """The marts' age and the extract's last landing, as recorded in `audit`."""
    settings = settings or get_settings()
    with connect("loader", settings) as conn:
        built = conn.execute(
            "select finished_at, run_date from audit.run_summary where dag_id = %s and state = 'success'"
            " order by finished_at desc nulls last limit 1", (TRANSFORM_DAG,)).fetchone()
        landed = conn.execute(
            "select batch_id, finished_at from audit.load_batches where status = 'success'"
            " order by finished_at desc nulls last limit 1").fetchone()
    return Freshness(checked_at=now or datetime.now(UTC), marts_built_at=built[0] if built else None,
                     marts_as_of=built[1] if built else None, last_landed_batch=landed[0] if landed else None,
                     last_landed_at=landed[1] if landed else None, limit_hours=settings.stale_after_hours)


def record(freshness: Freshness, settings: Settings | None = None) -> bool:
    """Store the verdict; True when it differs from the previous one (or is the first stale one): alert then."""
    settings = settings or get_settings()
    with connect("loader", settings) as conn:
        previous = conn.execute("select stale from audit.freshness_state where check_name = %s",
                                (CHECK,)).fetchone()
        changed = (previous[0] != freshness.stale) if previous else freshness.stale
        conn.execute(
            "insert into audit.freshness_state as s (check_name, stale, since, detail, checked_at)"
            " values (%s, %s, %s, %s, %s) on conflict (check_name) do update set stale = excluded.stale,"
            " since = case when s.stale = excluded.stale then s.since else excluded.since end,"
            " detail = excluded.detail, checked_at = excluded.checked_at",
            (CHECK, freshness.stale, freshness.checked_at, freshness.describe(), freshness.checked_at))
    return changed


def check_and_alert(settings: Settings | None = None) -> Freshness:
    """Check, record, and send the STALE / FRESH alert when the verdict changed."""
    settings = settings or get_settings()
    freshness = check(settings)
    if record(freshness, settings):
        deliver(freshness_alert(freshness.stale, freshness.describe(), freshness.last_landed_batch), settings)
    return freshness
