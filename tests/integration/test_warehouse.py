"""The warehouse bootstrap on the embedded server: schemas, tables, and least privilege that really holds."""

from __future__ import annotations

import psycopg
import pytest

from include import contract
from include.config import Settings
from include.warehouse import bootstrap, embedded
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration


def _denied(kind: str, settings: Settings, statement: str) -> bool:
    with connect(kind, settings) as conn:  # type: ignore[arg-type]
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_embedded_server_listens_on_tcp_loopback(warehouse: Settings) -> None:
    state = embedded.status(warehouse)
    assert state.running and state.port == warehouse.embedded_port
    with connect("admin", warehouse) as conn:
        assert conn.info.host == "127.0.0.1"
        assert conn.execute("show server_version_num").fetchone()[0] >= "180000"
        assert conn.execute("show unix_socket_directories").fetchone()[0] == ""


def test_start_and_bootstrap_are_idempotent(warehouse: Settings) -> None:
    first_pid = embedded.status(warehouse).pid
    assert embedded.start(warehouse).pid == first_pid
    assert bootstrap.bootstrap(warehouse) == []
    with connect("admin", warehouse) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'analytics'")}
    assert {"analytics", "staging", "marts", "audit", "serving", "pii", "private"} <= schemas
    assert tables == {t.name for t in contract.TABLES}


def test_source_tables_follow_the_contract_with_audit_columns(warehouse: Settings) -> None:
    with connect("admin", warehouse) as conn:
        for table in contract.TABLES:
            rows = conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'analytics' and table_name = %s order by ordinal_position",
                (table.name,),
            ).fetchall()
            assert [r[0] for r in rows] == [*table.column_names, "_batch_id", "_loaded_at"]


def test_reader_reads_serving_only(warehouse: Settings) -> None:
    with connect("admin", warehouse) as conn:
        conn.execute(f"set role {warehouse.roles.transformer}")
        conn.execute("create table if not exists marts.privilege_probe (x int)")
        conn.execute("insert into marts.privilege_probe values (1)")
        conn.execute("create or replace view serving.privilege_probe as select x from marts.privilege_probe")
        conn.execute(f"grant select on serving.privilege_probe to {warehouse.roles.reader}")  # as dbt's grants do
        conn.commit()
    with connect("reader", warehouse) as conn:
        assert conn.execute("select count(*) from serving.privilege_probe").fetchone()[0] >= 1
        assert conn.execute("select count(*) from serving.pipeline_status").fetchone()[0] >= 0
    for statement in ("select * from marts.privilege_probe", "select * from analytics.customers",
                      "select * from audit.quarantine", "select * from audit.load_batches",
                      "select * from audit.run_summary_by_date", "select * from private.masking_key",
                      "create table staging.x (x int)", "create table serving.x (x int)",
                      "insert into marts.privilege_probe values (2)"):
        assert _denied("reader", warehouse, statement), statement


def test_pii_reader_reads_nothing_but_the_pii_schema(warehouse: Settings) -> None:
    with connect("admin", warehouse) as conn:
        conn.execute(f"set role {warehouse.roles.transformer}")
        conn.execute("create or replace view pii.privilege_probe as select 1 as x")
        conn.execute(f"grant select on pii.privilege_probe to {warehouse.roles.pii_reader}")
        conn.commit()
    with connect("pii_reader", warehouse) as conn:
        assert conn.execute("select x from pii.privilege_probe").fetchone()[0] == 1
    for statement in ("select * from marts.privilege_probe", "select * from serving.pipeline_status",
                      "select * from analytics.customers", "select * from audit.quarantine",
                      "select * from private.masking_key", "create table pii.x (x int)",
                      "create temp table x (x int)"):
        assert _denied("pii_reader", warehouse, statement), statement


def test_only_the_transformer_reads_the_masking_key(warehouse: Settings) -> None:
    with connect("transformer", warehouse) as conn:
        inner, outer = conn.execute("select inner_pad, outer_pad from private.masking_key").fetchone()
    assert len(inner) == len(outer) == 64 and inner != outer
    assert _denied("loader", warehouse, "select * from private.masking_key")
    assert _denied("transformer", warehouse, "update private.masking_key set inner_pad = outer_pad")


