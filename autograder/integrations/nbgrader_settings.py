"""An nbgrader course's own settings, as ``release --course`` makes sure of them: its ``nbgrader_config.py`` read
(``course_config``), its course id and exchange written into it and said (``configure``), the exchange folder made
as nbgrader asks (``make_exchange``) and the students' ``for_students/nbgrader_config.py``. ``nbgrader_course.py``
releases into and grades the course.
"""

from __future__ import annotations

import os
import pathlib

from nbgrader.exchange.default.exchange import Exchange
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.grading.submissions import UsageError
from autograder.reports.report import write_atomically

DEFAULT_EXCHANGE = Exchange.root.default_value  # nbgrader's own: /usr/local/share/nbgrader/exchange
STUDENT_CONFIG = pathlib.Path("for_students") / "nbgrader_config.py"


class CourseError(UsageError):
    """The course cannot be released into or graded as asked; the message says why and what to run."""


def course_config(root: pathlib.Path) -> Config:
    """The course's nbgrader configuration (its ``nbgrader_config.py``, if any) with its root set to `root`."""
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    return config


def configure(root: pathlib.Path, exchange: str | None = None) -> list[str]:
    """Make sure the course's nbgrader_config.py says its course id and exchange (adding only what it lacks or
    what `exchange` changes), make the exchange folder, write for_students/nbgrader_config.py; what was done."""
    said = []
    config_path = root / "nbgrader_config.py"
    if not config_path.exists():
        root.mkdir(parents=True, exist_ok=True)
        write_atomically(config_path, "c = get_config()\n")
        said.append(f"made an nbgrader course in {root} (nbgrader_config.py)")
    config = course_config(root)
    course_id = config.CourseDirectory.get("course_id") or root.name
    current = config.Exchange.get("root")
    exchange = str(pathlib.Path(exchange or current or DEFAULT_EXCHANGE).expanduser().resolve())
    lines = [f"c.CourseDirectory.course_id = {course_id!r}"] * (not config.CourseDirectory.get("course_id"))
    lines += [f"c.Exchange.root = {exchange!r}"] * (current != exchange)
    if lines:
        text = config_path.read_text(encoding="utf-8").rstrip("\n")
        write_atomically(
            config_path,
            text + "\n# the course id and the exchange, set by `unet-course release "
            "--course`\n" + "\n".join(lines) + "\n",
        )
    said.append(f"the course id is {course_id!r} and the exchange {exchange} ({config_path})")
    said.append(make_exchange(pathlib.Path(exchange)))
    students = root / STUDENT_CONFIG
    students.parent.mkdir(exist_ok=True)
    write_atomically(
        students, f"c = get_config()\nc.CourseDirectory.course_id = {course_id!r}\nc.Exchange.root = {exchange!r}\n"
    )
    said.append(
        f"wrote {students}: each student's nbgrader needs it (in ~/.jupyter/, or /etc/jupyter/ for a "
        f"whole JupyterHub) to fetch and submit"
    )
    return said


def make_exchange(folder: pathlib.Path) -> str:
    """Make the exchange folder, writable by everyone with the sticky bit, as nbgrader asks; what was done.
    CourseError with the commands to run when this user may not make it."""
    if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
        return f"the exchange {folder} is there"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o1777)
    except OSError as error:
        raise CourseError(
            f"cannot make the exchange {folder} ({error.strerror}): run `sudo mkdir -p {folder} && "
            f"sudo chmod 1777 {folder}`, or give another with --exchange DIR"
        ) from None
    return f"made the exchange {folder} (writable by everyone, as nbgrader asks)"
