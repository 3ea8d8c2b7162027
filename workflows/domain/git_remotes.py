"""What a project may name as its git remote and pull-request host (pure rules, no Django).
Each rule says why as a sentence (workflows.domain.texts.Text), so pages say it in the
reader's language.

A remote is a network URL (https, http, ssh, git), an scp-like `user@host:path`, or an
absolute path on the server. Git reads some values as options (`-…`) or as remote helpers
that run programs (`ext::sh -c …`, `fd::…`, any `<transport>::<address>`), so those are
refused; so are credentials inside a URL, which would end up stored and shown: a token
comes from an environment variable the project names, never from the database.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from workflows.domain.texts import Text

PROVIDERS = ("none", "github", "gitlab")
# The API a provider answers on when the project names none.
DEFAULT_API_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
URL_SCHEMES = ("https", "http", "ssh", "git")

_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[^:].*)$"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITLAB_REPOSITORY = re.compile(r"^(?:[0-9]+|[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+)$")

# The app's own secrets and settings: never a token a project may send elsewhere.
APP_VARIABLES = frozenset(
    {
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_HOST_USER",
        "DEMO_PASSWORD",
        "SMARTSPEC_DATA_DIR",
        "WORKSPACE_ROOTS",
    }
)


def is_local_path(value: str) -> bool:
    return value.startswith("/")


def is_http_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def remote_problem(value: str) -> str | None:
    """Why `value` may not be a project's git remote, or None (an empty value is none)."""
    if not value:
        return None
    if value != value.strip() or any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in value):
        return Text("the remote must not contain spaces or control characters")
    if value.startswith("-"):
        return Text("the remote must not start with '-' (git would read it as an option)")
    if _HELPER.match(value):
        return Text("remote helpers such as ext:: and fd:: are refused: give a URL or an absolute path")
    if is_local_path(value):
        if any(part == ".." for part in value.split("/")):
            return Text("the remote path must not contain '..'")
        return None
    if "://" in value:
        return _url_problem(value)
    found = _SCP_LIKE.match(value)
    if found is None or found["host"].startswith("-") or found["path"].startswith("-"):
        return Text(
            "give an https://, ssh:// or git:// URL, user@host:path, or an absolute path on the server"
        )
    return None


def _url_problem(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return Text("the remote is not a valid URL")
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        return Text(
            "the remote's scheme must be one of {schemes} (not {scheme})",
            schemes=", ".join(URL_SCHEMES),
            scheme=scheme or "none",
        )
    if not parts.hostname:
        return Text("the remote URL names no host")
    if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
        return Text("the remote's host and user must not start with '-' (ssh would read them as options)")
    if parts.password is not None or (scheme in ("http", "https") and parts.username is not None):
        return Text(
            "credentials inside the remote URL are refused: name the environment variable "
            "that holds the token (git token variable) instead"
        )
    return None


def api_url_problem(value: str) -> str | None:
    """Why `value` may not be a provider's API address, or None (empty: the default)."""
    if not value:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return Text("the API URL must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018
    except ValueError:
        return Text("the API URL is not a valid URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Text("the API URL must be an http:// or https:// address")
    if parts.username is not None or parts.password is not None:
        return Text(
            "credentials inside the API URL are refused: name the token's environment variable instead"
        )
    if parts.query or parts.fragment:
        return Text("the API URL must not have a query or a fragment")
    return None


def env_name_problem(value: str) -> str | None:
    """Why `value` may not name the token's environment variable, or None."""
    if not value:
        return None
    if not _ENV_NAME.match(value):
        return Text("give the NAME of an environment variable (letters, digits, _), never the token itself")
    if value.upper() in APP_VARIABLES:
        return Text("{name} is one of the app's own settings, not a token a project may use", name=value)
    return None


def repository_problem(provider: str, value: str) -> str | None:
    """Why `value` may not name the repository on `provider`, or None."""
    if provider == "github" and not _GITHUB_REPOSITORY.match(value):
        return Text("on GitHub the repository is owner/name, e.g. acme/shop")
    if provider == "gitlab" and not _GITLAB_REPOSITORY.match(value):
        return Text("on GitLab the project is its path (group/name) or its numeric id")
    if any(part in (".", "..") for part in value.split("/")):
        return Text("the repository must not contain '.' or '..' parts")
    return None


def api_url_for(provider: str, api_url: str) -> str:
    """The API base a provider's requests go to, without a trailing slash."""
    return (api_url or DEFAULT_API_URLS.get(provider, "")).rstrip("/")