def test_bootstrap_takes_back_the_readers_old_access_to_marts(warehouse: Settings) -> None:
    """A warehouse bootstrapped by an earlier version let the reader read `marts`: a re-run revokes it."""
    reader, transformer = warehouse.roles.reader, warehouse.roles.transformer
    with connect("admin", warehouse) as conn:
        conn.execute(f"set role {transformer}")
        conn.execute("create table if not exists marts.privilege_probe (x int)")
        conn.execute("reset role")
        conn.execute(f"grant usage on schema marts to {reader}")
        conn.execute(f"grant select on all tables in schema marts to {reader}")
        conn.execute(f"alter default privileges for role {transformer} in schema marts"
                     f" grant select on tables to {reader}")
        conn.commit()
    with connect("reader", warehouse) as conn:
        conn.execute("select count(*) from marts.privilege_probe")  # the old state, for real
    assert bootstrap.bootstrap(warehouse) == []
    assert _denied("reader", warehouse, "select * from marts.privilege_probe")
    with connect("admin", warehouse) as conn:
        defaults = conn.execute(
            "select count(*) from pg_default_acl d join pg_namespace n on n.oid = d.defaclnamespace"
            " where n.nspname = 'marts' and array_to_string(d.defaclacl, ',') like %s", (f"%{reader}=%",)).fetchone()
    assert defaults[0] == 0


def test_bootstrap_drops_what_earlier_versions_kept_per_row_or_built(warehouse: Settings) -> None:
    """A warehouse of an earlier version: `_source_file` on every source row (read by a staging view's `select *`) and
    the retired per-day login table. A re-run drops both (the view goes with the column: dbt recreates it), keeps
    the rows and leaves the audit columns of today's contract."""
    loader, transformer = warehouse.roles.loader, warehouse.roles.transformer
    with connect("admin", warehouse) as conn:
        conn.execute(f"set role {loader}")
        conn.execute("alter table analytics.products add column _source_file text")
        conn.execute("insert into analytics.products (product_id, product_name, product_category, product_type,"
                     " monthly_fee, launched_at, updated_at, _batch_id, _loaded_at, _source_file) values"
                     " ('P-UPGRADE', 'x', 'x', 'x', 1, now(), now(), 'history', now(), '/landing/history/p.csv.gz')")
        conn.execute(f"set role {transformer}")
        conn.execute("create view staging.upgrade_probe as select * from analytics.products")
        conn.execute("create table marts.int_customer_login_days (customer_id text)")
        conn.execute("reset role")
        conn.commit()
    created = bootstrap.bootstrap(warehouse)
    assert created == ["analytics.products without _source_file", "retired marts.int_customer_login_days dropped"]
    with connect("admin", warehouse) as conn:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'analytics'"
            " and table_name = 'products' order by ordinal_position").fetchall()]
        kept = conn.execute("select count(*) from analytics.products where product_id = 'P-UPGRADE'").fetchone()[0]
        gone = conn.execute("select to_regclass('staging.upgrade_probe'), to_regclass('marts.int_customer_login_days')"
                            ).fetchone()
        conn.execute("delete from analytics.products where product_id = 'P-UPGRADE'")
    assert columns == [*contract.table("products").column_names, "_batch_id", "_loaded_at"]
    assert kept == 1 and gone == (None, None)
    assert bootstrap.bootstrap(warehouse) == []


def test_transformer_reads_sources_but_cannot_write_them(warehouse: Settings) -> None:
    with connect("transformer", warehouse) as conn:
        conn.execute("select count(*) from analytics.support_tickets")
    assert _denied("transformer", warehouse, "delete from analytics.support_tickets")
    assert _denied("transformer", warehouse, "delete from audit.load_batches")
    assert _denied("transformer", warehouse, "create table analytics.x (x int)")


def test_each_role_starts_with_its_session_settings(warehouse: Settings) -> None:
    with connect("admin", warehouse) as conn:
        server_default = conn.execute("show work_mem").fetchone()[0]
    assert bootstrap.ROLE_SETTINGS["transformer"]["work_mem"] != server_default
    for kind, role in warehouse.roles.by_kind().items():
        with connect(kind, warehouse) as conn:  # type: ignore[arg-type]
            work_mem = conn.execute("show work_mem").fetchone()[0]
        assert work_mem == bootstrap.ROLE_SETTINGS.get(kind, {}).get("work_mem", server_default), role


