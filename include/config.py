"""The one settings module: every path, URL, schema name and knob, read from the environment.

Every value has a documented default (see `.env.example`) so that a fresh clone runs with no configuration:
the embedded PostgreSQL under `.local/`, Airflow's home under `.local/airflow`, the landing zone under
`.local/landing` and exports under `.local/exports`. Setting `WAREHOUSE_URL` points everything at an external
PostgreSQL server instead.

Settings are read on every call of `get_settings()` (cheap) rather than cached at import time, so tests and CLIs
can change the environment and see the change.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SCHEMA_SOURCES = "analytics"
SCHEMA_STAGING = "staging"
SCHEMA_MARTS = "marts"
SCHEMA_AUDIT = "audit"
SCHEMA_SERVING = "serving"  # masked views over the marts: everything the reader role sees
SCHEMA_PII = "pii"  # the one relation with raw contacts, for the PII export (pii_reader)
SCHEMA_PRIVATE = "private"  # the masking key's material: the transformer reads it, nobody else
ALL_SCHEMAS = (SCHEMA_SOURCES, SCHEMA_STAGING, SCHEMA_MARTS, SCHEMA_AUDIT, SCHEMA_SERVING, SCHEMA_PII,
               SCHEMA_PRIVATE)


@dataclass(frozen=True)
class RoleNames:
    """Least-privilege roles: the loader writes sources and audit, the transformer builds staging, marts and the
    views over them, the reader reads the masked `serving` views only (exports, MCP), the pii_reader reads the raw
    contacts of the churn lists only (the export with `SA_EXPORT_INCLUDE_PII=true`)."""

    loader: str
    transformer: str
    reader: str
    pii_reader: str

    def by_kind(self) -> dict[str, str]:
        """Kind (`loader`, `transformer`, `reader`, `pii_reader`) → role name."""
        return {"loader": self.loader, "transformer": self.transformer, "reader": self.reader,
                "pii_reader": self.pii_reader}

    def all(self) -> tuple[str, ...]:
        return tuple(self.by_kind().values())


@dataclass(frozen=True)
class Settings:
    project_root: Path
    local_dir: Path
    landing_root: Path
    export_root: str
    airflow_home: Path
    embedded_pgdata: Path
    embedded_port: int
    external_warehouse_url: str | None
    warehouse_db: str
    airflow_db: str
    airflow_port: int
    roles: RoleNames
    max_quarantined_key_rows: int
    max_quarantined_parse_rows: int
    manifest_wait_timeout_s: int
    export_include_pii: bool
    nightly_schedule: str | None
    quarantine_retention_days: int = 30  # quarantined rows keep raw source lines (PII): purged after this many days
    max_quarantined_rule_rows: int = 0  # rows breaking a contract rule (allowed values, ranges, …), per table
    future_tolerance_hours: int = 24  # a timestamp later than the load time plus this breaks the contract
    # MCP server (include/mcp_server): where `sa mcp --http` listens, and the limits every query runs under.
    mcp_host: str = "127.0.0.1"
    mcp_port: int = 8765
    mcp_statement_timeout_ms: int = 2000
    mcp_pool_size: int = 8
    # The local stand-in for the source systems (include/source_system.py): off in production.
    simulated_source: bool = False
    source_schedule: str = "30 0 * * *"
    today: date | None = None  # "today" for the simulated source (SA_TODAY, tests pin it); None = the real date
    delivery_poke_s: int = 60  # how often the extract looks for a day's _manifest.json (read at DAG parse)
    # Alerts (include/notify): each channel is off until configured; nothing is sent and nothing fails then.
    alert_emails: tuple[str, ...] = ()
    alert_smtp_conn_id: str = "smtp_default"
    alert_webhook_url: str | None = None
    alert_webhook_conn_id: str | None = None
    late_after_minutes: float | None = None  # None: no deadline alert on the DAGs
    stale_after_hours: float | None = 26.0  # marts older than this alert (support_freshness); None = off
    # The weekly full check: on the batch date's ISO weekday (7 = Sunday) the gate runs its whole-table suites and
    # dbt tests every row (dbt var full_test_weekday, from SA_FULL_CHECK_WEEKDAY); other nights check new rows.
    full_check_weekday: int = 7
    # Where support_dbt_docs publishes dbt's docs (index.html, manifest.json, catalog.json) for the UI's "dbt Docs"
    # page (Cosmos' Airflow 3 plugin, AIRFLOW__COSMOS__DBT_DOCS_PROJECTS); None = <local dir>/dbt-docs.
    dbt_docs_root: Path | None = None
    # Owner of Airflow's metadata database (created by `include.warehouse.bootstrap.ensure_metadata_database`,
    # password: secret `airflow_db_password`): Airflow never connects as the warehouse server's superuser.
    airflow_db_owner: str = "sa_airflow"
    dbt_target: str = "dev"  # the dbt/profiles.yml target (and the name of the one Cosmos writes): dev or prod
    # The local runtime with AIRFLOW__CORE__EXECUTOR=CeleryExecutor (include/airflow_local.py): how many Celery
    # workers it starts and how many tasks each runs at once.
    celery_workers: int = 2
    celery_worker_concurrency: int = 4

    @property
    def email_alerts_on(self) -> bool:
        return bool(self.alert_emails)

    @property
    def webhook_alerts_on(self) -> bool:
        return bool(self.alert_webhook_url or self.alert_webhook_conn_id)

    @property
    def is_embedded(self) -> bool:
        return self.external_warehouse_url is None

    @property
    def secrets_file(self) -> Path:
        return self.local_dir / "secrets.json"

    @property
    def dbt_docs_dir(self) -> Path:
        return self.dbt_docs_root or self.local_dir / "dbt-docs"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_root / "dbt"

    @property
    def gx_root(self) -> Path:
        return self.project_root / "great_expectations"

    @property
    def dags_folder(self) -> Path:
        return self.project_root / "dags"

    def admin_url(self, database: str | None = None) -> str:
        """Superuser (or database owner) URL used by the bootstrap (and tests) only: never by an Airflow process."""
        if self.external_warehouse_url is not None:
            return _with_database(self.external_warehouse_url, database or self.warehouse_db)
        password = local_secret("postgres_password", self)
        return (
            f"postgresql://postgres:{quote(password, safe='')}@127.0.0.1:{self.embedded_port}/"
            f"{database or self.warehouse_db}"
        )

    def role_url(self, role: str) -> str:
        """URL connecting to the warehouse database as one of the least-privilege roles."""
        parts = urlsplit(self.admin_url())
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        password = quote(role_password(role, self), safe="")
        netloc = f"{quote(role, safe='')}:{password}@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def metadata_db_url(self) -> str:
        """Airflow's metadata database as its own owner role (`airflow_db_owner`, secret `airflow_db_password`,
        env `SA_AIRFLOW_DB_PASSWORD`), on the warehouse server."""
        parts = self.connection_parts()
        password = quote(secret("airflow_db_password", self), safe="")
        return (f"postgresql+psycopg2://{quote(self.airflow_db_owner, safe='')}:{password}@{parts['host']}:"
                f"{parts['port']}/{self.airflow_db}")

    def connection_parts(self) -> dict[str, str | int]:
        """Host, port and database of the warehouse: the same values dbt's profile and Asset URIs are built from."""
        if self.external_warehouse_url is None:
            return {"host": "127.0.0.1", "port": self.embedded_port, "dbname": self.warehouse_db}
        parts = urlsplit(self.external_warehouse_url)
        return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "dbname": self.warehouse_db}

    def table_uri(self, schema: str, table: str) -> str:
        """The Asset URI of a warehouse table, built exactly as Cosmos builds the URIs of dbt sources and models."""
        parts = self.connection_parts()
        return f"postgres://{parts['host']}:{parts['port']}/{parts['dbname']}/{schema}/{table}"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


