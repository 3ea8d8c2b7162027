"""Git repositories as the tests make them: the git command with no user or system
configuration, a workspace made a repository, a bare repository as a remote."""

from __future__ import annotations

import subprocess
from pathlib import Path


def sh(*args: str, cwd: Path) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "HOME": str(cwd),
    }
    done = subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@x", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return done.stdout


def make_repo(path: Path) -> str:
    """The workspace as a git repository with a first commit (seed_demo makes the demo's
    one); its head."""
    if not (path / ".git").exists():
        sh("init", "--quiet", "--initial-branch=main", cwd=path)
        sh("add", "--all", cwd=path)
        sh("commit", "--quiet", "-m", "demo workspace", cwd=path)
    return sh("rev-parse", "HEAD", cwd=path).strip()


def bare_remote(path: Path) -> Path:
    """An empty bare repository at `path`, to push to."""
    path.mkdir(parents=True)
    sh("init", "--quiet", "--bare", cwd=path)
    return path


def remote_heads(remote: Path) -> dict[str, str]:
    lines = sh("ls-remote", "--heads", str(remote), cwd=remote).splitlines()
    return {ref.removeprefix("refs/heads/"): sha for sha, ref in (line.split("\t") for line in lines)}