def test_transformer_reads_the_load_sequence_and_nothing_else_of_audit(warehouse: Settings) -> None:
    """Incremental models read `audit.committed_loads`; the load log itself and the quarantine (raw PII) stay
    closed to the transformer."""
    with connect("transformer", warehouse) as conn:
        conn.execute("select batch_id, table_name, load_seq from audit.committed_loads")
    assert _denied("transformer", warehouse, "select * from audit.load_batches")
    assert _denied("transformer", warehouse, "select * from audit.quarantine")
    assert _denied("transformer", warehouse, "select nextval('audit.load_seq')")


def test_loader_cannot_touch_models(warehouse: Settings) -> None:
    assert _denied("loader", warehouse, "create table marts.x (x int)")
    assert _denied("loader", warehouse, "create table staging.x (x int)")
    with connect("loader", warehouse) as conn:
        conn.execute("select count(*) from audit.quarantine")


def test_unknown_roles_cannot_connect(warehouse: Settings) -> None:
    with connect("admin", warehouse) as conn:
        conn.execute("drop role if exists sa_stranger")
        conn.execute("create role sa_stranger login password 'stranger-pass'")
        conn.commit()
    url = f"postgresql://sa_stranger:stranger-pass@127.0.0.1:{warehouse.embedded_port}/{warehouse.warehouse_db}"
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(url)


def test_wrong_password_is_rejected(warehouse: Settings) -> None:
    url = f"postgresql://{warehouse.roles.reader}:wrong@127.0.0.1:{warehouse.embedded_port}/{warehouse.warehouse_db}"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url)