class SettingsError(ValueError):
    """A setting has a value the project cannot use: one line naming the variable and what it accepts."""


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _int(name: str, default: str, minimum: int = 0) -> int:
    text = _env(name, default)
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SettingsError(f"{name}={text!r}: expected a whole number ≥ {minimum}")
    return value


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    text = _env(name, default)
    if text not in allowed:
        raise SettingsError(f"{name}={text!r}: expected one of {', '.join(allowed)}")
    return text


def _flag(name: str, default: str) -> bool:
    text = _env(name, default).lower()
    if text not in _TRUE + _FALSE:
        raise SettingsError(f"{name}={text!r}: expected one of {', '.join(_TRUE + _FALSE)}")
    return text in _TRUE


def _number_or_off(name: str, default: str) -> float | None:
    """A positive number, or `off`/`none`/empty-when-the-default-is-empty for "not set"."""
    text = _env(name, default)
    if text.lower() in ("off", "none", ""):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(f"{name}={text!r}: expected a positive number, or off")
    return value


def _cron_or_off(name: str, default: str) -> str | None:
    """A five-field cron expression (UTC), or `off`."""
    text = _env(name, default)
    if text.lower() in ("off", "none"):
        return None
    from croniter import croniter

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise SettingsError(f"{name}={text!r}: expected a cron expression of five fields (e.g. '0 2 * * *'), or off")
    return text


