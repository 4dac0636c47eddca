"""Staleness is an alert: when nothing rebuilds the marts for too long, one STALE alert; once rebuilt, one FRESH.

Real PostgreSQL (the audit tables the chain writes), a real webhook receiver on loopback, and `sa freshness` as an
outside monitor would run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from include.config import Settings, get_settings
from include.freshness import check, check_and_alert
from include.pipeline import TRANSFORM_DAG
from include.warehouse.connect import connect
from tests.receivers import Receivers

pytestmark = pytest.mark.integration


@pytest.fixture
def alerting(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receivers]:
    receivers = Receivers()
    receivers.start()
    monkeypatch.setenv("SA_ALERT_WEBHOOK_URL", receivers.env()["SA_ALERT_WEBHOOK_URL"])
    monkeypatch.setenv("SA_STALE_AFTER_HOURS", "26")
    with connect("admin", warehouse) as conn:
        conn.execute("truncate audit.run_summary, audit.freshness_state")
    yield receivers
    receivers.stop()
    with connect("admin", warehouse) as conn:
        conn.execute("truncate audit.run_summary, audit.freshness_state")


def _transform_succeeded(hours_ago: float, run_id: str) -> None:
    with connect("admin", get_settings()) as conn:
        conn.execute("insert into audit.run_summary (dag_id, run_id, run_date, state, finished_at)"
                     " values (%s, %s, '2025-11-01', 'success', %s)",
                     (TRANSFORM_DAG, run_id, datetime.now(UTC) - timedelta(hours=hours_ago)))


def _sa_freshness() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "include.cli", "freshness"], capture_output=True, text=True,
                          check=False, timeout=60)


def test_stale_marts_alert_once_and_fresh_marts_once(alerting: Receivers) -> None:
    _transform_succeeded(30, "old")
    assert check().stale and check().age_hours == pytest.approx(30, abs=0.1)
    check_and_alert()
    check_and_alert()  # still stale: no second alert
    alerting.wait(mails=0, posts=1)
    assert [p["json"]["blocks"][0]["text"]["text"] for p in alerting.posts] == [
        "[support-analytics] STALE marts: no successful build for too long"]
    assert "30.0 h ago" in alerting.posts[0]["json"]["text"] and "limit 26 h" in alerting.posts[0]["json"]["text"]
    outside = _sa_freshness()
    assert outside.returncode == 1 and outside.stdout.startswith("STALE: marts last built")

    _transform_succeeded(0.5, "new")
    check_and_alert()
    check_and_alert()
    alerting.wait(mails=0, posts=2)
    assert len(alerting.posts) == 2 and "FRESH again" in alerting.posts[1]["json"]["text"] + \
        alerting.posts[1]["json"]["blocks"][0]["text"]["text"]
    assert _sa_freshness().returncode == 0


def test_never_built_is_stale_and_off_means_never_stale(alerting: Receivers, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check().stale and "never built" in check().describe()
    monkeypatch.setenv("SA_STALE_AFTER_HOURS", "off")
    assert not check().stale and _sa_freshness().returncode == 0
