"""Create (idempotently) the warehouse database, its schemas, the four least-privilege roles and the tables.

Privileges, by design:
- loader      — owns `analytics` (source tables) and `audit` (load log, quarantine, validation results).
- transformer — reads `analytics` and the masking key (`private`), owns what it builds in `staging`, `marts`,
                `serving` and `pii`; cannot write `analytics`/`audit`.
- reader      — reads the `serving` views only (exports, MCP server): the marts with contacts masked, the churn lists,
                the marts' build stamp and `serving.pipeline_status`; nothing in `analytics`, `staging`, `marts`,
                `audit` (the quarantine keeps raw rows) or `private`. dbt grants it each `serving` view on every build.
- pii_reader  — reads `pii.churn_list_snapshots` only (the churn export with SA_EXPORT_INCLUDE_PII=true).
Nobody else may connect to the warehouse database.

Running the bootstrap again changes nothing that exists, re-applies grants (taking back what an earlier version
granted, such as the reader's access to `marts`), resets role passwords to the configured ones (so rotating
`SA_*_PASSWORD` is a re-run) and stores the current masking key (so is rotating `SA_MASKING_KEY`).
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from psycopg import sql

from include import contract
from include.config import (
    ALL_SCHEMAS,
    SCHEMA_AUDIT,
    SCHEMA_MARTS,
    SCHEMA_PII,
    SCHEMA_PRIVATE,
    SCHEMA_SERVING,
    SCHEMA_SOURCES,
    SCHEMA_STAGING,
    Settings,
    get_settings,
    role_password,
    secret,
)
from include.warehouse.connect import connect
from include.warehouse.masking import TABLE as MASKING_KEY_TABLE
from include.warehouse.masking import install_masking_key

SQL_DIR = Path(__file__).parent / "sql"


def _ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def ensure_database(name: str, settings: Settings) -> bool:
    """Create database `name` if missing; returns True when it was created."""
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(_ident(name)))
        return True


def ensure_metadata_database(settings: Settings) -> list[str]:
    """Airflow's metadata database on the warehouse server, owned by a login role of its own
    (`settings.airflow_db_owner`, no superuser, no createdb/createrole), so no Airflow process needs the superuser.

    Idempotent; re-applies the password (rotating `SA_AIRFLOW_DB_PASSWORD` is a re-run). A database an earlier
    version created as the superuser is handed over: the database, then each table, view, sequence and type in
    `public`. Returns a short log of what changed."""
    owner = settings.airflow_db_owner
    changed: list[str] = []
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        conn.execute("select pg_advisory_lock(hashtext('support-analytics metadata db'))")
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (owner,)).fetchone()
        password = sql.Literal(secret("airflow_db_password", settings))
        conn.execute(sql.SQL("{} role {} with login nosuperuser nocreatedb nocreaterole noinherit password {}")
                     .format(sql.SQL("alter" if exists else "create"), _ident(owner), password))
        if not exists:
            changed.append(f"role {owner}")
        current = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s",
                               (settings.airflow_db,)).fetchone()
        if current is None:
            conn.execute(sql.SQL("create database {} owner {}").format(_ident(settings.airflow_db), _ident(owner)))
            changed.append(f"database {settings.airflow_db} owned by {owner}")
        elif current[0] != owner:
            conn.execute(sql.SQL("alter database {} owner to {}").format(_ident(settings.airflow_db), _ident(owner)))
            changed.append(f"database {settings.airflow_db} handed from {current[0]} to {owner}")
    with connect("admin", settings, autocommit=True, database=settings.airflow_db) as conn:
        # PostgreSQL 15+ gives `public` to pg_database_owner, whose rights a NOINHERIT owner does not use: the owner
        # role owns the schema itself (else `airflow db migrate` is refused "permission denied for schema public").
        if conn.execute("select pg_get_userbyid(nspowner) <> %s from pg_namespace where nspname = 'public'",
                        (owner,)).fetchone()[0]:
            conn.execute(sql.SQL("alter schema public owner to {}").format(_ident(owner)))
        moved = _hand_over_public_schema(conn, owner)
    if moved:
        changed.append(f"{moved} objects in {settings.airflow_db}.public handed to {owner}")
    return changed


_NOT_OWNED = """
with owner as (select oid from pg_roles where rolname = %(owner)s)
select c.relkind, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S') and c.relowner <> (select oid from owner)
  and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')))