def test_port_in_use_is_reported_clearly(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        other = dataclasses.replace(warehouse, embedded_pgdata=warehouse.local_dir / "pgdata-other",
                                    embedded_port=squatter.getsockname()[1])
        with pytest.raises(embedded.EmbeddedServerError, match="is taken by another process"):
            embedded.start(other)


def test_metadata_database_has_its_own_owner_role_and_an_older_superuser_owned_one_is_handed_over(
        warehouse: Settings) -> None:
    """A metadata DB an earlier version created as the superuser (tables, a serial, an enum, a view) is handed to
    `sa_airflow`, which can then use all of it; the role is no superuser and cannot create databases or roles."""
    import dataclasses
    import uuid

    settings = dataclasses.replace(warehouse, airflow_db=f"airflow_legacy_{uuid.uuid4().hex[:6]}")
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        conn.execute(f'create database "{settings.airflow_db}"')
    try:
        with connect("admin", settings, database=settings.airflow_db) as conn:
            conn.execute("create type run_state as enum ('queued', 'running')")
            conn.execute("create table dag_run (id serial primary key, state run_state)")
            conn.execute("create view queued as select * from dag_run where state = 'queued'")
        changed = bootstrap.ensure_metadata_database(settings)
        assert any("handed from postgres" in line for line in changed), changed
        assert any("3 objects" in line for line in changed), changed  # table (its sequence follows), type, view
        assert not [line for line in bootstrap.ensure_metadata_database(settings) if "handed" in line]  # idempotent
        with connect("admin", settings) as conn:
            role = conn.execute("select rolsuper, rolcreatedb, rolcreaterole, rolcanlogin from pg_roles"
                                " where rolname = %s", (settings.airflow_db_owner,)).fetchone()
        assert role == (False, False, False, True)
        url = settings.metadata_db_url().replace("postgresql+psycopg2://", "postgresql://", 1)
        with psycopg.connect(url) as conn:
            conn.execute("insert into dag_run (state) values ('queued')")
            conn.execute("alter table dag_run add column note text")  # what `airflow db migrate` does
            assert conn.execute("select count(*) from queued").fetchone() == (1,)
    finally:
        with connect("admin", settings, autocommit=True, database="postgres") as conn:
            conn.execute(f'drop database if exists "{settings.airflow_db}" with (force)')


def test_bootstrap_drops_an_incremental_table_built_without_a_column_this_version_merges(
        warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier version's incremental model table lacking a column (on_schema_change='fail' would refuse the merge)
    is dropped with its watermark and the views over it (the churn mart over the activity), so the next build
    creates them whole; one that has the column is kept."""
    monkeypatch.setattr(bootstrap, "OUTDATED_MODEL_TABLES", {("marts", "upgrade_outdated"): "login_days",
                                                             ("marts", "upgrade_current"): "login_days"})
    with connect("admin", warehouse) as conn:
        conn.execute(f"set role {warehouse.roles.transformer}")
        conn.execute("create table marts.upgrade_outdated (customer_id text)")
        conn.execute("create table marts.upgrade_current (customer_id text, login_days date[])")
        conn.execute("create view marts.upgrade_outdated_view as select * from marts.upgrade_outdated")
        conn.execute("reset role")
        conn.execute("insert into audit.build_watermarks (model_name, load_seq, built_at) values"
                     " ('marts.upgrade_outdated', 1, now()), ('marts.upgrade_current', 1, now())")
        conn.commit()
    try:
        created = bootstrap.bootstrap(warehouse)
        with connect("admin", warehouse) as conn:
            tables = conn.execute("select to_regclass('marts.upgrade_outdated'), to_regclass('marts.upgrade_current'),"
                                  " to_regclass('marts.upgrade_outdated_view')").fetchone()
            watermarks = [r[0] for r in conn.execute(
                "select model_name from audit.build_watermarks where model_name like 'marts.upgrade_%'"
                " order by 1").fetchall()]
    finally:
        with connect("admin", warehouse) as conn:
            conn.execute("drop table if exists marts.upgrade_outdated, marts.upgrade_current cascade")
            conn.execute("delete from audit.build_watermarks where model_name like 'marts.upgrade_%'")
    assert created == ["marts.upgrade_outdated without login_days dropped (the next build creates it whole)"]
    assert tables == (None, "marts.upgrade_current", None) and watermarks == ["marts.upgrade_current"]


def _bootstrap_over_an_earlier_index(warehouse: Settings, name: str, columns: str) -> tuple[list[str], str]:
    """Replace the logins' index `name` with the one an earlier version built on `columns`, run the bootstrap;
    returns what it reported and the index's definition afterwards."""
    with connect("admin", warehouse) as conn:
        conn.execute(f"drop index analytics.{name}")
        conn.execute(f"create index {name} on analytics.customer_logins {columns}")
        conn.commit()
    created = bootstrap.bootstrap(warehouse)
    with connect("admin", warehouse) as conn:
        definition = conn.execute("select pg_get_indexdef(%s::regclass)", (f"analytics.{name}",)).fetchone()[0]
    return created, str(definition)


def test_bootstrap_rebuilds_the_logins_key_index_an_earlier_version_built_on_two_columns(warehouse: Settings) -> None:
    """Until 2026-12-06 the logins' key-lookup index had login_at after the key (~38 bytes a login); today's is the
    key alone (deduplicated). A re-run of the bootstrap replaces the old one under the same name."""
    created, definition = _bootstrap_over_an_earlier_index(
        warehouse, "customer_logins_customer_id_trimmed", "((trim(customer_id)), login_at)")
    assert created == ["key-lookup index of analytics.customer_logins rebuilt on the key alone"]
    assert definition.endswith("USING btree (TRIM(BOTH FROM customer_id))")
    assert bootstrap.bootstrap(warehouse) == []


def test_the_batch_index_leaves_out_the_history_batch_and_serves_a_nights_batches(warehouse: Settings) -> None:
    """The `_batch_id` index skips the history batch (most of a table: reading it is a scan anyway); the planner can
    still use it for the batches loaded since a build (`= any(<constant list>)`, what the models and tests send) —
    and not for a list that holds `history`. A bootstrap replaces the full index an earlier version built."""
    created, definition = _bootstrap_over_an_earlier_index(warehouse, "customer_logins_batch_id", "(_batch_id)")
    assert created == ["_batch_id index of analytics.customer_logins rebuilt without the history batch"]
    assert bootstrap.bootstrap(warehouse) == []
    with connect("admin", warehouse) as conn:
        conn.execute("set local enable_seqscan = off")
        plans = {batches: "\n".join(r[0] for r in conn.execute(
            f"explain select count(*) from analytics.customer_logins where _batch_id = any(array[{batches}]::text[])"))
            for batches in ("'2025-11-03', '2025-11-04'", "'history', '2025-11-04'")}
    assert definition.endswith("USING btree (_batch_id) WHERE (_batch_id <> 'history'::text)")
    assert "customer_logins_batch_id" in plans["'2025-11-03', '2025-11-04'"]
    assert "customer_logins_batch_id" not in plans["'history', '2025-11-04'"]
