"""Credentials the Airflow way: the roles as Airflow connections, taken from them inside a task only, and an Airflow
environment without the warehouse server's superuser. No database needed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from include import airflow_local
from include.config import get_settings, local_secret, role_password
from include.warehouse import connections
from include.warehouse.connections import CONN_IDS, WarehouseConnectionError, role_params

TASK_CONN = {"conn_type": "postgres", "host": "db.prod.internal", "port": 6543, "schema": "warehouse_prod",
             "login": "prod_loader", "password": "from-the-secrets-backend"}


@pytest.fixture
def local_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SA_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    for name in ("WAREHOUSE_URL", "WAREHOUSE_DB", "SA_LOADER_PASSWORD", "SA_AIRFLOW_DB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


class _NoApi:
    """The task runner's supervisor channel, standing in: a connection not in the environment is not found."""

    def send(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("no execution API in this test")


@pytest.fixture
def in_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as Airflow's task runner: `SUPERVISOR_COMMS` set, as in a task process (or under dag.test)."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", _NoApi(), raising=False)
    from airflow.sdk.execution_time.cache import SecretCache

    SecretCache.reset()


def test_one_connection_per_role_built_from_the_secrets_store(local_dir: Path) -> None:
    settings = get_settings()
    env = connections.airflow_conn_env(settings)
    assert sorted(env) == ["AIRFLOW_CONN_WAREHOUSE_LOADER", "AIRFLOW_CONN_WAREHOUSE_PII_READER",
                           "AIRFLOW_CONN_WAREHOUSE_READER", "AIRFLOW_CONN_WAREHOUSE_TRANSFORMER"]
    for kind, cid in CONN_IDS.items():
        assert cid == f"warehouse_{kind}"
        conn = json.loads(env[connections.conn_env_var(kind)])
        role = settings.roles.by_kind()[kind]
        assert conn == {"conn_type": "postgres", "host": "127.0.0.1", "port": settings.embedded_port,
                        "schema": settings.warehouse_db, "login": role, "password": role_password(role, settings)}
    assert local_secret("postgres_password", settings) not in json.dumps(env)


def test_outside_a_task_the_settings_give_the_credentials_whatever_the_environment_says(
        local_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_LOADER", json.dumps(TASK_CONN))
    settings = get_settings()
    assert not connections.in_airflow_task()
    params = role_params("loader", settings)
    assert params == {"host": "127.0.0.1", "port": settings.embedded_port, "dbname": settings.warehouse_db,
                      "user": settings.roles.loader, "password": role_password(settings.roles.loader, settings)}


def test_inside_a_task_the_connection_gives_them_for_connect_gx_and_dbt(
        local_dir: Path, monkeypatch: pytest.MonkeyPatch, in_task: None) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_LOADER", json.dumps({**TASK_CONN, "extra": {"sslmode": "require"}}))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_TRANSFORMER", json.dumps({**TASK_CONN, "login": "prod_transformer"}))
    assert connections.in_airflow_task()
    assert role_params("loader") == {"host": "db.prod.internal", "port": 6543, "dbname": "warehouse_prod",
                                     "user": "prod_loader", "password": "from-the-secrets-backend",
                                     "sslmode": "require"}
    from include.quality.project import gx_connection_url
    from include.transform.dbt_env import dbt_env

    assert gx_connection_url(get_settings()) == ("postgresql+psycopg2://prod_loader:from-the-secrets-backend"
                                                 "@db.prod.internal:6543/warehouse_prod?sslmode=require")
    profile = dbt_env(get_settings())
    assert (profile["SA_DBT_HOST"], profile["SA_DBT_USER"], profile["SA_DBT_PASSWORD"]) == (
        "db.prod.internal", "prod_transformer", "from-the-secrets-backend")


def test_inside_a_task_a_missing_or_incomplete_connection_is_one_clear_error(
        local_dir: Path, monkeypatch: pytest.MonkeyPatch, in_task: None) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_READER", raising=False)
    with pytest.raises(WarehouseConnectionError, match=r"'warehouse_reader'.*AIRFLOW_CONN_WAREHOUSE_READER"):
        role_params("reader")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_READER", json.dumps({"conn_type": "postgres", "host": "h"}))
    with pytest.raises(WarehouseConnectionError, match=r"has no schema \(database\), login"):
        role_params("reader")
    with pytest.raises(ValueError, match="unknown warehouse role kind 'admin'"):
        role_params("admin")


def test_the_transform_profile_is_cosmos_mapping_of_the_transformer_connection(
        local_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from include.transform.cosmos_adapter import transformer_profile

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_TRANSFORMER", json.dumps({**TASK_CONN, "login": "prod_transformer"}))
    config = transformer_profile("prod")
    with config.ensure_profile() as (path, env):
        profile = yaml.safe_load(Path(path).read_text())["support_analytics"]
    assert profile["target"] == "prod"
    target = profile["outputs"]["prod"]
    assert (target["host"], target["port"], target["dbname"], target["user"], target["schema"]) == (
        "db.prod.internal", 6543, "warehouse_prod", "prod_transformer", "staging")
    assert "from-the-secrets-backend" not in json.dumps(target)  # the password is an env var of dbt's process
    assert "from-the-secrets-backend" in env.values()


def test_dbt_has_a_dev_and_a_prod_target_and_the_lock_follows_dbt_target(monkeypatch: pytest.MonkeyPatch) -> None:
    from include.transform.locked_dbt import profile_connection

    dbt_dir = get_settings().dbt_project_dir
    env = {"SA_DBT_HOST": "db.prod.internal", "SA_DBT_DBNAME": "w", "SA_DBT_USER": "u", "SA_DBT_PASSWORD": "p",
           "DBT_TARGET": "prod"}
    args = ["build", "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir)]
    assert profile_connection(args, env) == {"host": "db.prod.internal", "port": 5432, "dbname": "w", "user": "u",
                                             "password": "p"}
    assert profile_connection(args, {})["host"] == "127.0.0.1"  # dev, the default: the embedded warehouse
    with pytest.raises(KeyError, match="SA_DBT_HOST"):  # prod has no defaults
        profile_connection(args, {"DBT_TARGET": "prod"})


def test_the_airflow_environment_holds_no_superuser(local_dir: Path) -> None:
    settings = get_settings()
    superuser_password = local_secret("postgres_password", settings)
    env = airflow_local.airflow_env(settings, base={"PGPASSWORD": superuser_password, "PATH": "/usr/bin"})
    assert not [name for name, value in env.items() if superuser_password in value]
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.username == settings.airflow_db_owner == "sa_airflow"
    assert metadata.path == f"/{settings.airflow_db}" and metadata.port == settings.embedded_port
    assert "PGPASSWORD" not in env
    assert "SA_DBT_PASSWORD" not in env  # dbt's credentials come from warehouse_transformer, through Cosmos
    assert json.loads(env["AIRFLOW_CONN_WAREHOUSE_LOADER"])["login"] == "sa_loader"

    with pytest.raises(airflow_local.SuperuserSecretInEnvironment, match="MY_DB_URL"):
        airflow_local.airflow_env(settings, base={"MY_DB_URL": f"postgresql://postgres:{superuser_password}@h/d"})


def test_an_external_warehouse_url_reaches_airflow_without_its_credentials(
        local_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = "postgresql://postgres:Sup3r-user-Pa55word@db.internal:5433/support_analytics"
    monkeypatch.setenv("WAREHOUSE_URL", admin)
    settings = get_settings()
    shell = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}  # not the tests'
    env = airflow_local.airflow_env(settings, base=shell)
    assert env["WAREHOUSE_URL"] == "postgresql://db.internal:5433/support_analytics"
    assert not [name for name, value in env.items() if "Sup3r-user-Pa55word" in value]
    assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "db.internal"
    loader = json.loads(env["AIRFLOW_CONN_WAREHOUSE_LOADER"])
    assert (loader["host"], loader["port"], loader["schema"]) == ("db.internal", 5433, "support_analytics")
    # what a task process reads as settings: the same server, and no way to the superuser
    monkeypatch.setenv("WAREHOUSE_URL", env["WAREHOUSE_URL"])
    inside = get_settings()
    assert inside.connection_parts() == settings.connection_parts()
    assert urlsplit(inside.admin_url()).password is None