union all
select 'T', t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
where n.nspname = 'public' and t.typtype in ('e', 'd') and t.typowner <> (select oid from owner)
"""
_KIND = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence", "T": "type"}


def _hand_over_public_schema(conn: psycopg.Connection, owner: str) -> int:
    """`alter … owner to` for what in `public` another role owns (sequences owned by a table follow their table)."""
    rows = conn.execute(_NOT_OWNED, {"owner": owner}).fetchall()
    for kind, name in rows:
        conn.execute(sql.SQL("alter {} {} owner to {}").format(sql.SQL(_KIND[kind]), _ident("public", name),
                                                                _ident(owner)))
    return len(rows)


# Session settings per role kind (`alter role … set`, so every connection of the role starts with them).
# transformer: work_mem for dbt's sorts and hashes — the churn summary's group-by over every customer, the ticket
# groups' sorted hours arrays, the incremental merges' hash joins — which spilled to disk at the default 4MB (scale
# 100 night: dbt 17.5 -> 16.2 s, medians of 2); at most dbt's 4 threads × a plan's few sort/hash nodes × 3 parallel
# processes use it at once.
ROLE_SETTINGS: dict[str, dict[str, str]] = {"transformer": {"work_mem": "64MB"}}


def _ensure_roles(conn: object, settings: Settings) -> None:
    for kind, role in settings.roles.by_kind().items():
        password = role_password(role, settings)
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()  # type: ignore[attr-defined]
        verb = "alter" if exists else "create"
        conn.execute(  # type: ignore[attr-defined]
            sql.SQL(verb + " role {} with login nosuperuser nocreatedb nocreaterole noinherit password {}").format(
                _ident(role), sql.Literal(password)
            )
        )
        for name, value in ROLE_SETTINGS.get(kind, {}).items():
            conn.execute(sql.SQL("alter role {} set {} = {}").format(  # type: ignore[attr-defined]
                _ident(role), _ident(name), sql.Literal(value)))


def _audit_default(name: str, pg_type: str) -> sql.Composed:
    return sql.SQL("current_setting({})::{}").format(sql.Literal(contract.AUDIT_SETTINGS[name]), sql.SQL(pg_type))


def audit_defaults_ddl(table: contract.Table, values: dict[str, object] | None = None) -> sql.Composed:
    """Set the audit columns' defaults: the loader's session settings (the table's DDL), or, with `values`, those
    values as constants — what the first load's COPY writes: the settings' default is evaluated on every row, and
    casting its text to a timestamp each time cost ~9 s of 17M logins at scale 100 (a constant is folded once)."""
    defaults = [
        sql.SQL("alter column {} set default {}").format(
            _ident(name),
            _audit_default(name, pg_type) if values is None
            else sql.SQL("{}::{}").format(sql.Literal(values[name]), sql.SQL(pg_type)))
        for name, pg_type in contract.AUDIT_COLUMNS
    ]
    return sql.SQL("alter table {} {}").format(_ident(SCHEMA_SOURCES, table.name), sql.SQL(", ").join(defaults))


def source_table_ddl(table: contract.Table) -> sql.Composed:
    """`create table if not exists analytics.<table>`: the contract's columns (required ones not null), audit
    columns filled from the loader's session settings, and the primary key."""
    columns = [
        sql.SQL("{} {}{}").format(_ident(c.name), sql.SQL(c.pg_type), sql.SQL(" not null" if c.required else ""))
        for c in table.columns
    ] + [
        sql.SQL("{} {} not null default {}").format(_ident(name), sql.SQL(pg_type), _audit_default(name, pg_type))
        for name, pg_type in contract.AUDIT_COLUMNS
    ]
    columns.append(sql.SQL("constraint {} primary key ({})").format(
        _ident(primary_key_name(table)), _ident(table.primary_key)))
    return sql.SQL("create table if not exists {} ({})").format(
        _ident(SCHEMA_SOURCES, table.name), sql.SQL(", ").join(columns)
    )


def primary_key_name(table: contract.Table) -> str:
    return f"{table.name}_pkey"  # PostgreSQL's default name, which tables created by earlier versions have


def primary_key_ddl(table: contract.Table) -> sql.Composed:
    return sql.SQL("alter table {} add constraint {} primary key ({})").format(
        _ident(SCHEMA_SOURCES, table.name), _ident(primary_key_name(table)), _ident(table.primary_key))


def batch_id_index_name(table: contract.Table) -> str:
    return f"{table.name}_batch_id"


def batch_id_index_ddl(table: contract.Table) -> sql.Composed:
    """The index on `_batch_id` (what one night's batch landed: the gate's batch suites, the load log's counts, the
    incremental models' and the tests' `_batch_id = any(<batches since the last build>)`), partial: without the
    history batch's rows. The history batch is (most of) the table, so a query for its rows reads the table anyway,
    and indexing them cost as much as the rest of the index together (at scale 100: 115 MB, ~5 s of the history
    load for 17M logins of one value). PostgreSQL uses the index for any list of batch ids, given as constants, that
    does not include `history` (it proves `_batch_id = '2025-11-03'` implies `_batch_id <> 'history'`)."""
    return sql.SQL("create index if not exists {} on {} (_batch_id) where _batch_id <> {}").format(
        _ident(batch_id_index_name(table)), _ident(SCHEMA_SOURCES, table.name), sql.Literal(contract.HISTORY))


def _drop_index_if(conn: psycopg.Connection, name: str, outdated: str) -> bool:
    """Drop `analytics.<name>` when `outdated` (a condition on its pg_index row) holds, so that today's DDL builds
    it again under the same name; True when it was dropped."""
    found = conn.execute(f"select {outdated} from pg_index where indexrelid = to_regclass(%s)",
                         (f"{SCHEMA_SOURCES}.{name}",)).fetchone()
    if found is None or not found[0]:
        return False
    conn.execute(sql.SQL("drop index {}").format(_ident(SCHEMA_SOURCES, name)))
    return True


def drop_outdated_batch_id_index(conn: psycopg.Connection, table: contract.Table) -> bool:
    """Drop the `_batch_id` index an earlier version built on every row (no predicate), so that batch_id_index_ddl
    builds today's partial one; True when one was dropped."""
    return _drop_index_if(conn, batch_id_index_name(table), "indpred is null")


# Tables read by a time range as well as by batch: a BRIN index on the column (kilobytes; rows arrive in roughly
# that order, day by day). int_customer_churn_activity reads the logins crossing a window edge when the as-of date
# moves through it.
TIME_RANGE_INDEXES = {"customer_logins": "login_at"}


def time_range_index_ddl(table: contract.Table) -> sql.Composed | None:
    column = TIME_RANGE_INDEXES.get(table.name)
    if column is None:
        return None
    return sql.SQL("create index if not exists {} on {} using brin ({})").format(
        _ident(f"{table.name}_{column}_brin"), _ident(SCHEMA_SOURCES, table.name), _ident(column))


# Tables an incremental model reads by a key of another table: a btree index on the key as the staging view exposes
# it (trimmed), so that
# - mart_ticket_analytics reads the tickets of the night's changed customers (`customer_id = any(<ids>)`,
#   macros/changed_tickets.sql) instead of scanning every ticket;
# - int_customer_login_totals recounts the logins of the customers a night's logins touched, customer by customer
#   (all of a customer's logins: the key alone serves, and its repeats are stored once — btree deduplication: ~6
#   bytes a login instead of ~38 with login_at beside it), and int_customer_churn_activity looks up a customer's last
#   login before its as-of date (after a backfill);
# - int_customer_churn_activity reads the customer row, holdings and tickets of the customers a night affected,
#   customer by customer (customers, customer_products, support_tickets).
# Dropped and built once around a first (bulk) load, like the `_batch_id` index.
KEY_LOOKUP_INDEXES = {"customers": "customer_id", "customer_products": "customer_id", "support_tickets": "customer_id",
                      "customer_logins": "customer_id"}


def key_lookup_index_name(table: contract.Table) -> str | None:
    key = KEY_LOOKUP_INDEXES.get(table.name)
    return None if key is None else f"{table.name}_{key}_trimmed"


def key_lookup_index_ddl(table: contract.Table) -> sql.Composed | None:
    name = key_lookup_index_name(table)
    if name is None:
        return None
    return sql.SQL("create index if not exists {} on {} ((trim({})))").format(
        _ident(name), _ident(SCHEMA_SOURCES, table.name), _ident(KEY_LOOKUP_INDEXES[table.name]))


def drop_outdated_key_lookup_index(conn: psycopg.Connection, table: contract.Table) -> bool:
    """Drop the key-lookup index an earlier version built under the same name on more columns (the logins' had
    login_at after the key), so that key_lookup_index_ddl builds today's; True when one was dropped."""
    name = key_lookup_index_name(table)
    return name is not None and _drop_index_if(conn, name, "indnatts > 1")


def upgrade_source_table(conn: psycopg.Connection, table: contract.Table) -> bool:
    """Bring a table created by an earlier version to today's DDL (audit defaults, not-null required columns)."""
    has_default = conn.execute(
        "select atthasdef from pg_attribute where attrelid = %s::regclass and attname = '_batch_id'",
        (f"{SCHEMA_SOURCES}.{table.name}",)).fetchone()[0]
    if has_default:
        return False
    changes = [sql.SQL("alter column {} set default {}").format(_ident(name), _audit_default(name, pg_type))
               for name, pg_type in contract.AUDIT_COLUMNS]
    changes += [sql.SQL("alter column {} set not null").format(_ident(c.name)) for c in table.columns if c.required]
    conn.execute(sql.SQL("alter table {} {}").format(_ident(SCHEMA_SOURCES, table.name), sql.SQL(", ").join(changes)))
    return True


# Relations of earlier versions' dbt models that no model builds any more (dbt leaves a removed model's table behind):
# int_customer_login_days (logins per customer per day, ~1 row per login) gave way to reading the logins through
# KEY_LOOKUP_INDEXES.
RETIRED_MODEL_TABLES = ((SCHEMA_MARTS, "int_customer_login_days"),)


# Incremental model tables an earlier version built without a column this version merges (on_schema_change='fail'
# would refuse the night's build): dropped, so that the next build creates them whole. int_customer_login_totals
# gained login_days (the churn mart counts its login windows in it); int_customer_churn_activity gave its login
# counts and frequency points to the churn mart and gained _merged_at (the rows its last build merged), then a copy of
# the login totals' login_days (the churn mart reads it without joining the login totals).
OUTDATED_MODEL_TABLES = {
    (SCHEMA_MARTS, "int_customer_login_totals"): "login_days",
    (SCHEMA_MARTS, "int_customer_churn_activity"): "login_days",
    # one row per customer and date, flagged with its lists (was one row per list and customer, with list_name):
    # the stored dates' lists go with it, the next build stores its own date's again
    (SCHEMA_MARTS, "churn_list_snapshots"): "in_churned_customers",
}


def _drop_model_table(conn: psycopg.Connection, schema: str, name: str) -> None:
    """Drop a dbt model's table, if there, and its build watermark (the next build starts it afresh).

    With the views built on it (the churn mart and the serving / pii views over it): the next build creates them
    again, with their grants; until then the reader does not see them.
    """
    conn.execute(sql.SQL("drop table if exists {} cascade").format(_ident(schema, name)))
    conn.execute("delete from audit.build_watermarks where model_name = %s", (f"{schema}.{name}",))


def drop_retired_model_tables(conn: psycopg.Connection) -> list[str]:
    """Drop them, and their build watermarks; returns what was dropped."""
    dropped = []
    for schema, name in RETIRED_MODEL_TABLES:
        if conn.execute("select to_regclass(%s)", (f"{schema}.{name}",)).fetchone()[0] is not None:
            dropped.append(f"retired {schema}.{name} dropped")
        _drop_model_table(conn, schema, name)
    return dropped


def drop_outdated_model_tables(conn: psycopg.Connection) -> list[str]:
    """Drop those lacking their column, and their build watermarks; returns what was dropped."""
    dropped = []
    for (schema, name), column in OUTDATED_MODEL_TABLES.items():
        if conn.execute("select to_regclass(%s)", (f"{schema}.{name}",)).fetchone()[0] is None:
            continue
        has_column = conn.execute(
            "select exists (select from pg_attribute where attrelid = %s::regclass and attname = %s"
            " and not attisdropped)", (f"{schema}.{name}", column)).fetchone()[0]
        if not has_column:
            _drop_model_table(conn, schema, name)
            dropped.append(f"{schema}.{name} without {column} dropped (the next build creates it whole)")
    return dropped


# Audit columns earlier versions wrote on every row, now kept once per load in the load log (contract.AUDIT_COLUMNS).
RETIRED_AUDIT_COLUMNS = ("_source_file",)


def drop_retired_audit_columns(conn: psycopg.Connection, table: contract.Table) -> list[str]:
    """Drop them from a table created by an earlier version; returns the columns dropped. CASCADE drops the dbt
    staging views that select them (`select *`); the next transform's first models recreate those views."""
    present = [r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attname = any(%s) and not attisdropped",
        (f"{SCHEMA_SOURCES}.{table.name}", list(RETIRED_AUDIT_COLUMNS))).fetchall()]
    for column in present:
        conn.execute(sql.SQL("alter table {} drop column {} cascade").format(
            _ident(SCHEMA_SOURCES, table.name), _ident(column)))
    return present


