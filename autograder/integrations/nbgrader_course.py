"""An nbgrader course, released into and graded in place (the recipe: docs/platforms.md).

    unet-course release --course COURSE_DIR [--exchange DIR] [--assignment NAME]
    unet-course grade --course COURSE_DIR [--assignment NAME] [--out DIR] [--workers N] ...

``release --course`` first makes sure of the course's ``nbgrader_config.py`` (``nbgrader_settings.py``): its course
id (the folder's name, unless the file says another) and its exchange (``--exchange``, else what the file says, else
nbgrader's default, ``/usr/local/share/nbgrader/exchange``), both written into it and said, the exchange folder made
writable by everyone as nbgrader asks, and ``COURSE/for_students/nbgrader_config.py`` written: the two settings each
student's nbgrader needs (in ``~/.jupyter/``, or ``/etc/jupyter/`` for a whole JupyterHub) to fetch and submit.

``release --course`` writes the course's ``source/NAME/UNet_Assignment.ipynb`` (the synced source, with the
release's Colab metadata and links, so that nbgrader's own ``generate_assignment`` makes the very release this
project makes), runs ``nbgrader generate_assignment NAME --force`` in the course (the gradebook then knows the
assignment, its cells and checksums) and checks that ``release/NAME/`` holds exactly the project's release
(collapsed cells, Colab metadata, the fingerprints the carried self-checks compare with). An instructor may run
``nbgrader generate_assignment`` again later and loses nothing; where the course's own nbgrader configuration
makes it write something else, the project's release is written instead and the message says to use
``release --course`` rather than ``generate_assignment``.

``grade --course`` grades what ``nbgrader collect`` (or the exchange) put in ``submitted/<student>/NAME/`` (each
checked as it comes in, ``grading/limits.py``: a linked or special file or folder, a name not UTF-8 or too long,
a notebook too large or a folder of too many files gets its row with the reason), each submission as ``grade``
always does (rebuilt on the release, autograded in a throwaway course, in the sandbox),
then brings the results into the course as ``nbgrader autograde`` would have:

* the gradebook (``gradebook.db``, through nbgrader's ``Gradebook`` API, by this process alone whatever
  ``--workers``): the student, the submission with its ``timestamp.txt``, each test's ``auto_score``, the
  ``needs_manual_grade`` marks (kept where a grader has already given a manual score, as autograde keeps them),
  the solution cells' automatic comments, and the late penalty of the course's own ``AssignLatePenalties``;
* ``autograded/<student>/NAME/`` (the graded notebook, with the submission's other files) and
  ``feedback/<student>/NAME/UNet_Assignment.html`` (the grader's report, with ``timestamp.txt`` and
  ``submission_secret.txt``), so that formgrader shows each submission and ``nbgrader release_feedback`` hands
  the reports out.

Nothing else of the course is touched; a second run writes the same rows again. Manual scores given in
formgrader stay and count in nbgrader's totals (``nbgrader export``), as they do after ``nbgrader autograde``;
they are read before grading (``manual_scores``) and graded in, so that grading again after a manual score
makes each report, ``grades.csv`` and the class view show the total the gradebook shows.
A gradebook locked by a running formgrader is waited for (``UNET_GRADEBOOK_WAIT`` seconds, default 60), then
the command stops with a message and the gradebook as it was; the batch's ``grades.csv`` and reports are kept.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pathlib
import shutil
import sqlite3
import tempfile
import time

import nbformat
import sqlalchemy.exc
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory

from autograder import assignment
from autograder.grading import limits as intake
from autograder.grading.submissions import Submission, check_file, listing
from autograder.integrations.nbgrader_settings import (  # noqa: F401 (nbgrader_course.make_exchange...)
    DEFAULT_EXCHANGE,
    STUDENT_CONFIG,
    CourseError,
    configure,
    course_config,
    make_exchange,
)
from autograder.release import generate as release
from autograder.release.course import ASSIGNMENT, SOURCE_NOTEBOOK, put_tools_on_path, run_nbgrader
from autograder.reports.report import write_atomically
from autograder.reports.result import Result

NOTEBOOK = f"{ASSIGNMENT}.ipynb"
WAIT_VARIABLE = "UNET_GRADEBOOK_WAIT"


class GradebookLocked(RuntimeError):
    """The course's gradebook stayed locked (a formgrader saving, another autograde) past the wait."""


def course_source(source: nbformat.NotebookNode, url: str) -> nbformat.NotebookNode:
    """The source as the course holds it: the release's notebook metadata and Colab links, so that nbgrader's
    ``generate_assignment`` on it writes the project's release as it is."""
    notebook = copy.deepcopy(source)
    notebook.metadata = nbformat.from_dict(copy.deepcopy(release.NOTEBOOK_METADATA))
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = release.set_colab_links(cell.source, url)
    return notebook


