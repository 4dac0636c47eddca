"""The local stand-in for the operational source systems: a landing zone that is current up to last night.

A real source system delivers "last night" every night. Locally the simulator plays that part (off in production:
`SA_SIMULATED_SOURCE`): `prepare_landing` gives a fresh checkout the history up to a few days ago plus the folders of
the last `DEMO_DAYS` days up to yesterday, and the local-only DAG `source_system_simulator` delivers each new day
shortly after midnight (`deliver_up_to`), before the nightly extract looks for it. The spec's 2025 questions (the
v1.2 release in September 2025, October's top root causes) stay answerable: the history always starts 2025-01-01.

Catch-up is bounded: after the machine was off, the next delivery writes the missing days, at most
`MAX_CATCH_UP_DAYS` back; the nightly extract loads last night, and the days in between are a backfill
(`sa backfill FROM TO`). Folders are deterministic (seed, scale, history start) and a day's files do not depend on
when they were written, so a re-delivery changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from include.config import Settings, get_settings
from include.contract import HISTORY
from include.ingest.manifest import is_complete
from include.simulator import generate

HISTORY_START = date(2025, 1, 1)
SEED = 42
SCALE = 1.0
DEMO_DAYS = 3
MAX_CATCH_UP_DAYS = 7


def today(settings: Settings | None = None) -> date:
    """The source system's "today": `SA_TODAY` when set (tests pin it), else the current UTC date."""
    settings = settings or get_settings()
    return settings.today or datetime.now(UTC).date()


def delivered_days(settings: Settings | None = None) -> list[date]:
    """The complete day folders (manifest written) in the landing zone, oldest first."""
    settings = settings or get_settings()
    days = []
    for folder in settings.landing_root.glob("????-??-??"):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if is_complete(folder):
            days.append(day)
    return sorted(days)


def deliver_up_to(last: date, settings: Settings | None = None) -> list[date]:
    """Write `last`'s folder and every day missing since the newest delivered one (at most MAX_CATCH_UP_DAYS back);
    returns the days written."""
    settings = settings or get_settings()
    have = delivered_days(settings)
    first = last - timedelta(days=MAX_CATCH_UP_DAYS - 1)
    if have and have[-1] < last:
        first = max(first, have[-1] + timedelta(days=1))
    elif not have:
        first = last  # a landing zone with only its history: no day before `last` is owed
    missing = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [day for day in missing if day not in set(have) and day >= HISTORY_START]
    for day in missing:  # one folder at a time: a day's files do not depend on the others
        generate(settings.landing_root, seed=SEED, scale=SCALE, history_start=HISTORY_START, start=day, end=day,
                 with_history=False)
    return missing


def prepare_landing(settings: Settings | None = None) -> list[date]:
    """A landing zone current up to yesterday; returns the last DEMO_DAYS days (the ones the demo runs)."""
    settings = settings or get_settings()
    yesterday = today(settings) - timedelta(days=1)
    first = yesterday - timedelta(days=DEMO_DAYS - 1)
    if not is_complete(settings.landing_root / HISTORY):
        generate(settings.landing_root, seed=SEED, scale=SCALE, history_start=HISTORY_START, start=first,
                 end=yesterday, progress=lambda line: print(f"  {line}", flush=True))
    else:
        deliver_up_to(yesterday, settings)
    return [first + timedelta(days=i) for i in range(DEMO_DAYS)]
