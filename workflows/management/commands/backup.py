"""`manage.py backup PATH`: one tar.gz with the database, the workspaces and a manifest.

SQLite databases (the default one and the queue's own file) are copied with SQLite's
online backup API, so the app may keep running; PostgreSQL is dumped with
`pg_dump --format=custom` inside an exported snapshot, so the row counts in the manifest
describe exactly what the dump holds. Workspaces under DATA_DIR/workspaces are copied;
projects whose workspace lives elsewhere (WORKSPACE_ROOTS) are listed in the manifest for
the operator to back up with the rest of that directory. `manage.py restore` reads it.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from workflows.models import Project

FORMAT = "smartspec-backup"
VERSION = 1
MANIFEST = "manifest.json"
WORKSPACES = "workspaces"
SECRET_KEY_FILE = "secret-key"  # noqa: S105 (a file name, not a secret)


class Command(BaseCommand):
    help = (
        "Write one archive (tar.gz) holding the database, the workspaces under "
        "DATA_DIR/workspaces and a manifest; `manage.py restore` reads it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The archive to write, or a directory to write it in.")

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        target = archive_path(Path(path))
        began = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix=".smartspec-backup-", dir=target.parent) as tmp:
                databases = dump_databases(Path(tmp))
                manifest = build_manifest(databases)
                write_archive(target, manifest, databases)
        except OSError as exc:  # e.g. the directory is not writable, or the disk is full
            raise CommandError(f"Could not write the backup in {target.parent}: {exc}") from None
        rows = sum(sum(d["tables"].values()) for d in manifest["databases"].values())
        self.stdout.write(
            f"Backup written to {target} ({target.stat().st_size / 1e6:.1f} MB, "
            f"{time.monotonic() - began:.1f} s): {manifest['engine']} database, "
            f"{rows} rows; {len(manifest['workspaces']['copied'])} workspace(s) copied."
        )
        for item in manifest["workspaces"]["external"]:
            self.stdout.write(
                f"Not in the archive: project {item['project']!r} keeps its workspace at "
                f"{item['workspace']}; back that directory up separately."
            )


def archive_path(path: Path) -> Path:
    if path.is_dir():
        return path / f"smartspec-backup-{timezone.now():%Y%m%d-%H%M%S}.tar.gz"
    if not path.parent.is_dir():
        raise CommandError(f"Cannot write {path}: the directory {path.parent} does not exist.")
    return path


def engine() -> str:
    return str(connections["default"].vendor)


# --- Databases -------------------------------------------------------------------------------


def dump_databases(tmp: Path) -> dict[str, dict[str, Any]]:
    """{alias: {"file": name in the archive, "local": Path, "tables": {table: rows}}}."""
    if engine() == "sqlite":
        return {
            alias: dump_sqlite(alias, tmp)
            for alias in settings.DATABASES
            if connections[alias].vendor == "sqlite"
        }
    if engine() == "postgresql":
        return {"default": dump_postgresql(tmp)}
    raise CommandError(f"Backups support SQLite and PostgreSQL, not {engine()}.")


def dump_sqlite(alias: str, tmp: Path) -> dict[str, Any]:
    source_path = Path(settings.DATABASES[alias]["NAME"])
    if not source_path.is_file():
        raise CommandError(f"The {alias} database {source_path} does not exist; run `manage.py migrate_all`.")
    local = tmp / f"{alias}.sqlite3"
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(local)
    try:
        # The online backup API copies a consistent snapshot while the app keeps writing.
        source.backup(copy)
        # One self-contained file: no -wal beside it in the archive.
        copy.execute("PRAGMA journal_mode=DELETE")
        tables = sqlite_row_counts(copy)
    except sqlite3.Error as exc:
        raise CommandError(f"Could not copy the {alias} database {source_path}: {exc}") from None
    finally:
        copy.close()
        source.close()
    return {"file": f"db/{alias}.sqlite3", "local": local, "tables": tables}


def sqlite_row_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608


def dump_postgresql(tmp: Path) -> dict[str, Any]:
    local = tmp / "default.pgdump"
    connection = connections["default"]
    try:
        if connection.in_atomic_block:
            # Inside someone's transaction no snapshot can be exported; counts are taken apart.
            pg_dump(local, snapshot=None)
            return {"file": "db/default.pgdump", "local": local, "tables": pg_row_counts()}
        with transaction.atomic(using="default"), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            # pg_dump reads the very snapshot the counts below are taken in.
            pg_dump(local, snapshot=snapshot)
            tables = pg_row_counts()
    except DatabaseError as exc:
        raise CommandError(f"Could not read the database: {exc}") from None
    return {"file": "db/default.pgdump", "local": local, "tables": tables}


def pg_row_counts() -> dict[str, int]:
    connection = connections["default"]
    with connection.cursor() as cursor:
        names = sorted(connection.introspection.table_names(cursor))
        counts = {}
        for name in names:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608
            counts[name] = cursor.fetchone()[0]
    return counts


def pg_dump(local: Path, snapshot: str | None) -> None:
    command = [pg_tool("pg_dump"), "--format=custom", f"--file={local}"]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    run_pg_tool(command, settings.DATABASES["default"])


def pg_tool(name: str) -> str:
    """A PostgreSQL client program: on PATH, or the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        number = Path(path).parents[1].name
        return tuple(int(part) for part in number.split(".") if part.isdigit())

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if candidates:
        return candidates[-1]
    raise CommandError(
        f"{name} was not found on PATH or in /usr/lib/postgresql/*/bin; install the "
        "PostgreSQL client tools (Debian: apt-get install postgresql-client)."
    )