def _grants(settings: Settings) -> list[sql.Composable]:
    loader, transformer, reader, pii_reader = (_ident(r) for r in settings.roles.all())
    db = _ident(settings.warehouse_db)
    src, stg, marts, audit = (_ident(s) for s in (SCHEMA_SOURCES, SCHEMA_STAGING, SCHEMA_MARTS, SCHEMA_AUDIT))
    serving, pii, private = (_ident(s) for s in (SCHEMA_SERVING, SCHEMA_PII, SCHEMA_PRIVATE))
    q = sql.SQL
    return [
        q("revoke all on database {} from public").format(db),
        q("grant connect, temporary on database {} to {}, {}, {}").format(db, loader, transformer, reader),
        q("grant connect on database {} to {}").format(db, pii_reader),
        q("revoke all on schema public from public"),
        q("alter schema {} owner to {}").format(src, loader),
        q("alter schema {} owner to {}").format(audit, loader),
        q("alter schema {} owner to {}").format(stg, transformer),
        q("alter schema {} owner to {}").format(marts, transformer),
        q("alter schema {} owner to {}").format(serving, transformer),
        q("alter schema {} owner to {}").format(pii, transformer),
        q("grant usage on schema {} to {}").format(src, transformer),
        q("grant select on all tables in schema {} to {}").format(src, transformer),
        q("alter default privileges for role {} in schema {} grant select on tables to {}").format(
            loader, src, transformer
        ),
        # The reader sees `serving` only: an earlier version let it read the raw marts — take that back.
        q("revoke all on schema {} from {}").format(marts, reader),
        q("revoke all on all tables in schema {} from {}").format(marts, reader),
        q("alter default privileges for role {} in schema {} revoke select on tables from {}").format(
            transformer, marts, reader
        ),
        q("grant usage on schema {} to {}").format(serving, reader),  # each view: dbt's `grants`, every build
        q("grant usage on schema {} to {}").format(pii, pii_reader),  # its one view: dbt's `grants`, every build
        # The masking key: the transformer reads it (as owner of the serving views that HMAC with it), nobody else.
        q("revoke all on schema {} from public").format(private),
        q("grant usage on schema {} to {}").format(private, transformer),
        q("grant select on {} to {}").format(_ident(SCHEMA_PRIVATE, MASKING_KEY_TABLE), transformer),
    ]


