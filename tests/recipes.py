"""The platform recipes of docs/platforms.md, read from the page and run as a user runs them.

Each recipe is the ```bash block after a ``<!-- recipe: NAME -->`` line. ``run`` runs its lines in bash as the
activated set-up would (``.venv/bin``, where ``bash scripts/setup.sh`` puts ``unet-course`` and ``nbgrader``, first
on PATH; this clone first on the import path), with `home` as ``~``. The only changes to a line are the ones a test
states: ``SUBSTITUTIONS`` of paths outside a test's folders, and options appended to one command (``--mode smoke
--sandbox off`` to ``unet-course grade``: a test grades with the tiny run, for testing the grader).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = REPO_ROOT / "docs" / "platforms.md"
BLOCK = re.compile(r"<!-- recipe: ([\w-]+) -->\n```bash\n(.*?)```", re.S)
GRADE_FOR_TESTS = ("unet-course grade", "--mode smoke --sandbox off")
WARNING = re.compile(r"\w*Warning\b|\| WARNING\]")  # Python's warnings, and nbgrader's logged ones


def recipes(page: pathlib.Path = PAGE) -> dict[str, list[str]]:
    """{name: [the block's lines]} of the page, comments and blank lines kept in place."""
    return {name: body.rstrip("\n").split("\n") for name, body in BLOCK.findall(page.read_text(encoding="utf-8"))}


def recipe(name: str) -> list[str]:
    found = recipes()
    assert name in found, f"docs/platforms.md has no recipe {name!r} (it has {sorted(found)})"
    return found[name]


def environment(home: pathlib.Path, extra: dict | None = None) -> dict[str, str]:
    """The environment of a shell after `source .venv/bin/activate`, with `home` as HOME (and the user's name),
    and `extra` (a variable given None is unset)."""
    tools = os.path.dirname(sys.executable)
    path = os.pathsep.join([tools, os.environ.get("PATH", "")])
    assert shutil.which("unet-course", path=path), (
        f"no `unet-course` command in {tools}: `bash scripts/setup.sh` installs it (pip install -e .)"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("JUPYTER")}
    env.update(
        {
            "PATH": path,
            "HOME": str(home),
            "USER": pathlib.Path(home).name,
            "LOGNAME": pathlib.Path(home).name,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "VIRTUAL_ENV": str(pathlib.Path(tools).parent),
        }
    )
    env.update(extra or {})
    return {name: value for name, value in env.items() if value is not None}  # None: unset


def adapted(line: str, substitutions: dict[str, str], appended: dict[str, str]) -> str:
    """A recipe's line with the stated paths substituted and options appended to the stated commands."""
    for old, new in substitutions.items():
        line = line.replace(old, new)
    for command, options in appended.items():  # at the end of the command, before any `&&`, `;` or `|`
        line = re.sub(rf"({re.escape(command)}\b[^&;|]*?)(\s*)($|[&;|])", rf"\1 {options}\2\3", line)
    return line


def run(
    lines: list[str],
    home: pathlib.Path,
    cwd: pathlib.Path = REPO_ROOT,
    substitutions: dict | None = None,
    appended: dict | None = None,
    env: dict | None = None,
    timeout: int = 900,
) -> subprocess.CompletedProcess:
    """Run recipe lines in one bash (stopping at the first that fails); the completed process."""
    script = "\n".join(["set -euo pipefail", *(adapted(line, substitutions or {}, appended or {}) for line in lines)])
    pathlib.Path(home).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=environment(home, env), capture_output=True, text=True, timeout=timeout
    )


def warnings_in(done: subprocess.CompletedProcess) -> list[str]:
    """The lines of a run's output that carry a Python warning (SAWarning, DeprecationWarning, ...) or a warning
    an nbgrader app logged ("[CollectApp | WARNING] ...")."""
    return [line for line in (done.stdout + done.stderr).splitlines() if WARNING.search(line)]
