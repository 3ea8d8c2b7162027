"""What a `shell` step may run: the rules, in plain Python (no Django).

The allow-list of a project names programs; these rules keep an allowed program from
being pointed anywhere else:

- the template's command is split like a shell would *before* `${{ … }}` values go in,
  so a param or an item is always exactly one argument (or part of one), never several;
- arguments that name files must stay inside the workspace (symlinks followed);
- git runs no aliases, no configuration given on its command line, and none of its
  options that name a program to run;
- a template's `env:` may not set variables that choose which program or library runs;
- a `report:` name is a plain name, since it becomes a folder.

The engine applies them when a step runs (workflows/engine/executors/shell.py); template
validation can call the same functions when a template is saved.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence


class CommandRefused(ValueError):
    """The step will not run this command; the message says why."""


# --- Report names ---------------------------------------------------------------------------

# `report:` becomes a folder, .spec/reports/<report>/<run-id>: one plain path segment.
# `\Z` (not `$`, which also matches before a final newline), so `.match` is enough.
REPORT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


def report_name_problem(value: object) -> str | None:
    """None for a valid report name, otherwise what is wrong with it."""
    if isinstance(value, str) and REPORT_NAME_RE.match(value):
        return None
    return (
        f"report {value!r} is not a plain name: lowercase letters, digits, '-' and '_', "
        "starting with a letter or digit, at most 64 characters"
    )


# --- Splitting and substitution -----------------------------------------------------------

PLACEHOLDER_RE = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
# Stand-ins for placeholders while the command is split: characters no shell treats
# specially, from Unicode's private use area, so they cannot be typed by accident.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK_RE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


def split_command(command: str, values: Mapping[str, object]) -> list[str]:
    """Split the template's command like a shell, then put each `${{ name }}` value into
    the argument it stands in. A value is never split again, so `x --output=/etc/y` in a
    param stays one argument. Unknown names are left as they are written."""
    if _OPEN in command or _CLOSE in command:
        raise CommandRefused("the command contains reserved characters (U+E000, U+E001)")
    names: list[str] = []

    def mark(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            return match.group(0)
        names.append(match.group(1))
        return f"{_OPEN}{len(names) - 1}{_CLOSE}"

    try:
        argv = shlex.split(PLACEHOLDER_RE.sub(mark, command))
    except ValueError as exc:
        raise CommandRefused(f"cannot split the command: {exc}") from None

    def value(match: re.Match[str]) -> str:
        found = values[names[int(match.group(1))]]
        return "" if found is None else str(found)

    return [_MARK_RE.sub(value, arg) for arg in argv]


def parse_command(
    command: str, allowlist: Sequence[str], values: Mapping[str, object] | None = None
) -> list[str]:
    """Split (and fill in) the command; refuse programs the project does not allow."""
    argv = split_command(command, values or {})
    if not argv:
        raise CommandRefused("the command is empty")
    program = argv[0]
    allowed = ", ".join(allowlist) or "none"
    if "/" in program:
        raise CommandRefused(f"'{program}' is a path; name the program only (allowed: {allowed})")
    if program not in allowlist:
        raise CommandRefused(f"'{program}' is not in the project's shell allow-list (allowed: {allowed})")
    return argv


# --- Arguments that name files --------------------------------------------------------------

# Device files programs are commonly told to write to or read from; harmless anywhere.
HARMLESS_PATHS = frozenset({"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr"})
_SHORT_OPTION_RE = re.compile(r"^-[A-Za-z0-9]")


def check_arguments(argv: Sequence[str], *, workspace: str, cwd: str) -> None:
    """Refuse an argument that names a file outside the workspace.

    Path-like are: an argument without spaces that contains '/' or starts with '.' or '~';
    any argument naming an existing file or folder; the value of `--opt=VALUE` or `-oVALUE`
    judged the same way; the path of a `file:` URL. Each is resolved from `cwd`, symlinks
    followed. Plain words (`-q`, `hello`, `tests`) pass; so does text with spaces (code for
    `python -c`), which no program opens as a file unless it exists, and then it is checked.
    """
    root = os.path.realpath(workspace)
    for arg in argv[1:]:
        for candidate in _path_candidates(arg):
            if candidate in HARMLESS_PATHS or not _looks_like_path(candidate, cwd):
                continue
            if not _is_within(_resolve(candidate, cwd), root):
                raise CommandRefused(
                    f"argument {arg!r} points outside the workspace; a step may only name files inside it"
                )


def _path_candidates(arg: str) -> list[str]:
    candidates = [arg]
    if arg.startswith("-") and "=" in arg:
        candidates.append(arg.split("=", 1)[1])  # --output=/path, -o=/path
    elif _SHORT_OPTION_RE.match(arg) and arg[2:3] in ("/", ".", "~"):
        candidates.append(arg[2:])  # -I/path, -o../x
    candidates += [c[len("file://") :] for c in list(candidates) if c.startswith("file://")]
    return candidates


def _looks_like_path(value: str, cwd: str) -> bool:
    if not value:
        return False
    if not any(ch.isspace() for ch in value) and ("/" in value or value.startswith((".", "~"))):
        return True
    return os.path.lexists(os.path.join(cwd, value))


def _resolve(value: str, cwd: str) -> str:
    # `~` is expanded because some programs (git among them) expand it themselves.
    return os.path.realpath(os.path.join(cwd, os.path.expanduser(value)))


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --- git -------------------------------------------------------------------------------------

# Aliases can come from any configuration file, the workspace's own .git/config included
# (which a step can change), and `!cmd` aliases run a shell. Pointing git at empty system
# and global configuration would leave the repository's own, so instead the subcommand must
# be one of these built-in commands: an alias, or an external `git-foo` program on PATH, is
# refused whatever defines it. Left out on purpose are the commands whose job is to run
# other programs (bisect run, difftool, mergetool, filter-branch, help --web, daemon,
# instaweb, send-email, …).
GIT_SUBCOMMANDS = frozenset(
    """
    add am annotate apply archive blame branch bundle cat-file check-attr check-ignore
    check-mailmap check-ref-format checkout checkout-index cherry cherry-pick clean clone
    commit commit-graph commit-tree config count-objects describe diff diff-files
    diff-index diff-tree fetch for-each-ref format-patch fsck gc grep hash-object init log
    ls-files ls-remote ls-tree merge merge-base merge-file merge-tree mktag mktree mv
    name-rev notes pack-refs prune pull push range-diff read-tree rebase reflog remote
    repack replace rerere reset restore rev-list rev-parse revert rm shortlog show
    show-branch show-ref sparse-checkout stash status stripspace submodule switch
    symbolic-ref tag update-index update-ref var verify-commit verify-pack verify-tag
    version whatchanged worktree write-tree
    """.split()  # noqa: SIM905 (a word list reads better than 90 quoted lines)
)
# Options before the subcommand. `-c`/`--config-env` set configuration (aliases, hooks,
# programs to run); `--exec-path` chooses where git's own programs come from; `-C` moves
# git elsewhere (a step has `cwd:` for that).
GIT_REFUSED_GLOBAL = {
    "-c": "sets configuration",
    "--config-env": "sets configuration",
    "--exec-path": "chooses where git's programs come from",
    "-C": "changes git's directory (use the step's cwd)",
}
GIT_GLOBAL_FLAGS = frozenset(
    {
        "--no-pager",
        "-P",
        "--bare",
        "--no-replace-objects",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-optional-locks",
        "--version",
        "--help",
        "-h",
    }
)
GIT_GLOBAL_WITH_VALUE = frozenset({"--git-dir", "--work-tree", "--namespace"})
# Subcommand options that name a program to run (long names, short letters).
GIT_REFUSED_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "clone": (("--upload-pack", "--template", "--config"), "uc"),
    "fetch": (("--upload-pack",), ""),
    "pull": (("--upload-pack",), ""),
    "ls-remote": (("--upload-pack",), "u"),
    "push": (("--receive-pack", "--exec"), ""),
    "archive": (("--exec",), ""),
    "rebase": (("--exec",), "x"),
    "grep": (("--open-files-in-pager",), "O"),
    "init": (("--template",), ""),
}
GIT_CONFIG_READS = frozenset(
    {"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--get-color", "--get-colorbool", "--list", "-l"}
)


def check_git(argv: Sequence[str]) -> None:
    """The git rules above; argv[0] is git."""
    index = 1
    while index < len(argv) and argv[index].startswith("-"):
        arg = argv[index]
        name = arg.split("=", 1)[0]
        for refused, why in GIT_REFUSED_GLOBAL.items():
            if arg.startswith(refused):  # also `-cname=value`, `--exec-path=/x`
                raise CommandRefused(f"git option {arg!r} is not allowed in a shell step: it {why}")
        if name in GIT_GLOBAL_WITH_VALUE:
            index += 1 if "=" in arg else 2
            continue
        if arg not in GIT_GLOBAL_FLAGS:
            raise CommandRefused(f"git option {arg!r} is not allowed before the subcommand in a shell step")
        index += 1
    if index >= len(argv):
        return  # `git --version`
    subcommand, rest = argv[index], argv[index + 1 :]
    if subcommand not in GIT_SUBCOMMANDS:
        raise CommandRefused(
            f"'git {subcommand}' is not a git command a shell step runs: aliases, external git "
            "commands and commands that run other programs are refused"
        )
    long_names, letters = GIT_REFUSED_OPTIONS.get(subcommand, ((), ""))
    for arg in rest:
        if _names_option(arg, long_names, letters):
            raise CommandRefused(
                f"'git {subcommand} {arg}' is not allowed in a shell step: it runs a program"
            )
    if subcommand == "submodule" and "foreach" in rest:
        raise CommandRefused("'git submodule foreach' is not allowed in a shell step: it runs a command")
    if subcommand == "config" and not _reads_config(rest):
        raise CommandRefused(
            "'git config' may only read in a shell step (--get, --get-all, --get-regexp, --list): "
            "written configuration can make later git commands run programs"
        )


def _names_option(arg: str, long_names: Iterable[str], letters: str) -> bool:
    if arg.startswith("--"):
        name = arg.split("=", 1)[0]
        # git accepts any unambiguous prefix of a long option (`--upload-p=…`).
        return len(name) > 2 and any(long.startswith(name) for long in long_names)
    # Short options bundle (`-ix cmd`), so any letter of a single-dash argument counts.
    return arg.startswith("-") and any(letter in arg[1:] for letter in letters)


def _reads_config(rest: Sequence[str]) -> bool:
    positional = [a for a in rest if not a.startswith("-")]
    return any(a in GIT_CONFIG_READS for a in rest) or (positional[:1] in (["get"], ["list"]))


def check_program_rules(argv: Sequence[str]) -> None:
    """Rules for particular programs (today: git)."""
    if argv and argv[0] == "git":
        check_git(argv)


# --- Environment -----------------------------------------------------------------------------

# Variables that decide which program, library or startup code runs, or where a program
# reads its configuration: a template setting PATH could make `echo` run anything.
FORBIDDEN_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "XDG_CONFIG_HOME",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONPLATLIBDIR",
        "PYTHONEXECUTABLE",
        "PYTHONBREAKPOINT",
        "PYTHONINSPECT",
        "PYTEST_ADDOPTS",
        "PYTEST_PLUGINS",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "PERL5DB",
        "RUBYLIB",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "LUA_INIT",
        "LUA_PATH",
        "LUA_CPATH",
        "TCLLIBPATH",
        "GCONV_PATH",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "OPENSSL_CONF",
        "OPENSSL_ENGINES",
        "LESSOPEN",
        "LESSCLOSE",
        "PAGER",
        "MANPAGER",
        "EDITOR",
        "VISUAL",
        "BROWSER",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
    }
)
# The dynamic loader's variables (Linux, macOS), git's, and bash's exported functions.
FORBIDDEN_ENV_PREFIXES = ("LD_", "DYLD_", "GIT_", "BASH_FUNC_")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def forbidden_env_names(names: Iterable[object]) -> list[str]:
    """The names among `names` a template's `env:` may not set, in their order. Names are
    compared in upper case; anything that is not a plain variable name is forbidden too."""
    return [str(name) for name in names if _forbidden_env_name(str(name))]


def _forbidden_env_name(name: str) -> bool:
    if not ENV_NAME_RE.match(name):
        return True
    upper = name.upper()
    return upper in FORBIDDEN_ENV_NAMES or upper.startswith(FORBIDDEN_ENV_PREFIXES)


def env_problem(names: Iterable[object]) -> str | None:
    """A message for a template whose `env:` sets forbidden names, or None."""
    forbidden = forbidden_env_names(names)
    if not forbidden:
        return None
    return (
        f"a shell step's env may not set {', '.join(forbidden)}: variables that choose which "
        "program, library or configuration runs are the worker's to decide"
    )