def pg_environment(conf: dict[str, Any]) -> dict[str, str]:
    """Connection settings for pg_dump and pg_restore, passed in the environment so the
    password never shows in a process listing."""
    env = dict(os.environ)
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if conf.get(key):
            env[variable] = str(conf[key])
    options = conf.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return env


def run_pg_tool(command: list[str], conf: dict[str, Any]) -> None:
    try:
        done = subprocess.run(command, env=pg_environment(conf), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise CommandError(f"Could not run {command[0]}: {exc}") from None
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise CommandError(f"{Path(command[0]).name} failed (exit {done.returncode}):\n{detail}")


def applied_migrations() -> list[str]:
    connection = connections["default"]
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return []
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        return [f"{app}.{name}" for app, name in cursor.fetchall()]


# --- Workspaces and the manifest -----------------------------------------------------------------


def workspaces_root() -> Path:
    return (Path(settings.DATA_DIR) / WORKSPACES).resolve()


def workspace_plan() -> dict[str, Any]:
    root = workspaces_root()
    copied, external = [], []
    for slug, workspace in Project.objects.order_by("slug").values_list("slug", "workspace"):
        path = Path(workspace).resolve()
        if path.is_relative_to(root):
            copied.append(slug)
        else:
            external.append({"project": slug, "workspace": workspace})
    return {"directory": WORKSPACES, "copied": copied, "external": external}


def build_manifest(databases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": timezone.now().isoformat(),
        "engine": engine(),
        "django": django.get_version(),
        "data_dir": str(Path(settings.DATA_DIR).resolve()),
        "databases": {
            alias: {"file": entry["file"], "tables": entry["tables"]} for alias, entry in databases.items()
        },
        "migrations": applied_migrations(),
        "workspaces": workspace_plan(),
        "secret_key": (Path(settings.DATA_DIR) / SECRET_KEY_FILE).is_file(),
    }


def write_archive(target: Path, manifest: dict[str, Any], databases: dict[str, Any]) -> None:
    """Written beside the target and renamed at the end, so a failed backup never leaves a
    truncated archive under the real name. Readable by the owner only: it holds password
    hashes and, without SECRET_KEY in the environment, the generated secret key."""
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for entry in databases.values():
                tar.add(entry["local"], arcname=entry["file"])
            root = workspaces_root()
            if root.is_dir():
                tar.add(root, arcname=WORKSPACES)
            if manifest["secret_key"]:
                tar.add(Path(settings.DATA_DIR) / SECRET_KEY_FILE, arcname=SECRET_KEY_FILE)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"Could not write {target}: {exc}") from None
