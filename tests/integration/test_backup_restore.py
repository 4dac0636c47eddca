"""Backup and restore (`sa warehouse backup|restore`) on the production path: this machine's PostgreSQL 15.

One module fixture: a fresh warehouse (database and role prefix of its own, as in test_external_warehouse.py) with
the simulated history landed and the marts built by `dbt run`, plus an Airflow metadata database with a table in
it; one backup; one restore into fresh databases beside the originals. The tests then compare the copy with the
original row for row (count and md5 of every relation), owner for owner and grant for grant, rebuild the marts on
the copy with dbt and compare again, use each role on the copy, and restore once more into a fresh PostgreSQL 15
cluster (initdb, no project role in it) whose pg_hba asks the roles for their passwords. Skipped, saying why, only
when no external server is reachable (and the fresh-cluster test when PostgreSQL 15's initdb is not installed).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import psycopg
import pytest

from include.cli import main
from include.config import PROJECT_ROOT, Settings
from include.ingest.batch import load_batch
from include.simulator import generate
from include.transform.runner import run_dbt
from include.warehouse import backup, bootstrap
from include.warehouse.connect import connect
from tests.external_pg import external_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.external]

SCHEMAS = ("analytics", "audit", "private", "staging", "marts", "serving", "pii")
MARTS = sorted(p.stem for p in (PROJECT_ROOT / "dbt" / "models" / "marts").glob("*.sql"))
SERVING = sorted(p.stem.removeprefix("serving_") for p in (PROJECT_ROOT / "dbt" / "models" / "serving").glob("*.sql"))
BUILD_STAMP = "serving.marts_build"  # one row: the build's invocation id and time — a rebuild changes those two
INITDB = Path("/usr/lib/postgresql/15/bin/initdb")


@dataclass(frozen=True)
class Restored:
    original: Settings  # the warehouse and its Airflow metadata DB (`airflow_db`)
    copy: Settings  # the same server, the restored databases
    directory: Path  # the backup
    manifest: dict
    restore_lines: list[str]
    dbt_artifacts: Path  # the first build's target (its partial parse spares the rebuild a full parse)


def _admin(settings: Settings, database: str | None = None) -> psycopg.Connection:
    return psycopg.connect(settings.admin_url(database), autocommit=True)


def fingerprints(settings: Settings, database: str | None = None) -> dict[str, tuple[int, str]]:
    """Every table and view of the project's schemas → (rows, md5 of its rows in order)."""
    with _admin(settings, database) as conn:
        relations = [f"{s}.{r}" for s, r in conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm') order by 1, 2", (list(SCHEMAS),))]
        return {rel: conn.execute(f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                                  f" from {rel} t").fetchone() for rel in relations}


def catalog(settings: Settings, database: str | None = None) -> dict[str, list[tuple]]:
    """Owners and grants: of the database, each schema, relation and function, and the default privileges. An ACL
    that is the default is compared as the default it means (pg_dump writes none for it)."""
    queries = {
        "database": "select pg_get_userbyid(datdba), coalesce(datacl, acldefault('d', datdba))::text"
                    " from pg_database where datname = current_database()",
        "schemas": "select nspname, pg_get_userbyid(nspowner), coalesce(nspacl, acldefault('n', nspowner))::text"
                   " from pg_namespace where nspname = any(%s)",
        "relations": "select n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner),"
                     " coalesce(c.relacl, acldefault(case c.relkind when 'S' then 's'::\"char\" else 'r' end,"
                     "                                c.relowner))::text"
                     " from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = any(%s)",
        "functions": "select n.nspname, p.proname, pg_get_userbyid(p.proowner),"
                     " coalesce(p.proacl, acldefault('f', p.proowner))::text"
                     " from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = any(%s)",
        "default_privileges": "select pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text,"
                              " defaclobjtype, defaclacl::text from pg_default_acl",
    }
    with _admin(settings, database) as conn:
        return {name: sorted(conn.execute(q, (list(SCHEMAS),) if "%s" in q else None).fetchall(), key=str)
                for name, q in queries.items()}


@pytest.fixture(scope="module")
def restored(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Restored]:
    landing = tmp_path_factory.mktemp("backup-landing")
    artifacts = tmp_path_factory.mktemp("backup-dbt")
    monkeypatch_module.setenv("SA_LANDING_ROOT", str(landing))
    with external_warehouse(monkeypatch_module, "sa_bk") as base:
        original = replace(base, airflow_db=f"{base.warehouse_db}_airflow")  # owner: role <prefix>_airflow
        copy = replace(original, warehouse_db=f"{base.warehouse_db}_copy",
                       airflow_db=f"{base.warehouse_db}_airflow_copy")
        try:
            bootstrap.bootstrap(original)
            bootstrap.ensure_metadata_database(original)
            with _admin(original, original.airflow_db) as conn:  # a stand-in for Airflow's tables, owned by its role
                conn.execute("create table dag_run (id serial primary key, dag_id text not null, state text)")
                conn.execute(f'alter table dag_run owner to "{original.airflow_db_owner}"')
                conn.execute("insert into dag_run (dag_id, state) values ('support_extract', 'success'),"
                             " ('support_transform', 'failed')")
            generate(landing, start=date(2025, 11, 1), end=date(2025, 11, 1))
            load_batch("history", original)
            run = run_dbt(["run"], original, target_path=artifacts / "target", log_path=artifacts / "logs")
            assert run.success, run.summary()  # the rebuild on the copy runs dbt's tests too
            directory = tmp_path_factory.mktemp("backup") / "nightly"
            manifest = backup.backup(original, directory)
            lines = backup.restore(original, directory, into=copy.warehouse_db, airflow_into=copy.airflow_db)
            yield Restored(original, copy, directory, manifest, lines, artifacts)
        finally:
            with _admin(original, "postgres") as conn:
                for db in (copy.warehouse_db, copy.airflow_db, original.airflow_db):
                    conn.execute(f'drop database if exists "{db}" with (force)')
                conn.execute(f'drop role if exists "{original.airflow_db_owner}"')


def test_the_backup_holds_both_databases_the_roles_and_a_manifest(restored: Restored) -> None:
    manifest, original = restored.manifest, restored.original
    assert {d["kind"]: d["name"] for d in manifest["databases"]} == {
        "warehouse": original.warehouse_db, "airflow": original.airflow_db}
    assert manifest["server"]["version_num"] // 10000 == manifest["pg_dump"]["major"] == 15  # the matching pg_dump
    assert set(manifest["roles"]["names"]) == {*original.roles.all(), original.airflow_db_owner}
    assert manifest["skipped"] == []
    for entry in manifest["databases"]:
        assert entry["dump_bytes"] == (restored.directory / entry["file"]).stat().st_size > 0
        assert entry["database_bytes"] > entry["dump_bytes"]
    files = sorted(p.name for p in restored.directory.iterdir())
    assert files == ["airflow.dump", "manifest.json", "roles.sql", "warehouse.dump"]
    for path in restored.directory.iterdir():  # PII, the masking key's pads, password hashes: owner only
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads((restored.directory / "manifest.json").read_text()) == manifest
    assert restored.restore_lines[0] == f"roles: created none; kept existing {', '.join(manifest['roles']['names'])}"


def test_the_restored_copy_is_identical_row_for_row_and_grant_for_grant(restored: Restored) -> None:
    original = fingerprints(restored.original)
    assert {f"marts.{m}" for m in MARTS} | {f"serving.{v}" for v in SERVING} <= set(original)
    assert original["marts.mart_ticket_analytics"][0] > 10_000
    assert fingerprints(restored.copy) == original
    assert catalog(restored.copy) == catalog(restored.original)


def test_marts_rebuilt_by_dbt_on_the_copy_are_identical(restored: Restored) -> None:
    """The marts (every model in dbt/models/marts) and the serving views, rebuilt on the restored database, equal the
    original's row for row; of the build stamp, its as-of date (the invocation id and build time are new)."""
    artifacts = restored.dbt_artifacts
    build = run_dbt(["build"], restored.copy, target_path=artifacts / "target", log_path=artifacts / "logs")
    assert build.success, build.summary()
    built = {n.name for n in build.nodes if n.resource_type == "model"}
    assert set(MARTS) <= built
    before, after = fingerprints(restored.original), fingerprints(restored.copy)
    compared = [r for r in before if r.split(".")[0] in ("marts", "serving", "pii") and r != BUILD_STAMP]
    assert len(compared) >= len(MARTS) + len(SERVING)
    assert {r: after[r] for r in compared} == {r: before[r] for r in compared}
    stamp = f"select as_of_date, built_at from {BUILD_STAMP}"
    with connect("reader", restored.original) as old, connect("reader", restored.copy) as new:
        (old_as_of, old_built), (new_as_of, new_built) = old.execute(stamp).fetchone(), new.execute(stamp).fetchone()
    assert new_as_of == old_as_of and new_built > old_built
    assert catalog(restored.copy)["schemas"] == catalog(restored.original)["schemas"]


def test_roles_read_and_write_the_copy_as_before(restored: Restored) -> None:
    copy = restored.copy
    with connect("reader", copy) as conn:
        assert conn.execute("select count(*) from serving.mart_churned_customers").fetchone()[0] > 9_000
        assert conn.execute("select count(*) from serving.pipeline_status").fetchone()[0] >= 0
        for denied in ("select 1 from marts.mart_churned_customers", "select 1 from analytics.customers",
                       "select 1 from private.masking_key"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(denied)
            conn.rollback()
    with connect("pii_reader", copy) as conn:
        assert conn.execute("select count(*) from pii.churn_list_snapshots").fetchone()[0] > 0
    with connect("loader", copy) as conn:
        conn.execute("delete from audit.quarantine")
        landed = conn.execute("update analytics.customers set city = city where customer_id in"
                              " (select customer_id from analytics.customers limit 5)").rowcount
        assert landed == 5
        conn.rollback()
    with connect("transformer", copy) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("truncate analytics.customers")
        conn.rollback()
        conn.execute("create table staging.scratch as select 1 as one")  # it owns staging
        conn.rollback()
    with psycopg.connect(copy.metadata_db_url().replace("+psycopg2", "", 1)) as conn:  # Airflow's owner
        assert conn.execute("select dag_id, state from dag_run order by id").fetchall() == [
            ("support_extract", "success"), ("support_transform", "failed")]
        conn.execute("insert into dag_run (dag_id) values ('support_churn_export')")  # its sequence came back too


def test_restore_refuses_what_it_must_not_overwrite_in_one_line(restored: Restored, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    original, directory = restored.original, restored.directory
    with pytest.raises(backup.BackupError, match=f"database {original.warehouse_db} exists and is not empty"):
        backup.restore(original, directory)
    with pytest.raises(backup.BackupError, match=f"database {restored.copy.airflow_db} exists and is not empty: "
                                                 "restore with --airflow-into"):
        backup.restore(original, directory, into=f"{original.warehouse_db}_x", airflow_into=restored.copy.airflow_db)
    with pytest.raises(backup.BackupError, match="already holds a backup"):
        backup.backup(original, directory)
    broken = tmp_path / "broken"
    shutil.copytree(directory, broken)
    (broken / "warehouse.dump").write_bytes((directory / "warehouse.dump").read_bytes()[:20_000])
    target = f"{original.warehouse_db}_broken"
    with pytest.raises(backup.BackupError, match=f"pg_restore of warehouse.dump into {target} failed: "):
        backup.restore(original, broken, into=target)
    with _admin(original, "postgres") as conn:  # a failed restore leaves no half-restored database behind
        assert conn.execute("select 1 from pg_database where datname = %s", (target,)).fetchone() is None
    (broken / "airflow.dump").unlink()
    for args, message in [
        (["restore", str(tmp_path / "nowhere")], f"no backup directory {tmp_path / 'nowhere'}"),
        (["restore", str(tmp_path)], f"{tmp_path} has no manifest.json"),
        (["restore", str(broken), "--into", target], f"{broken / 'airflow.dump'} is missing"),
    ]:
        assert main(["warehouse", *args]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"sa warehouse restore: {message}") and "\n" not in err, err


def test_backup_without_an_airflow_database_says_so(restored: Restored, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AIRFLOW_METADATA_DB", "sa_no_such_database")
    assert main(["warehouse", "backup", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "note: airflow database sa_no_such_database does not exist: not backed up" in out
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json", "roles.sql", "warehouse.dump"]


@contextmanager
def fresh_cluster() -> Iterator[str]:
    """A new, empty PostgreSQL 15 cluster on a free port (no project role in it): the superuser `postgres` logs in
    without a password, every other role needs its password (scram-sha-256). Yields its server URL."""
    if not INITDB.exists():
        pytest.skip(f"no {INITDB} to create a fresh PostgreSQL 15 cluster with")
    user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    data = Path(tempfile.mkdtemp(prefix="sa-fresh-pg-"))
    if user:
        shutil.chown(data, user)
    bindir = INITDB.parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def run(*args: str) -> None:
        subprocess.run(args, user=user, check=True, capture_output=True, timeout=60)

    try:
        run(str(INITDB), "-D", str(data / "pg"), "-U", "postgres", "-E", "UTF8", "--no-sync", "--auth=trust")
        (data / "pg" / "pg_hba.conf").write_text("host all postgres 127.0.0.1/32 trust\n"
                                                 "host all all 127.0.0.1/32 scram-sha-256\n")
        run(str(bindir / "pg_ctl"), "-D", str(data / "pg"), "-w", "-l", str(data / "log"), "start", "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data / "pg"), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_restore_into_a_fresh_cluster_brings_roles_owners_grants_and_passwords(restored: Restored) -> None:
    with fresh_cluster() as server:
        fresh = replace(restored.original, external_warehouse_url=f"{server}/{restored.original.warehouse_db}")
        lines = backup.restore(fresh, restored.directory)
        assert lines[0] == f"roles: created {', '.join(restored.manifest['roles']['names'])}"
        assert fingerprints(fresh) == fingerprints(restored.original)
        assert catalog(fresh) == catalog(restored.original)
        with connect("reader", fresh) as conn:  # its password hash came back: scram-sha-256 accepts it
            assert conn.execute("select count(*) from serving.mart_churned_customers").fetchone()[0] > 9_000
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select 1 from marts.mart_churned_customers")
        with psycopg.connect(fresh.metadata_db_url().replace("+psycopg2", "", 1)) as conn:
            assert conn.execute("select count(*) from dag_run").fetchone()[0] == 2
