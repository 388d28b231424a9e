"""Where the assignment's files live, and a throwaway nbgrader course folder to run nbgrader's own apps in."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ASSIGNMENT = "UNet_Assignment"
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOK = REPO_ROOT / "solutions" / f"{ASSIGNMENT}.ipynb"
RELEASE_NOTEBOOK = REPO_ROOT / f"{ASSIGNMENT}.ipynb"


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output."""


def make_course(root: pathlib.Path, source_notebook: pathlib.Path = SOURCE_NOTEBOOK) -> pathlib.Path:
    """Lay out an nbgrader course in `root` with the source notebook as its one assignment."""
    root = pathlib.Path(root)
    source_dir = root / "source" / ASSIGNMENT
    source_dir.mkdir(parents=True, exist_ok=True)
    (source_dir / f"{ASSIGNMENT}.ipynb").write_bytes(pathlib.Path(source_notebook).read_bytes())
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_assignments = [dict(name={ASSIGNMENT!r})]\n"
    )
    return root


def put_tools_on_path() -> None:
    """Put this Python's bin folder on PATH: nbgrader's gradebook runs the `alembic` command it installs,
    which is not found when the virtual environment is not activated (`.venv/bin/python -m ...`)."""
    tools = os.path.dirname(sys.executable)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(filter(None, [tools, os.environ.get("PATH")]))


def run_nbgrader(course_root: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` inside the course folder; raise NbgraderError with its output if it fails."""
    put_tools_on_path()
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_root}"]
    result = subprocess.run(command, cwd=course_root, capture_output=True, text=True)
    if result.returncode != 0:
        raise NbgraderError(
            f"{' '.join(command[2:])} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result
