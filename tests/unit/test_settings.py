"""Settings say what is wrong: a bad value fails at start, naming the variable and what it accepts."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from include.config import SettingsError, get_settings


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SA_MAX_QUARANTINED_KEY_ROWS", "ten", "SA_MAX_QUARANTINED_KEY_ROWS='ten': expected a whole number ≥ 0"),
    ("SA_MAX_QUARANTINED_PARSE_ROWS", "-1", "SA_MAX_QUARANTINED_PARSE_ROWS='-1': expected a whole number ≥ 0"),
    ("SA_MAX_QUARANTINED_RULE_ROWS", "all", "SA_MAX_QUARANTINED_RULE_ROWS='all': expected a whole number ≥ 0"),
    ("SA_FUTURE_TOLERANCE_HOURS", "1.5", "SA_FUTURE_TOLERANCE_HOURS='1.5': expected a whole number ≥ 0"),
    ("SA_EXPORT_INCLUDE_PII", "ture", "SA_EXPORT_INCLUDE_PII='ture': expected one of 1, true, yes, on, 0, false"),
    ("SA_NIGHTLY_SCHEDULE", "0 2 * *", "SA_NIGHTLY_SCHEDULE='0 2 * *': expected a cron expression of five fields"),
    ("SA_NIGHTLY_SCHEDULE", "0 25 * * *", "SA_NIGHTLY_SCHEDULE='0 25 * * *': expected a cron expression"),
    ("SA_STALE_AFTER_HOURS", "soon", "SA_STALE_AFTER_HOURS='soon': expected a positive number, or off"),
    ("SA_LATE_AFTER_MINUTES", "0", "SA_LATE_AFTER_MINUTES='0': expected a positive number, or off"),
    ("SA_TODAY", "2025-13-01", "SA_TODAY='2025-13-01': expected a date YYYY-MM-DD"),
    ("SA_AIRFLOW_PORT", "0", "SA_AIRFLOW_PORT='0': expected a whole number ≥ 1"),
])
def test_a_bad_value_names_the_variable_and_what_it_accepts(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                            message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value).startswith(message)


def test_good_values_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SA_MAX_QUARANTINED_KEY_ROWS": " 12 ", "SA_EXPORT_INCLUDE_PII": "Yes",
                        "SA_NIGHTLY_SCHEDULE": "off", "SA_STALE_AFTER_HOURS": "off", "SA_LATE_AFTER_MINUTES": "90",
                        "SA_TODAY": "2025-11-08", "SA_SOURCE_SCHEDULE": "*/5 * * * *"}.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert (settings.max_quarantined_key_rows, settings.export_include_pii, settings.nightly_schedule) == (12, True,
                                                                                                          None)
    assert (settings.stale_after_hours, settings.late_after_minutes, settings.today) == (None, 90.0,
                                                                                       date(2025, 11, 8))
    assert settings.source_schedule == "*/5 * * * *"


def test_rule_threshold_and_future_tolerance_default_to_0_and_24(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SA_MAX_QUARANTINED_RULE_ROWS", "SA_FUTURE_TOLERANCE_HOURS"):
        monkeypatch.delenv(name, raising=False)
    assert (get_settings().max_quarantined_rule_rows, get_settings().future_tolerance_hours) == (0, 24)
    monkeypatch.setenv("SA_MAX_QUARANTINED_RULE_ROWS", "3")
    monkeypatch.setenv("SA_FUTURE_TOLERANCE_HOURS", "0")
    assert (get_settings().max_quarantined_rule_rows, get_settings().future_tolerance_hours) == (3, 0)


def test_sa_refuses_to_start_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SA_EXPORT_INCLUDE_PII", "ture")
    done = subprocess.run([sys.executable, "-m", "include.cli", "env"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "sa: configuration error: SA_EXPORT_INCLUDE_PII='ture': expected one of 1, true, yes, on, 0, false, no, off"]
