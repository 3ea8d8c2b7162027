"""Read a SmartSpec workspace without ever leaving it.

Every path that comes from a user or a spec goes through `Workspace.resolve`, which refuses
absolute paths, `..` and symlinks that land outside the workspace. Files are read through
`Workspace.read_text`, which skips binary and oversized files instead of loading them.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from workflows.domain.spec_formats import DEFAULT_OPTIONS, ReadOptions, SpecFormat
from workflows.domain.texts import Text

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
BINARY_SNIFF_BYTES = 8192
SPEC_FILES = ("spec.md", "plan.md", "tasks.md")
SPECS_DIR = "specs"
REPORTS_DIR = ".spec/reports"
# A spec id is its folder's name: ASCII letters, digits, '-', '_' and single dots, so that it
# is safe in a URL path and an API parameter as it is (workflows/domain/layouts.py).
SPEC_ID_MAX_LENGTH = 200
SPEC_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-]){0,199}$"
SPEC_ID_RE = re.compile(SPEC_ID_PATTERN)
SPEC_ID_RULE = "ASCII letters, digits, '-', '_' and single dots, at most 200 characters"


def is_spec_id(name: str) -> bool:
    """Whether `name` can be a spec id (SPEC_ID_RULE)."""
    return len(name) <= SPEC_ID_MAX_LENGTH and SPEC_ID_RE.match(name) is not None


_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class WorkspaceError(Exception):
    """The workspace itself cannot be used (missing, or not a directory)."""


class ScopeError(ValueError):
    """A path was refused because it does not stay inside the workspace."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r}: {reason}")
        self.path = path
        self.reason = reason


class UnknownSpec(LookupError):
    def __init__(self, spec_id: str) -> None:
        super().__init__(Text("no spec {spec!r} in this workspace", spec=spec_id))
        self.spec_id = spec_id


@dataclass(frozen=True)
class Stamp:
    """What changes when a file changes; the cache keys on it (inode catches atomic renames)."""

    mtime_ns: int
    size: int
    ino: int


@dataclass(frozen=True)
class FileRead:
    """The text of a workspace file, or why there is none (`problem` is then set)."""

    rel: str
    text: str | None
    problem: str | None = None  # "missing", "not_a_file", "binary", "oversized", "unreadable"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def skipped(self) -> bool:
        """Skipped on purpose (binary or oversized): callers report a warning."""
        return self.problem in ("binary", "oversized")


@dataclass(frozen=True)
class SpecLocation:
    spec_id: str
    category: str | None
    rel_dir: str  # posix path relative to the workspace root
    format: SpecFormat = SpecFormat.SMARTSPEC
    # The format's own names for SmartSpec's documents, e.g. (("spec.md", "requirements.md"),).
    renames: tuple[tuple[str, str], ...] = ()

    def file(self, name: str) -> str:
        """The workspace-relative path of one of the spec's documents, by SmartSpec's name
        (`spec.md`, `plan.md`, `tasks.md`): a Kiro spec answers requirements.md for spec.md."""
        return f"{self.rel_dir}/{self.name_of(name)}"

    def name_of(self, name: str) -> str:
        return next((theirs for ours, theirs in self.renames if ours == name), name)


@dataclass(frozen=True)
class SetAside:
    """A folder that is deliberately not a spec to work on: archived, or (OpenSpec) a
    capability's current truth. Listed so that nobody mistakes it for a parse error."""

    rel_dir: str
    reason: str  # "archived" or "capability"
    message: str

    @property
    def name(self) -> str:
        return self.rel_dir.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SpecIndex:
    specs: tuple[SpecLocation, ...]
    warnings: tuple[str, ...] = ()
    format: SpecFormat = SpecFormat.SMARTSPEC
    root: str = SPECS_DIR  # the folder the specs were found in
    set_aside: tuple[SetAside, ...] = ()

    def get(self, spec_id: str) -> SpecLocation | None:
        return next((s for s in self.specs if s.spec_id == spec_id), None)

    def ids(self) -> tuple[str, ...]:
        return tuple(s.spec_id for s in self.specs)


def path_problem(rel: str) -> str | None:
    """Why a workspace-relative path is refused on its face, or None when it looks fine."""
    if not rel or not rel.strip():
        return Text("empty path")
    if "\x00" in rel:
        return Text("path contains a NUL byte")
    if rel.startswith(("/", "\\")) or _DRIVE_RE.match(rel):
        return Text("absolute paths are not allowed")
    # Backslashes count as separators too, so "..\\x" cannot slip through on any platform.
    if ".." in re.split(r"[\\/]", rel):
        return Text("'..' is not allowed in paths")
    return None


