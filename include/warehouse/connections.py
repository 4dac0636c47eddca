"""The warehouse roles as Airflow Connections: their ids, how the local runtime provides them, and where a process
takes a role's credentials from.

Inside an Airflow task the credentials of a role come from its Connection (`warehouse_loader`,
`warehouse_transformer`, `warehouse_reader`, `warehouse_pii_reader`), looked up the Airflow way: `AIRFLOW_CONN_*`
environment variables, any configured secrets backend, then the metadata DB through the execution API. So a
deployment rotates or moves a password without the task code knowing, and a task holds only the roles it is given.
Outside Airflow (the `sa` CLI, tests, benchmarks, the MCP server) they come from the settings and the secrets store
(`include.config.role_password`), as before. The local runtime builds the Connections from that same store
(`airflow_conn_env`), so both paths reach the same roles.

"Inside a task" is what Airflow's Task SDK itself checks (`ensure_secrets_backend_loaded`): the task runner's
`SUPERVISOR_COMMS` is set in a task process (and, temporarily, under `dag.test()`), in no other process.
"""

from __future__ import annotations

import json
import sys
from typing import Literal
from urllib.parse import quote

from include.config import Settings, get_settings, role_password

RoleKind = Literal["loader", "transformer", "reader", "pii_reader"]

WAREHOUSE_LOADER_CONN = "warehouse_loader"
WAREHOUSE_TRANSFORMER_CONN = "warehouse_transformer"
WAREHOUSE_READER_CONN = "warehouse_reader"
WAREHOUSE_PII_READER_CONN = "warehouse_pii_reader"
CONN_IDS: dict[str, str] = {
    "loader": WAREHOUSE_LOADER_CONN,
    "transformer": WAREHOUSE_TRANSFORMER_CONN,
    "reader": WAREHOUSE_READER_CONN,
    "pii_reader": WAREHOUSE_PII_READER_CONN,
}
_TASK_RUNNER = "airflow.sdk.execution_time.task_runner"


class WarehouseConnectionError(RuntimeError):
    """A role's Airflow Connection is missing or lacks a field a warehouse connection needs."""


def conn_id(kind: str) -> str:
    try:
        return CONN_IDS[kind]
    except KeyError:
        raise ValueError(f"no Airflow connection for role kind {kind!r}; expected one of {sorted(CONN_IDS)}") from None


def conn_env_var(kind: str) -> str:
    """`AIRFLOW_CONN_WAREHOUSE_LOADER` etc.: the environment variable Airflow reads the Connection from."""
    return f"AIRFLOW_CONN_{conn_id(kind).upper()}"


def in_airflow_task() -> bool:
    """True in an Airflow task process (and under `dag.test()`), False in the CLI, tests and Airflow's own servers.

    Reads the task runner's module only if it is already imported: nothing is imported to answer."""
    runner = sys.modules.get(_TASK_RUNNER)
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def settings_params(kind: str, settings: Settings) -> dict[str, str | int]:
    """host, port, dbname, user, password of role `kind` from the settings and the secrets store."""
    parts = settings.connection_parts()
    role = settings.roles.by_kind()[kind]
    return {"host": str(parts["host"]), "port": int(parts["port"]), "dbname": str(parts["dbname"]), "user": role,
            "password": role_password(role, settings)}


def airflow_params(kind: str) -> dict[str, str | int]:
    """host, port, dbname, user, password of role `kind` from its Airflow Connection (the schema field is the
    database, as in the postgres provider). Airflow is imported here, only when a task asks."""
    from airflow.sdk import BaseHook

    cid = conn_id(kind)
    try:
        conn = BaseHook.get_connection(cid)
    except Exception as exc:  # AirflowNotFoundException, or the execution API's error
        raise WarehouseConnectionError(f"Airflow connection {cid!r} (role {kind}) could not be read: {exc}; set "
                                       f"{conn_env_var(kind)} or add it to the secrets backend") from exc
    missing = [name for name, value in (("host", conn.host), ("schema (database)", conn.schema),
                                        ("login", conn.login)) if not value]
    if missing:
        raise WarehouseConnectionError(f"Airflow connection {cid!r} has no {', '.join(missing)}")
    params: dict[str, str | int] = {"host": conn.host, "port": int(conn.port or 5432), "dbname": conn.schema,
                                    "user": conn.login, "password": conn.password or ""}
    sslmode = (conn.extra_dejson or {}).get("sslmode")
    if sslmode:
        params["sslmode"] = str(sslmode)
    return params


def role_params(kind: str, settings: Settings | None = None) -> dict[str, str | int]:
    """libpq keyword arguments (host, port, dbname, user, password[, sslmode]) for role `kind`: from its Airflow
    Connection inside a task, else from the settings and the secrets store."""
    if kind not in CONN_IDS:
        raise ValueError(f"unknown warehouse role kind {kind!r}; expected one of {sorted(CONN_IDS)}")
    if in_airflow_task():
        return airflow_params(kind)
    return settings_params(kind, settings or get_settings())


def params_url(params: dict[str, str | int], scheme: str = "postgresql") -> str:
    """A URL of libpq keyword arguments (`role_params`), e.g. for SQLAlchemy (`postgresql+psycopg2`)."""
    url = (f"{scheme}://{quote(str(params['user']), safe='')}:{quote(str(params['password']), safe='')}"
           f"@{params['host']}:{params['port']}/{quote(str(params['dbname']), safe='')}")
    return url + (f"?sslmode={params['sslmode']}" if params.get("sslmode") else "")


def airflow_connection(kind: str, settings: Settings) -> str:
    """Role `kind` as the JSON of an Airflow Connection (the value of `AIRFLOW_CONN_WAREHOUSE_*`)."""
    params = settings_params(kind, settings)
    return json.dumps({"conn_type": "postgres", "host": params["host"], "port": params["port"],
                       "schema": params["dbname"], "login": params["user"], "password": params["password"]})


def airflow_conn_env(settings: Settings) -> dict[str, str]:
    """`AIRFLOW_CONN_WAREHOUSE_*` for every role, built from the settings and the secrets store (local runtime)."""
    return {conn_env_var(kind): airflow_connection(kind, settings) for kind in CONN_IDS}