def _date_or_none(name: str) -> date | None:
    text = _env(name, "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: expected a date YYYY-MM-DD") from None


def get_settings() -> Settings:
    """Read the settings from the environment (see `.env.example` for every variable and its default)."""
    local_dir = Path(_env("SA_LOCAL_DIR", str(PROJECT_ROOT / ".local"))).resolve()
    prefix = _env("SA_ROLE_PREFIX", "sa")
    external = os.environ.get("WAREHOUSE_URL", "").strip() or None
    return Settings(
        project_root=PROJECT_ROOT,
        local_dir=local_dir,
        landing_root=Path(_env("SA_LANDING_ROOT", str(local_dir / "landing"))).resolve(),
        export_root=_env("SA_EXPORT_ROOT", str(local_dir / "exports")),
        airflow_home=Path(_env("AIRFLOW_HOME", str(local_dir / "airflow"))).resolve(),
        embedded_pgdata=Path(_env("SA_EMBEDDED_PGDATA", str(local_dir / "pgdata"))).resolve(),
        embedded_port=_int("SA_EMBEDDED_PG_PORT", "55432", minimum=1),
        external_warehouse_url=external,
        warehouse_db=_env("WAREHOUSE_DB", urlsplit(external).path.lstrip("/") if external else "")
        or "support_analytics",
        airflow_db=_env("AIRFLOW_METADATA_DB", "airflow"),
        airflow_port=_int("SA_AIRFLOW_PORT", "8080", minimum=1),
        roles=RoleNames(loader=f"{prefix}_loader", transformer=f"{prefix}_transformer", reader=f"{prefix}_reader",
                        pii_reader=f"{prefix}_pii_reader"),
        max_quarantined_key_rows=_int("SA_MAX_QUARANTINED_KEY_ROWS", "0"),
        max_quarantined_parse_rows=_int("SA_MAX_QUARANTINED_PARSE_ROWS", "0"),
        max_quarantined_rule_rows=_int("SA_MAX_QUARANTINED_RULE_ROWS", "0"),
        future_tolerance_hours=_int("SA_FUTURE_TOLERANCE_HOURS", "24"),
        manifest_wait_timeout_s=_int("SA_MANIFEST_WAIT_TIMEOUT_S", str(6 * 3600), minimum=1),
        export_include_pii=_flag("SA_EXPORT_INCLUDE_PII", "false"),
        nightly_schedule=_cron_or_off("SA_NIGHTLY_SCHEDULE", "0 2 * * *"),
        delivery_poke_s=_int("SA_DELIVERY_POKE_S", "60", minimum=1),
        simulated_source=_flag("SA_SIMULATED_SOURCE", "off"),
        source_schedule=_cron_or_off("SA_SOURCE_SCHEDULE", "30 0 * * *") or "30 0 * * *",
        today=_date_or_none("SA_TODAY"),
        alert_emails=tuple(a.strip() for a in _env("SA_ALERT_EMAILS", "").replace(";", ",").split(",") if a.strip()),
        alert_smtp_conn_id=_env("SA_ALERT_SMTP_CONN_ID", "smtp_default"),
        alert_webhook_url=os.environ.get("SA_ALERT_WEBHOOK_URL", "").strip() or None,
        alert_webhook_conn_id=os.environ.get("SA_ALERT_WEBHOOK_CONN_ID", "").strip() or None,
        late_after_minutes=_number_or_off("SA_LATE_AFTER_MINUTES", ""),
        quarantine_retention_days=_int("SA_QUARANTINE_RETENTION_DAYS", "30", minimum=1),
        mcp_host=_env("SA_MCP_HOST", "127.0.0.1"),
        mcp_port=_int("SA_MCP_PORT", "8765", minimum=1),
        mcp_statement_timeout_ms=_int("SA_MCP_STATEMENT_TIMEOUT_MS", "2000", minimum=1),
        mcp_pool_size=_int("SA_MCP_POOL_SIZE", "8", minimum=1),
        stale_after_hours=_number_or_off("SA_STALE_AFTER_HOURS", "26"),
        full_check_weekday=int(_choice("SA_FULL_CHECK_WEEKDAY", "7", ("1", "2", "3", "4", "5", "6", "7"))),
        dbt_docs_root=Path(_env("SA_DBT_DOCS_DIR", str(local_dir / "dbt-docs"))).resolve(),
        airflow_db_owner=f"{prefix}_airflow",
        dbt_target=_choice("DBT_TARGET", "dev", ("dev", "prod")),
        celery_workers=_int("SA_CELERY_WORKERS", "2", minimum=1),
        celery_worker_concurrency=_int("SA_CELERY_WORKER_CONCURRENCY", "4", minimum=1),
    )