def stamp_of(path: Path | str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


class Workspace:
    """A workspace directory; all reads stay inside `root`."""

    def __init__(
        self,
        root: Path | str,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        options: ReadOptions = DEFAULT_OPTIONS,
    ) -> None:
        path = Path(root)
        if not path.is_dir():
            raise WorkspaceError(f"workspace {str(root)!r} is not an existing directory")
        if max_file_bytes < 1:
            raise ValueError("max_file_bytes must be positive")
        self.root = path.resolve()
        self._root_text = str(self.root).rstrip("/")
        self.max_file_bytes = max_file_bytes
        self.options = options

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def resolve(self, rel: str) -> Path:
        """The real path of `rel`, or ScopeError when it is not confined to the workspace."""
        return Path(self.resolve_text(rel))

    def resolve_text(self, rel: str) -> str:
        """`resolve` as a string, for hot loops where building a Path costs more than the I/O."""
        problem = path_problem(rel)
        if problem:
            raise ScopeError(rel, problem)
        walked = self._walk(rel)
        if walked is not None:  # no symlink and no "..": inside by construction
            return walked
        resolved = os.path.realpath(f"{self._root_text}/{rel}")
        if resolved != self._root_text and not resolved.startswith(f"{self._root_text}/"):
            raise ScopeError(rel, "resolves outside the workspace (through a symlink)")
        return resolved

    def _walk(self, rel: str) -> str | None:
        """The path when no component of `rel` is a symlink, else None.

        The root is already resolved, so only the components below it need an lstat;
        this is several times cheaper than realpath, which re-walks the root too.
        """
        current = self._root_text
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        for i, part in enumerate(parts):
            current = f"{current}/{part}"
            try:
                mode = os.lstat(current).st_mode
            except OSError:  # missing below here: nothing further can be a symlink
                return "/".join([current, *parts[i + 1 :]])
            if stat.S_ISLNK(mode):
                return None
        return current or "/"

    def stamp(self, rel: str) -> Stamp | None:
        try:
            return stamp_of(self.resolve_text(rel))
        except ScopeError:
            return None

    def child_stamps(self, rel_dir: str, names: tuple[str, ...]) -> tuple[Stamp | None, ...]:
        """Stamps of several files in one folder: the folder is resolved once, and each
        file costs one lstat unless it is a symlink (then it is resolved in full)."""
        try:
            base = self.resolve_text(rel_dir)
        except ScopeError:
            return tuple(None for _ in names)
        return tuple(self._child_stamp(base, rel_dir, name) for name in names)

    def _child_stamp(self, base: str, rel_dir: str, name: str) -> Stamp | None:
        try:
            st = os.lstat(f"{base}/{name}")
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return self.stamp(f"{rel_dir}/{name}")
        return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)

    def is_file(self, rel: str) -> bool:
        try:
            return os.path.isfile(self.resolve_text(rel))
        except ScopeError:
            return False

    def is_dir(self, rel: str) -> bool:
        try:
            return os.path.isdir(self.resolve_text(rel))
        except ScopeError:
            return False

    def read_text(self, rel: str) -> FileRead:
        """Read a file named by a workspace-relative path; raises ScopeError when refused."""
        return read_confined(self.resolve_text(rel), rel, self.max_file_bytes)

    def write_text(self, rel: str, text: str) -> Path:
        """Write a file atomically, creating parents; refuses paths that escape."""
        target = self.resolve(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Re-check after mkdir: a parent created through a symlink must still be inside.
        target = self.resolve(rel)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.write_bytes(text.encode("utf-8"))
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target


def read_confined(path: Path | str, rel: str, max_bytes: int) -> FileRead:
    """Read an already-resolved path with the size and binary checks."""
    try:
        # O_NONBLOCK: a FIFO left in the workspace must not hang the reader. O_NOFOLLOW: the
        # path is already resolved, so a symlink here was swapped in since; refuse it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return FileRead(rel, None, "missing", f"{rel} does not exist")
    except OSError as exc:
        return FileRead(rel, None, "unreadable", f"{rel} cannot be read: {exc.strerror}")
    try:
        return _read_open(fd, rel, max_bytes)
    finally:
        os.close(fd)


def _read_open(fd: int, rel: str, max_bytes: int) -> FileRead:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return FileRead(rel, None, "not_a_file", f"{rel} is not a regular file")
    if st.st_size > max_bytes:
        return _oversized(rel, st.st_size, max_bytes)
    chunks, total = [], 0
    budget = max_bytes + 1  # one byte past the limit notices a file that grew meanwhile
    try:
        while total < budget:
            # Ask for what stat promised (not the whole budget: os.read allocates what it
            # is asked for), then small chunks until end of file.
            chunk = os.read(fd, min(budget - total, max(st.st_size + 1 - total, 4096)))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        return FileRead(rel, None, "unreadable", f"{rel} cannot be read: {exc.strerror}")
    if total > max_bytes:
        return _oversized(rel, total, max_bytes)
    data = b"".join(chunks)
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return FileRead(rel, None, "binary", f"{rel} skipped: binary file")
    return FileRead(rel, data.decode("utf-8", errors="replace"))


def _oversized(rel: str, size: int, limit: int) -> FileRead:
    message = f"{rel} skipped: {size} bytes is over the {limit}-byte limit"
    return FileRead(rel, None, "oversized", message)
