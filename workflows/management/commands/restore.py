"""`manage.py restore PATH`: put a `manage.py backup` archive back, into an empty database.

The whole archive is read (and every database in it checked) before anything changes, so
a damaged archive fails cleanly. SQLite files are replaced whole, with this process's
connections closed; stop the web and worker processes first. PostgreSQL is restored with
`pg_restore --clean --if-exists` in one transaction. Workspaces go back under
DATA_DIR/workspaces; when DATA_DIR differs from the backed-up machine's, projects that
pointed into the old workspaces directory are pointed at the new one. Row counts are then
compared with the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

from workflows.management.commands.backup import (
    FORMAT,
    MANIFEST,
    SECRET_KEY_FILE,
    VERSION,
    WORKSPACES,
    engine,
    pg_row_counts,
    pg_tool,
    run_pg_tool,
    sqlite_row_counts,
    workspaces_root,
)
from workflows.models import Project

# A database holding any of these rows is in use: restoring over it would lose data.
IN_USE_TABLES = ("workflows_run", "accounts_team", "auth_user")
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError)


class Command(BaseCommand):
    help = "Restore a `manage.py backup` archive into an empty database (see --force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The archive written by `manage.py backup`.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Restore even though the database already holds runs, teams or users (they are replaced).",
        )

    def handle(self, *args: Any, path: str, force: bool, **options: Any) -> None:
        archive = Path(path)
        if not archive.is_file():
            raise CommandError(f"No backup archive at {archive}.")
        with tempfile.TemporaryDirectory(prefix=".smartspec-restore-", dir=settings.DATA_DIR) as tmp:
            manifest, staged = read_archive(archive, Path(tmp))
            check_compatible(manifest)
            if not force:
                refuse_unless_empty()
            self.restore_databases(manifest, staged)
        skipped = self.restore_files(archive, manifest)
        self.after_restore(manifest, skipped)

    # --- steps ------------------------------------------------------------------------------

    def restore_databases(self, manifest: dict[str, Any], staged: dict[str, Path]) -> None:
        connections.close_all()
        if manifest["engine"] == "sqlite":
            for alias, file in staged.items():
                if alias not in settings.DATABASES or connections[alias].vendor != "sqlite":
                    self.stdout.write(
                        f"Skipped the archive's {alias!r} database: this installation has no "
                        "such SQLite database (the Redis broker replaces the queue database)."
                    )
                    continue
                replace_sqlite(Path(settings.DATABASES[alias]["NAME"]), file)
        else:
            restore_postgresql(staged["default"])
        connections.close_all()

    def restore_files(self, archive: Path, manifest: dict[str, Any]) -> list[str]:
        skipped: list[str] = []
        with open_archive(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f"{WORKSPACES}/")]
            workspaces_root().mkdir(parents=True, exist_ok=True)
            # Safe: the data filter refuses entries and links that leave DATA_DIR.
            tar.extractall(settings.DATA_DIR, members=members, filter=safe_filter(skipped))  # noqa: S202
            if manifest.get("secret_key"):
                self.restore_secret_key(tar)
        return skipped

    def restore_secret_key(self, tar: tarfile.TarFile) -> None:
        if os.environ.get("SECRET_KEY"):
            self.stdout.write(
                "The archive holds the generated secret key, but SECRET_KEY comes from the "
                "environment here: keep it equal to the old one so sessions and emailed "
                "approval links stay valid."
            )
            return
        source = tar.extractfile(SECRET_KEY_FILE)
        if source is None:
            raise CommandError("The archive's secret-key entry is not a file.")
        key_file = Path(settings.DATA_DIR) / SECRET_KEY_FILE
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)

    def after_restore(self, manifest: dict[str, Any], skipped: list[str]) -> None:
        moved = repoint_workspaces(Path(manifest["data_dir"]))
        verify_counts(manifest)
        rows = sum(sum(d["tables"].values()) for d in manifest["databases"].values())
        self.stdout.write(
            f"Restored the backup of {manifest['created_at']}: {rows} rows in "
            f"{len(manifest['databases'])} database(s), matching the manifest; "
            f"{len(manifest['workspaces']['copied'])} workspace(s) under {workspaces_root()}."
        )
        if moved:
            self.stdout.write(f"{moved} project(s) now point at workspaces under {workspaces_root()}.")
        for entry in skipped:
            self.stdout.write(f"Skipped an unsafe archive entry: {entry}")
        for item in manifest["workspaces"]["external"]:
            self.stdout.write(
                f"Not in the archive: the workspace of project {item['project']!r} at "
                f"{item['workspace']}; restore that directory separately."
            )
        newer = pending_migrations(manifest)
        if newer:
            self.stdout.write(
                f"This version has {len(newer)} migration(s) the backup predates: run "
                "`manage.py migrate_all` before starting the app."
            )


# --- Reading the archive ---------------------------------------------------------------------------


@contextmanager
def open_archive(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            yield tar
    except ARCHIVE_ERRORS as exc:
        raise CommandError(
            f"{archive} is not a readable backup archive (damaged or not a tar.gz): {exc}"
        ) from None


def read_archive(archive: Path, tmp: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest and the database files, staged in `tmp`, after reading every entry:
    a truncated or corrupt archive fails here, before the database is touched."""
    with open_archive(archive) as tar:
        manifest = _manifest(tar, archive)
        wanted = {entry["file"]: alias for alias, entry in manifest["databases"].items()}
        staged: dict[str, Path] = {}
        for member in tar:
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                continue
            if member.name in wanted:
                staged[wanted[member.name]] = tmp / Path(member.name).name
                with staged[wanted[member.name]].open("wb") as out:
                    shutil.copyfileobj(source, out)
            else:
                while source.read(1 << 20):  # reading checks the gzip CRC of every entry
                    pass
    missing = sorted(set(wanted.values()) - set(staged))
    if missing:
        raise CommandError(f"{archive} lacks the database file(s) of {', '.join(missing)}.")
    for alias, file in staged.items():
        check_database_file(manifest["engine"], alias, file)
    return manifest, staged


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        source = tar.extractfile(MANIFEST)
    except KeyError:
        source = None
    if source is None:
        raise CommandError(f"{archive} has no {MANIFEST}: it was not written by `manage.py backup`.")
    try:
        manifest = json.loads(source.read())
    except ValueError as exc:
        raise CommandError(f"The manifest of {archive} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError(f"{archive} is not a SmartSpec backup.")
    if manifest.get("version") != VERSION:
        raise CommandError(
            f"{archive} is a version {manifest.get('version')} backup; this version of the "
            f"app reads version {VERSION}."
        )
    return manifest


def check_database_file(kind: str, alias: str, file: Path) -> None:
    if kind == "sqlite":
        try:
            db = sqlite3.connect(file)
            try:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error as exc:
            verdict = str(exc)
        if verdict != "ok":
            raise CommandError(f"The archive's {alias} database is damaged: {verdict}")
    else:
        # Lists the dump's contents, which fails on a damaged custom-format file.
        run_pg_tool([pg_tool("pg_restore"), "--list", str(file)], settings.DATABASES["default"])


def check_compatible(manifest: dict[str, Any]) -> None:
    here = engine()
    if manifest["engine"] != here:
        raise CommandError(
            f"The archive holds a {manifest['engine']} database and this installation uses "
            f"{here}; restore it into a {manifest['engine']} installation (DATABASE_URL).",
            returncode=2,
        )
    known = {f"{app}.{name}" for app, name in MigrationLoader(None).disk_migrations}
    unknown = sorted(set(manifest.get("migrations", [])) - known)
    if unknown:
        raise CommandError(
            "The backup was made by a newer version of the app (unknown migrations: "
            f"{', '.join(unknown[:5])}); upgrade the app first.",
            returncode=2,
        )


def refuse_unless_empty() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            used = []
            for table in IN_USE_TABLES:
                if table in tables:
                    cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608
                    if cursor.fetchone():
                        used.append(table)
    except DatabaseError as exc:
        raise CommandError(f"Could not read the database to restore into: {exc}") from None
    if used:
        raise CommandError(
            f"The database is not empty (rows in {', '.join(used)}); restore into an empty "
            "database, or pass --force to replace what it holds.",
            returncode=2,
        )


# --- Putting things back ------------------------------------------------------------------------


def replace_sqlite(target: Path, staged: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(staged, incoming)
    # A -wal or -shm file left beside the old database would be applied to the new one.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(incoming, target)


def restore_postgresql(dump: Path) -> None:
    conf = settings.DATABASES["default"]
    run_pg_tool(
        [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={conf['NAME']}",
            str(dump),
        ],
        conf,
    )


def safe_filter(skipped: list[str]) -> Any:
    """tarfile's "data" filter (nothing outside DATA_DIR, no devices, no absolute links),
    skipping an offending entry instead of stopping half-way."""

    def keep(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, destination)
        except tarfile.FilterError as exc:
            skipped.append(f"{member.name} ({exc})")
            return None

    return keep


def repoint_workspaces(old_data_dir: Path) -> int:
    """Projects whose workspace was under the old DATA_DIR/workspaces now point under this
    one (the same relative place), when the two differ."""
    old_root, new_root = old_data_dir / WORKSPACES, workspaces_root()
    if old_root == new_root:
        return 0
    moved = 0
    for pk, workspace in Project.objects.values_list("pk", "workspace"):
        path = Path(workspace)
        if path.is_relative_to(old_root):
            new = new_root / path.relative_to(old_root)
            moved += Project.objects.filter(pk=pk).update(workspace=str(new))
    return moved


def verify_counts(manifest: dict[str, Any]) -> None:
    differences = []
    for alias, entry in manifest["databases"].items():
        if alias not in settings.DATABASES:
            continue
        actual = counts_now(alias, manifest["engine"])
        for table, rows in entry["tables"].items():
            if actual.get(table) != rows:
                differences.append(f"{alias}.{table}: {actual.get(table)} rows, backup had {rows}")
    if differences:
        raise CommandError("The restored data differs from the manifest:\n" + "\n".join(differences))


def counts_now(alias: str, kind: str) -> dict[str, int]:
    if kind == "postgresql":
        return pg_row_counts()
    db = sqlite3.connect(settings.DATABASES[alias]["NAME"])
    try:
        return sqlite_row_counts(db)
    finally:
        db.close()


def pending_migrations(manifest: dict[str, Any]) -> list[str]:
    known = {f"{app}.{name}" for app, name in MigrationLoader(None).disk_migrations}
    return sorted(known - set(manifest.get("migrations", [])))