def release_into(
    root: pathlib.Path,
    name: str = ASSIGNMENT,
    repo: str | None = None,
    branch: str | None = None,
    exchange: str | None = None,
) -> list[str]:
    """Release the assignment into the nbgrader course at `root` as `name`, handed out through the exchange
    folder `exchange` (None: the course's own setting, else nbgrader's default); returns what was done, in words."""
    root = pathlib.Path(root).resolve()
    default_repo, default_branch = release.remote_setting()
    url = release.colab_url(repo or default_repo, branch or default_branch)
    source, student, _ = release.release_notebooks(SOURCE_NOTEBOOK, url)
    said = configure(root, exchange)
    source_path = root / "source" / name / NOTEBOOK
    source_path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(course_source(source, url))
    if source_path.exists() and source_path.read_text(encoding="utf-8") != text:
        kept = source_path.with_name(f"{NOTEBOOK}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copyfile(source_path, kept)
        said.append(f"kept the course's previous source as {kept}")
    write_atomically(source_path, text)
    said.append(f"wrote the source {source_path}")
    run_nbgrader(root, "generate_assignment", name, "--force")
    said.append(f"nbgrader generate_assignment {name}: the gradebook knows the assignment")
    release_path = root / "release" / name / NOTEBOOK
    if same_notebook(release_path, student):
        said.append(
            f"the release {release_path} is the project's release as it is; `nbgrader release_assignment "
            f"{name}` hands it out, and `nbgrader generate_assignment {name}` rewrites it unchanged"
        )
    else:
        release.write_atomically(release_path, student)
        said.append(
            f"wrote the project's release over nbgrader's in {release_path}: this course's nbgrader "
            f"configuration makes a different release, so after a change run `unet-course "
            f"release --course {root}` rather than `nbgrader generate_assignment {name}`"
        )
    return said


class Course:
    """An nbgrader course to grade in place: its folders, configuration, gradebook and the assignment's name."""

    def __init__(self, root: pathlib.Path, name: str = ASSIGNMENT, limits: intake.IntakeLimits = intake.DEFAULT):
        self.root = pathlib.Path(root).resolve()
        self.name = name
        self.limits = limits  # what a submission may be (grading/limits.py)
        self.refused = set()  # the students whose submission was refused (submissions())
        if not self.root.is_dir():
            raise CourseError(f"no such course folder: {root}")
        self.config = course_config(self.root)
        self.coursedir = CourseDirectory(config=self.config)
        self.db_url = self.coursedir.db_url
        self.stage = None  # where each graded submission's notebook waits (attach())

    def folder(self, step: str, student: str = ".") -> pathlib.Path:
        """A folder of the course in nbgrader's layout: `step` is e.g. ``submitted_directory``."""
        return pathlib.Path(self.coursedir.format_path(getattr(self.coursedir, step), student, self.name))

    def check(self) -> None:
        """Raise CourseError unless the gradebook knows the assignment with the declared tests and points."""
        hint = (
            f"run `unet-course release --course {self.root}"
            + (f" --assignment {self.name}`" if self.name != ASSIGNMENT else "`")
            + " first"
        )
        if self.db_url.startswith("sqlite:///") and not pathlib.Path(self.db_url[len("sqlite:///") :]).exists():
            raise CourseError(f"the course {self.root} has no gradebook yet: {hint}")
        put_tools_on_path()
        try:
            with Gradebook(self.db_url) as gb:
                notebook = gb.find_notebook(ASSIGNMENT, self.name)
                cells = {cell.name: cell.max_score for cell in notebook.grade_cells}
        except MissingEntry:
            raise CourseError(
                f"the course's gradebook does not know the assignment {self.name} (with the notebook "
                f"{NOTEBOOK}): {hint}"
            ) from None
        declared = {test: float(points) for test, points in assignment.points().items()}
        if cells != declared:
            raise CourseError(
                f"the assignment {self.name} in the course's gradebook has other tests or points than "
                f"this grader ({sorted(cells)} against {sorted(declared)}): {hint}"
            )

    def submissions(self) -> list[Submission]:
        """Each student's submitted notebook, in student order, checked as it comes in (``grading/limits.py``:
        a link, a special file, a name not UTF-8 or too long, too large, a folder of too many files get their
        row with the reason); CourseError when there is none, or when submitted/ holds more folders than the
        limit of files a folder."""
        submitted = self.root / self.coursedir.submitted_directory
        students = listing(submitted, self.limits.folder_files)
        if students is None:
            raise CourseError(
                f"{submitted} holds more than {self.limits.folder_files} folders: raise the limit of "
                f"files a folder to grade them all"
            )
        found = []
        for student in sorted(students, key=lambda entry: entry.name):
            path = pathlib.Path(student.path) / self.name / NOTEBOOK
            if student.is_symlink() or os.path.lexists(path):
                found.append(Submission(student.name, path, self._refused(path), self.limits.notebook_bytes))
        self.refused = {submission.student for submission in found if submission.refused}
        if not found:
            raise CourseError(
                f"no submission in {self.folder('submitted_directory', '<student>')}: run `nbgrader "
                f"collect {self.name}` (or the exchange's collect) first"
            )
        return found

    def _refused(self, path: pathlib.Path) -> str:
        """Why the submitted notebook at `path` (submitted/<student>/NAME/UNet_Assignment.ipynb) is refused."""
        for folder in (path.parent.parent, path.parent):  # never through a linked folder
            kind = intake.special_kind(os.lstat(folder).st_mode) if os.path.lexists(folder) else "a folder"
            if kind != "a folder":
                return intake.not_a_file(f"{kind}: {intake.printable(folder.name)}")
        if reason := intake.name_problem(path.parent.parent.name, self.limits.name_bytes):
            return reason
        if listing(path.parent, self.limits.folder_files) is None:
            return f"a submitted folder of more than {self.limits.folder_files} files, not looked into"
        return check_file(path, self.limits)

    def attach(self, session, stage: pathlib.Path) -> None:
        """Keep each graded submission's notebook and marks in `stage` before its throwaway course goes, and
        grade the manual scores of the course's gradebook in (the command line keeps them beside the kept results,
        so that a result reused later is recorded in full)."""
        self.stage = pathlib.Path(stage)
        session.harvest = self._harvest
        session.manual_scores = self.manual_scores()

    def manual_scores(self) -> dict[str, dict[str, float]]:
        """{student: {test: manual score}} given in formgrader (nbgrader's gradebook), for the reports."""
        with Gradebook(self.db_url) as gb:
            try:
                submissions = gb.assignment_submissions(self.name)
            except MissingEntry:
                return {}
            return {
                submission.student_id: {
                    grade.name: grade.manual_score
                    for notebook in submission.notebooks
                    for grade in notebook.grades
                    if grade.manual_score is not None
                }
                for submission in submissions
            }

    def _harvest(self, submission: Submission, result: Result, course: pathlib.Path) -> None:
        kept = self.stage / submission.student
        shutil.rmtree(kept, ignore_errors=True)  # an earlier grading's, when the stage is kept
        kept.mkdir(parents=True, exist_ok=True)
        for graded in course.glob(f"autograded/*/{ASSIGNMENT}/{NOTEBOOK}"):
            shutil.copyfile(graded, kept / NOTEBOOK)
        if (course / "gradebook.db").exists():
            shutil.copyfile(course / "gradebook.db", kept / "gradebook.db")

    def record(self, results: list[Result], log=print) -> None:
        """Bring the results into the course: the gradebook first (one writer, retried while it is locked),
        then ``autograded/`` and ``feedback/``. Raises GradebookLocked with the gradebook as it was."""
        wait = float(os.environ.get(WAIT_VARIABLE, 60))
        deadline = time.monotonic() + wait
        while True:
            self._wait_until_writable(max(0.0, deadline - time.monotonic()), wait)
            try:
                self._write_gradebook(results)
                break
            except (sqlite3.OperationalError, sqlalchemy.exc.OperationalError) as error:  # locked in between
                if "locked" not in str(error):
                    raise
                if time.monotonic() > deadline:
                    raise GradebookLocked(self._locked_message(wait)) from None
        for result in results:
            self._place_files(result)
        log(
            f"recorded {len(results)} submission(s) in {self.db_url} and {self.folder('autograded_directory', '*')}, "
            f"{self.folder('feedback_directory', '*')}"
        )

    def ensure_writable(self) -> None:
        """Raise GradebookLocked now, before any grading, when the gradebook stays locked past the wait."""
        wait = float(os.environ.get(WAIT_VARIABLE, 60))
        self._wait_until_writable(wait, wait, graded=False)

    def _locked_message(self, wait: float, graded: bool = True) -> str:
        kept = "the grades and reports of this batch are kept in --out; " if graded else "nothing was graded; "
        return (
            f"the course's gradebook {self.db_url} stayed locked for {wait:g} s (a formgrader saving a grade, or "
            f"another autograde?): nothing was written into the course; {kept}run the same command again when "
            f"it is free ({WAIT_VARIABLE} sets the wait)"
        )

    def _wait_until_writable(self, wait: float, said: float, graded: bool = True) -> None:
        """Return once the sqlite gradebook takes a write lock; GradebookLocked after `wait` seconds (of `said`)."""
        path = self.db_url[len("sqlite:///") :]
        if not self.db_url.startswith("sqlite:///") or not os.path.exists(path):
            return
        deadline = time.monotonic() + wait
        while True:
            connection = sqlite3.connect(path, timeout=min(1.0, max(wait, 0.01)))
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.rollback()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    raise GradebookLocked(self._locked_message(said, graded)) from None
            finally:
                connection.close()
            time.sleep(0.2)

    def _write_gradebook(self, results: list[Result]) -> None:
        from nbgrader.preprocessors import AssignLatePenalties

        with Gradebook(self.db_url) as gb:
            for result in results:
                self._write_submission(gb, result)
        for result in results:  # nbgrader's own late penalty, with the course's plugin
            resources = {
                "nbgrader": {
                    "notebook": ASSIGNMENT,
                    "assignment": self.name,
                    "student": result.student,
                    "db_url": self.db_url,
                }
            }
            AssignLatePenalties(config=self.config).preprocess(nbformat.v4.new_notebook(), resources)

    def _write_submission(self, gb: Gradebook, result: Result) -> None:
        auto_scores, manual, comments = staged_marks(self.stage / result.student / "gradebook.db")
        if not auto_scores:  # not a notebook, invalid JSON: zero, as nbgrader does
            auto_scores = {test: result.scores.get(test, 0.0) for test in result.max_scores}
        gb.update_or_create_student(result.student)
        timestamp = self.coursedir.get_existing_timestamp(str(self.folder("submitted_directory", result.student)))
        extra = {"timestamp": timestamp} if timestamp else {}
        with gb.db.no_autoflush:  # nbgrader's add_submission, flushed half-made, warns
            submission = gb.update_or_create_submission(self.name, result.student, **extra)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = auto_scores.get(grade.name, 0.0)
                grade.needs_manual_grade = grade.manual_score is not None or grade.name in manual
            for comment in notebook.comments:
                comment.auto_comment = comments.get(comment.name)
        gb.db.commit()

    def _place_files(self, result: Result) -> None:
        """autograded/<student>/NAME/ and feedback/<student>/NAME/, each replaced as a whole (as --force does)."""
        submitted = self.folder("submitted_directory", result.student)
        listed = [] if result.student in self.refused else listing(submitted, self.limits.folder_files) or []
        others = [
            pathlib.Path(entry.path)
            for entry in listed
            if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb")
        ]  # never a link
        others.sort()
        graded = self.stage / result.student / NOTEBOOK
        self._replace(
            self.folder("autograded_directory", result.student), [*others, *([graded] if graded.exists() else [])]
        )
        if result.feedback is not None and pathlib.Path(result.feedback).exists():
            with tempfile.TemporaryDirectory(dir=self.stage) as scratch:
                page = pathlib.Path(scratch) / f"{ASSIGNMENT}.html"
                shutil.copyfile(result.feedback, page)
                self._replace(self.folder("feedback_directory", result.student), [*others, page])

    @staticmethod
    def _replace(folder: pathlib.Path, files: list[pathlib.Path]) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = pathlib.Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        for path in files:
            shutil.copyfile(path, partial / path.name)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(folder)
        os.replace(partial, folder)
        os.chmod(folder, 0o755)


def same_notebook(path: pathlib.Path, notebook: nbformat.NotebookNode) -> bool:
    """True when the notebook file at `path` holds `notebook` (cells, outputs, metadata), however it is spaced."""
    return path.exists() and nbformat.reads(path.read_text(encoding="utf-8"), as_version=4) == notebook


def staged_marks(gradebook: pathlib.Path) -> tuple[dict[str, float | None], set[str], dict[str, str | None]]:
    """({test: auto_score}, {tests needing manual grading}, {solution cell: auto_comment}) of the one submission
    in a throwaway course's gradebook; empty when there is none."""
    if not gradebook.exists():
        return {}, set(), {}
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        submissions = gb.assignment_submissions(ASSIGNMENT)
        if not submissions:
            return {}, set(), {}
        notebook = submissions[0].notebooks[0]
        return (
            {grade.name: grade.auto_score for grade in notebook.grades},
            {grade.name for grade in notebook.grades if grade.needs_manual_grade},
            {comment.name: comment.auto_comment for comment in notebook.comments},
        )
