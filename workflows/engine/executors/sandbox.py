"""Confine a step's process with bubblewrap (`bwrap`), where the machine allows it.

Inside, the process sees the system's programs and libraries read-only (/usr, /bin, /lib*
and the parts of /etc that programs need to run, not all of it), the app's Python
read-only (so `python -m pytest` works), its workspace read-write, and private /tmp, /proc
and /dev. It has no view of the data directory (secret key, databases) unless its
workspace lies below it, and then only of the workspace. It runs in its own PID namespace:
it cannot see or signal the worker, nor read the worker's environment through /proc, and
when its first process dies the kernel kills everything else in it.

STEP_SANDBOX: `auto` (bwrap when it is installed and works here, else none), `bwrap`
(required: a step fails when it cannot be used) or `none`.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

MODES = ("auto", "bwrap", "none")
PROBE_TIMEOUT_SECONDS = 10
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs read from /etc to run: users and groups, name resolution, TLS roots, the
# loader's cache, Debian's alternatives. Not the rest (shadow, ssh host keys, an
# environment file with the app's secrets, …).
ETC_ENTRIES = (
    "passwd",
    "group",
    "hosts",
    "host.conf",
    "nsswitch.conf",
    "resolv.conf",
    "gai.conf",
    "services",
    "protocols",
    "localtime",
    "timezone",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "crypto-policies",
    "mime.types",
    "os-release",
    "debian_version",
    "locale.alias",
    "locale.conf",
)
# Where a sandboxed process keeps its own files: the private /tmp (the worker's HOME and
# TMPDIR are not visible inside).
SANDBOX_HOME = "/tmp"  # noqa: S108 (the sandbox's own private /tmp, not the host's)


class SandboxUnavailable(RuntimeError):
    pass


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str) -> str | None:
    """Why bwrap cannot run here with the options steps use (user namespaces off, a
    container's seccomp profile, …), or None when it works. Asked once per process."""
    try:
        done = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", *NAMESPACE_OPTIONS, "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not run: {exc}"
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"{bwrap} exited with {done.returncode}"
    return None


def bwrap_problem() -> str | None:
    bwrap = find_bwrap()
    if bwrap is None:
        return "bwrap (Debian's bubblewrap) is not installed"
    return _probe(bwrap)


@functools.lru_cache(maxsize=8)
def _warn_once(problem: str) -> None:
    logger.warning("STEP_SANDBOX=auto: steps run without a sandbox: %s", problem)


NAMESPACE_OPTIONS = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    # Root outside keeps no capability inside (no mounting its way out).
    "--cap-drop",
    "ALL",
)


@dataclass(frozen=True)
class Sandbox:
    bwrap: str
    data_dir: Path
    python_prefixes: tuple[str, ...] = field(
        default_factory=lambda: tuple(dict.fromkeys([sys.prefix, sys.exec_prefix, sys.base_prefix]))
    )

    def command(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        cwd: Path,
        read_only: Sequence[tuple[str, str]] = (),
        git_dirs: tuple[Path, Path] | None = None,
    ) -> list[str]:
        """bwrap's command line that runs argv in cwd. `read_only` adds (source, place)
        pairs to bind read-only (the agent command's own files); `git_dirs`, a run's
        worktree's own git directory and its repository's common one."""
        return [
            self.bwrap,
            *NAMESPACE_OPTIONS,
            *mount_options(
                workspace=workspace,
                data_dir=self.data_dir,
                python_prefixes=self.python_prefixes,
                read_only=read_only,
                git_dirs=git_dirs,
            ),
            "--chdir",
            str(cwd),
            "--",
            *argv,
        ]

    @staticmethod
    def environment(env: dict[str, str]) -> dict[str, str]:
        return {**env, "HOME": SANDBOX_HOME, "TMPDIR": SANDBOX_HOME}


def step_sandbox() -> Sandbox | None:
    """The sandbox steps run in under STEP_SANDBOX, or None to run them unconfined.
    Raises SandboxUnavailable when it is required and cannot run here."""
    mode = settings.STEP_SANDBOX
    if mode == "none":
        return None
    problem = bwrap_problem()
    if problem is None:
        bwrap = find_bwrap()
        assert bwrap is not None
        return Sandbox(bwrap=bwrap, data_dir=Path(settings.DATA_DIR))
    if mode == "bwrap":
        raise SandboxUnavailable(f"STEP_SANDBOX=bwrap, but the sandbox cannot run here: {problem}")
    _warn_once(problem)
    return None


def mount_options(
    *,
    workspace: Path,
    data_dir: Path,
    python_prefixes: Sequence[str],
    read_only: Sequence[tuple[str, str]] = (),
    git_dirs: tuple[Path, Path] | None = None,
) -> list[str]:
    """bwrap's filesystem: system and Python read-only, the data directory hidden, the
    workspace read-write. Later mounts cover earlier ones, so the order matters.

    A run's worktree is a linked git worktree: its `.git` file points into the project's
    repository. With `git_dirs` the step sees that repository's common directory and the
    worktree's own one (its HEAD and index) read-only: `git log`, `git diff` and `git
    status` work; no branch can be moved and nothing committed (the worker commits the
    step's changes, after putting back the worktree's `.git` file: git_runs.commit_step)."""
    root = os.path.realpath(workspace)
    data = os.path.realpath(data_dir)
    # Fresh, private mounts inside the sandbox, not the host's /tmp and /dev/shm.
    options = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]  # noqa: S108
    sources: list[tuple[str, str]] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            sources.append((path, path))
    sources += [(f"/etc/{name}", f"/etc/{name}") for name in ETC_ENTRIES if os.path.lexists(f"/etc/{name}")]
    sources += [(p, p) for p in python_prefixes if os.path.isdir(p)]
    # The admin's agent command may name files anywhere, but never inside the data directory.
    sources += [
        (source, place)
        for source, place in read_only
        if not _is_within(os.path.realpath(source), data) or _is_within(source, root)
    ]
    sources = _outermost(sources)
    outside_data = [pair for pair in sources if not _is_within(os.path.realpath(pair[0]), data)]
    for source, place in outside_data:
        options += ["--ro-bind", source, place]
    if any(_is_within(data, os.path.realpath(source)) for source, _ in outside_data):
        options += ["--tmpfs", data]  # something bound above shows the data directory
    for source, place in sources:
        if (source, place) not in outside_data:
            options += ["--ro-bind", source, place]  # e.g. a virtualenv kept in the data directory
    options += ["--bind", root, root]
    if str(workspace) != root:
        options += ["--bind", root, str(workspace)]  # the path as the project names it
    if _is_within(data, root):
        options += ["--tmpfs", data]  # a workspace that holds the data directory
    if git_dirs is not None:
        private, common = (str(path) for path in git_dirs)
        options += ["--ro-bind", common, common, "--ro-bind", private, private]
    return options


def _outermost(sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop binds whose place another bind already shows as it is (a prefix of /usr/local
    under /usr, an agent program inside the virtualenv)."""
    identity = [place for source, place in sources if source == place]
    kept: list[tuple[str, str]] = []
    for source, place in sources:
        if any(other != place and _is_within(place, other) for other in identity):
            continue
        if (source, place) not in kept:
            kept.append((source, place))
    return kept


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
