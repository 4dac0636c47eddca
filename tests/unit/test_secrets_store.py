"""The local secrets store and what `sa env` prints: secrets are created private and never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include import airflow_local
from include.cli import main
from include.config import displayed, get_settings, local_secret

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SA_LOCAL_DIR", str(tmp_path))
    for name in ("SA_AIRFLOW_ADMIN_PASSWORD", "SA_MCP_TOKEN", "WAREHOUSE_URL", "SA_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_store_is_private_from_its_first_byte_and_concurrent_writers_lose_nothing(local_dir: Path) -> None:
    names = [f"secret_{i}" for i in range(8)]
    code = ("import sys; from include.config import get_settings, local_secret; "
            "local_secret(sys.argv[1], get_settings())")
    env = {**os.environ, "SA_LOCAL_DIR": str(local_dir)}
    # separate processes (a fork of this test process, with its threads, could hang), all started at once, under
    # the most permissive umask: the file's mode must not come from it
    processes = [subprocess.Popen([sys.executable, "-c", code, name], env=env, cwd=ROOT,
                                  preexec_fn=lambda: os.umask(0)) for name in names]
    assert [p.wait(timeout=120) for p in processes] == [0] * len(names)
    store = local_dir / "secrets.json"
    assert store.stat().st_mode & 0o777 == 0o600
    assert sorted(json.loads(store.read_text())) == names  # every process's secret kept
    assert not list(local_dir.glob("*.tmp")) and not list(local_dir.glob(".*.tmp"))


def test_sa_env_masks_every_secret(local_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://owner:pg-Pa55word@db.internal:5432/warehouse")
    monkeypatch.setenv("SA_ALERT_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX")
    monkeypatch.setenv("SA_MCP_TOKEN", "mcp-token-value-123")
    settings = get_settings()
    stored = local_secret("loader_password", settings)
    admin = airflow_local.admin_password(settings)

    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for value in ("pg-Pa55word", "XXXXsecretXXXX", "/services/", "mcp-token-value-123", stored, admin):
        assert value not in out, value
    assert "postgresql://owner:***@db.internal:5432/warehouse" in out
    assert "https://hooks.slack.com/***" in out
    assert "mcp_token" in out and "env SA_MCP_TOKEN" in out  # where each secret comes from, not its value
    assert f"loader_password          {local_dir / 'secrets.json'}" in out


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("smtp_password", "hunter2", "*** (set)"),
    ("api_token", "abc", "*** (set)"),
    ("fernet_key", "abc", "*** (set)"),
    ("masking_key", "abc", "*** (set)"),
    ("external_warehouse_url", "postgresql://u:p@h/db", "postgresql://u:***@h/db"),
    ("alert_webhook_url", "https://chat.example.com/hooks/abc?token=x", "https://chat.example.com/***"),
    ("callback_url", "https://example.com/path?sig=abc", "https://example.com/path?***"),
    ("landing_root", "/data/landing", "/data/landing"),
    ("max_quarantined_key_rows", 0, "0"),  # a setting about primary keys, not a key
    ("alert_webhook_url", None, "None"),
])
def test_displayed_masks_by_name_and_by_url(name: str, value: str | None, shown: str) -> None:
    assert displayed(name, value) == shown


def test_the_local_admin_password_is_generated_shown_once_then_only_where_it_lives(local_dir: Path) -> None:
    settings = get_settings()
    first = airflow_local.first_login_notice(settings)
    password = airflow_local.admin_password(settings)
    assert password in first and len(password) >= 32 and password != "admin"
    again = airflow_local.first_login_notice(settings)
    assert password not in again and str(settings.secrets_file) in again
    env = airflow_local.airflow_env(settings, base={})
    passwords_file = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert json.loads(passwords_file.read_text()) == {airflow_local.ADMIN_USER: password}
    assert passwords_file.stat().st_mode & 0o777 == 0o600