IS_VALID_PG16 = """
create or replace function audit.sa_is_valid(value text, type_name text) returns boolean
language sql stable parallel safe as $$ select pg_input_is_valid(value, type_name) $$
"""
# PostgreSQL 15 has no pg_input_is_valid(): try the cast and catch the error (slower, same answers).
IS_VALID_PG15 = """
create or replace function audit.sa_is_valid(value text, type_name text) returns boolean
language plpgsql stable as $$
begin
    execute format('select %L::%s', value, type_name);
    return true;
exception when others then
    return false;
end $$
"""


# The bootstrap is one transaction. Its grants update the tables' pg_class rows, so an autovacuum ANALYZE of a source
# table can end up waiting for that transaction while the bootstrap's DDL on the same table (an outdated index
# dropped) waits for the autovacuum: PostgreSQL then aborts the bootstrap with "deadlock detected" (seen once in
# tests/integration/test_warehouse.py). Everything rolled back, it is run again after a pause.
BOOTSTRAP_ATTEMPTS = 3


def bootstrap(settings: Settings | None = None) -> list[str]:
    """Bring the warehouse to the expected shape; returns a short log of what was created."""
    settings = settings or get_settings()
    created: list[str] = []
    if ensure_database(settings.warehouse_db, settings):
        created.append(f"database {settings.warehouse_db}")
    for attempt in range(1, BOOTSTRAP_ATTEMPTS):
        try:
            return created + _bootstrap_warehouse(settings)
        except psycopg.errors.DeadlockDetected:
            time.sleep(attempt)
    return created + _bootstrap_warehouse(settings)  # the last attempt: a deadlock now is raised