def secret(name: str, settings: Settings) -> str:
    """THE way to a secret of the warehouse (role passwords, the masking key, the MCP bearer token): the environment
    variable `SA_<NAME>` when set (production: the deployment's environment or the Airflow secrets backend), else
    the local store (`local_secret`), which generates it on first use.

    Every such secret goes through here, so moving them to another store (e.g. Airflow's secrets backend directly)
    is a change to this one function."""
    from_env = os.environ.get(secret_env_var(name), "").strip()
    return from_env or local_secret(name, settings)


def secret_env_var(name: str) -> str:
    """The environment variable that overrides secret `name`: `SA_<NAME>`."""
    return f"SA_{name.upper()}"


def secret_source(name: str, settings: Settings) -> str | None:
    """Where `secret(name)` comes from, never its value: "env SA_<NAME>", the local store's path, or None when it
    has not been generated yet."""
    if os.environ.get(secret_env_var(name), "").strip():
        return f"env {secret_env_var(name)}"
    return str(settings.secrets_file) if name in stored_secret_names(settings) else None


def local_secret(name: str, settings: Settings) -> str:
    """A secret generated once per checkout and kept in `.local/secrets.json` (mode 0600, never committed).

    The local store behind `secret()`; also used directly for what only the local runtime has (the embedded
    server's superuser password, the local Airflow's keys and admin password), so no secret lives in the repo and a
    fresh clone needs no manual step. The file is created with mode 0600 (never readable by others, not even
    briefly) and replaced atomically, under a lock so two processes generating secrets at once lose neither.
    """
    path = settings.secrets_file
    stored = _read_secrets(path)
    if name in stored:
        return stored[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        stored = _read_secrets(path)  # another process may have added it meanwhile
        if name not in stored:
            stored[name] = secrets.token_urlsafe(48)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(stored, indent=2, sort_keys=True))
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        return stored[name]
    finally:
        os.close(lock_fd)


def _read_secrets(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def stored_secret_names(settings: Settings) -> list[str]:
    """Names (never values) of the secrets in the local store."""
    return sorted(_read_secrets(settings.secrets_file))


# Every secret the project reads (`secret()` / `local_secret()` names; env `SA_<NAME>` overrides the store's).
KNOWN_SECRETS = ("loader_password", "transformer_password", "reader_password", "pii_reader_password",
                 "masking_key", "mcp_token", "postgres_password", "airflow_admin_password", "airflow_jwt_secret",
                 "airflow_fernet_seed", "airflow_db_password")

_SECRET_NAME = re.compile(r"password|passwd|token|secret|(^|_)key$|fernet|credential", re.IGNORECASE)


def displayed(name: str, value: object) -> str:
    """`value` as safe to print under `name`: secrets masked (`sa env`, start-up banners).

    A name that says secret (password, token, key…) shows only whether it is set; a URL keeps scheme, user and
    host but not its password; a webhook URL (its path is the credential) keeps only scheme and host."""
    text = str(value)
    if value is None or text == "":
        return text
    if _SECRET_NAME.search(name):
        return "*** (set)"
    if "://" in text:
        parts = urlsplit(text)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@")
        if "webhook" in name.lower() or "hook" in parts.path.lower():
            return urlunsplit((parts.scheme, netloc, "/***" if parts.path.strip("/") else "", "", ""))
        query = "***" if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return text


def role_password(role: str, settings: Settings) -> str:
    """Password of a warehouse role: secret `<kind>_password` (env `SA_LOADER_PASSWORD`, `SA_PII_READER_PASSWORD`…)."""
    for kind, name in settings.roles.by_kind().items():
        if name == role:
            return secret(f"{kind}_password", settings)
    raise ValueError(f"unknown warehouse role {role!r}; expected one of {settings.roles.all()}")


def masking_key(settings: Settings) -> bytes:
    """The key of the HMAC that masks PII in the `serving` views (secret `masking_key`, env `SA_MASKING_KEY`).

    It lives with the role passwords. Changing it (and re-running the bootstrap) changes every masked token."""
    return secret("masking_key", settings).encode()


def mcp_token(settings: Settings) -> str:
    """The bearer token the MCP server's HTTP transport requires when it listens beyond loopback (secret
    `mcp_token`, env `SA_MCP_TOKEN`)."""
    return secret("mcp_token", settings)