def _bootstrap_warehouse(settings: Settings) -> list[str]:
    """Roles, schemas, source tables, audit tables and grants, in one transaction; what it created or changed."""
    created: list[str] = []
    with connect("admin", settings) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('support-analytics bootstrap'))")
        _ensure_roles(conn, settings)
        for schema in ALL_SCHEMAS:
            conn.execute(sql.SQL("create schema if not exists {}").format(_ident(schema)))
        if install_masking_key(conn, settings):
            created.append(f"masking key in {SCHEMA_PRIVATE}.{MASKING_KEY_TABLE}")
        for statement in _grants(settings):
            conn.execute(statement)
        # Tables are created as the loader so that it owns them (and default privileges apply).
        conn.execute(sql.SQL("set local role {}").format(_ident(settings.roles.loader)))
        for table in contract.TABLES:
            conn.execute(source_table_ddl(table))
            if upgrade_source_table(conn, table):
                created.append(f"audit defaults on {SCHEMA_SOURCES}.{table.name}")
            if dropped := drop_retired_audit_columns(conn, table):
                created.append(f"{SCHEMA_SOURCES}.{table.name} without {', '.join(dropped)}")
            if drop_outdated_batch_id_index(conn, table):
                created.append(f"_batch_id index of {SCHEMA_SOURCES}.{table.name} rebuilt without the history batch")
            conn.execute(batch_id_index_ddl(table))
            if (time_index := time_range_index_ddl(table)) is not None:
                conn.execute(time_index)
            if drop_outdated_key_lookup_index(conn, table):
                created.append(f"key-lookup index of {SCHEMA_SOURCES}.{table.name} rebuilt on the key alone")
            if (key_index := key_lookup_index_ddl(table)) is not None:
                conn.execute(key_index)
        conn.execute((SQL_DIR / "audit.sql").read_text())
        version = int(conn.execute("show server_version_num").fetchone()[0])
        conn.execute(IS_VALID_PG16 if version >= 160000 else IS_VALID_PG15)
        conn.execute("reset role")
        created += drop_retired_model_tables(conn)
        created += drop_outdated_model_tables(conn)
        transformer = _ident(settings.roles.transformer)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(SCHEMA_AUDIT), transformer))
        conn.execute(sql.SQL("grant select on {} to {}").format(_ident(SCHEMA_AUDIT, "committed_loads"), transformer))
        conn.execute(sql.SQL("grant select, insert, update on {} to {}").format(
            _ident(SCHEMA_AUDIT, "build_watermarks"), transformer))
        _pipeline_status_view(conn, settings)
    return created


def _pipeline_status_view(conn: psycopg.Connection, settings: Settings) -> None:
    """`serving.pipeline_status` over `audit`, owned by the loader (whose rights it reads audit with) and readable
    by the reader. Created here as the superuser, because the loader has no right to create in `serving`."""
    view = _ident(SCHEMA_SERVING, "pipeline_status")
    conn.execute((SQL_DIR / "pipeline_status.sql").read_text())
    conn.execute(sql.SQL("alter view {} owner to {}").format(view, _ident(settings.roles.loader)))
    conn.execute(sql.SQL("grant select on {} to {}").format(view, _ident(settings.roles.reader)))
