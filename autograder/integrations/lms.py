"""An LMS's bulk download in (Canvas, Moodle, or a .zip of either as it is), its grade import CSV out.

Student ids from the file names each LMS gives a bulk download of an assignment's submissions:

    Canvas  smithjane_12345_67890_UNet_Assignment.ipynb       -> smithjane_12345   (name, Canvas user id,
            smithjane_LATE_12345_67890_UNet_Assignment.ipynb  -> smithjane_12345    then the file's own id and
            smithjane_12345_67891_UNet_Assignment-1.ipynb     -> smithjane_12345    name; late and resubmitted)
    Moodle  Jane Smith_4242_assignsubmission_file_/UNet_Assignment.ipynb -> Jane Smith_4242   (a folder per
            Jane Smith_4242_assignsubmission_file_UNet_Assignment.ipynb  -> Jane Smith_4242    participant, or not)

Any other name is read as ``autograder.grading.submissions`` reads it. A ``.zip`` given on the command line is read
as it is: its notebooks are extracted into a scratch folder (with their times), after every entry was checked to
stay inside it (an entry such as ``../x.ipynb`` or ``/etc/x`` refuses the whole zip, and nothing is graded), and
within the limits of ``grading/limits.py`` (``lms_zip.py``: a notebook entry past one gets a row with the
reason, a whole zip past one a row under the zip's name; the other students are graded).

Where several files are one student's, the newest counts (the file's modification time, a zip entry's time);
at equal times a ``LATE`` file (handed in after the due date, so the later one), then the higher resubmission
number (``-1``, ``-2``), then the last name in sorted order. Each file left out is said, with why, on the
command line and in ``left_out.csv`` beside ``grades.csv``.

Out, from ``grades.csv`` (``--export canvas`` / ``--export moodle``, written atomically beside it):

* ``grades-canvas.csv``: the columns of Canvas's Gradebook export and import (``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section``, then the assignment's column, and the ``Points Possible``
  row), one row per student whose id ends in a Canvas user id; Canvas matches the rows on ``ID``. Name the
  column as in Canvas's own export (``UNet Assignment (123456)``) to fill an existing assignment, or keep
  ``UNet_Assignment`` and Canvas makes a new one (``UNET_CANVAS_COLUMN`` sets it).
* ``grades-moodle.csv``: Moodle's offline grading worksheet (``Identifier`` ``Participant 4242``,
  ``Full name``, ``Email address``, ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``,
  ``Last modified (submission)``, ``Last modified (grade)``, ``Feedback comments``), for the assignment's
  "Upload a file containing grades"; Moodle matches the rows on ``Identifier``.

Followed: Canvas's bulk download names and Gradebook CSV as the Canvas Instructor Guide describes them ("How do
I download all student submissions for an assignment?", "How do I import grades in the Gradebook?"; CSV rules:
https://canvas.instructure.com/doc/api/file.sis_csv.html), Moodle's assignment "Download all submissions"
(``downloadasfolders``: a folder per participant, mod/assign/lang/en/assign.php) and offline grading worksheet
(https://docs.moodle.org/en/Assignment_settings#Feedback_types, https://docs.moodle.org/en/Grade_import).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import pathlib
import re
import tempfile

from autograder import assignment
from autograder.grading import limits as intake
from autograder.grading import submissions
from autograder.grading.submissions import Submission, UsageError, name_submissions, student_id
from autograder.integrations import lms_zip
from autograder.release.course import ASSIGNMENT
from autograder.reports.report import read_rows, write_atomically

CANVAS = re.compile(
    r"^(?P<name>[^_/]+?)(?P<late>_LATE)?_(?P<number>\d+)_(?P<file_id>\d+)_(?P<file>.+?)"
    r"(?:-(?P<attempt>\d+))?\.(?:ipynb|zip)$"
)  # .zip: a refused zip inside, its row named
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<number>\d+)_assignsubmission_(?:file|onlinetext)_$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<number>\d+)_assignsubmission_file_(?P<file>.+)\.(?:ipynb|zip)$")
LMS_STUDENT = re.compile(r"^(?P<name>.+)_(?P<number>\d+)$")  # how the ids above end
TIE_RULE = (
    "at equal times a LATE file first (handed in after the due date), then the higher resubmission "
    "number, then the last name in sorted order"
)


@dataclasses.dataclass(frozen=True)
class Identity:
    lms: str  # "canvas" or "moodle"
    name: str  # as the LMS wrote it: "smithjane", "Jane Smith"
    number: str  # Canvas's user id, Moodle's participant number
    late: bool = False
    attempt: int = 0  # Canvas's resubmission suffix (-1, -2 ...)

    @property
    def student(self) -> str:
        return f"{self.name}_{self.number}"


def identify(path: pathlib.Path) -> Identity | None:
    """The LMS identity a bulk-download file name carries, or None for other names."""
    path = pathlib.Path(path)
    if match := CANVAS.match(path.name):
        return Identity("canvas", match["name"], match["number"], bool(match["late"]), int(match["attempt"] or 0))
    if match := MOODLE_FILE.match(path.name) or MOODLE_FOLDER.match(path.parent.name):
        return Identity("moodle", match["name"], match["number"])
    return None


def lms_student_id(path: pathlib.Path, within: pathlib.Path | None = None) -> str:
    """The student id of a file: its LMS identity's, else the usual one (``submissions.student_id``), from
    folders below `within` only (a zip's scratch folder)."""
    identity = identify(path)
    return identity.student if identity else student_id(path, within)


def collect(
    paths: list, scratch: contextlib.ExitStack, limits: intake.IntakeLimits = intake.DEFAULT
) -> tuple[list[Submission], list[str]]:
    """(the submissions under `paths`, one per student, what was left out and why); zips are extracted into
    folders that live as long as `scratch`. A file or zip entry past a limit (``grading/limits.py``) is a
    submission with its reason, never opened; so is a whole zip past a limit, under the zip's name.
    UsageError as ``find_submissions``, or for a zip that cannot be read or climbs out of its folder."""
    files, refused, times, roots = [], {}, {}, {}
    for given in map(pathlib.Path, paths):
        if given.is_file() and given.suffix.lower() == ".zip":
            folder = pathlib.Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="unet-lms-")))
            try:
                entries_refused, entries_times = lms_zip.extract(given, folder, limits)
            except lms_zip.ZipRefused as reason:
                files.append(given)
                refused[given] = str(reason)
                continue
            roots[folder.resolve()] = given
            refused.update(entries_refused)
            times.update(entries_times)
            found = list(entries_refused) + submissions.walk(folder, limits, refused)
            if not found:
                raise UsageError(f"no .ipynb file in the zip {given}")
            files += sorted(found, key=lms_zip.in_order)
        else:
            files += find_files([given], limits, refused)
    chosen, notes = newest_per_student(files, times)

    def name(path):
        within = next((root for root in roots if path.resolve().is_relative_to(root)), None)
        return lms_student_id(path, within)

    return name_submissions(chosen, name, refused, limits, notes), notes


def find_files(paths, limits, refused) -> list[pathlib.Path]:
    """``submissions.find_files``, its refusals added to `refused`."""
    found, reasons = submissions.find_files(paths, limits)
    refused.update(reasons)
    return found


def extract(
    archive: pathlib.Path, folder: pathlib.Path, limits: intake.IntakeLimits = intake.DEFAULT
) -> dict[pathlib.Path, str]:
    """Extract the notebooks of the zip `archive` into `folder` (``lms_zip.extract``); {entry: why refused}."""
    return lms_zip.extract(archive, folder, limits)[0]


def newest_per_student(files: list[pathlib.Path], times: dict | None = None) -> tuple[list[pathlib.Path], list[str]]:
    """(the files to grade: of each LMS student's files the newest, see the module docstring; every other file
    as it is), [a line per file left out, saying why]. `times`: the time of files that were never written (a
    zip entry refused), by path."""
    times = times or {}
    groups: dict[str, list[pathlib.Path]] = {}
    for path in files:
        identity = identify(path)
        groups.setdefault(identity.student if identity else f"\0{path}", []).append(path)
    chosen, notes = [], []
    for student, group in groups.items():
        recency = {path: _recency(path, times) for path in group}
        ranked = sorted(group, key=recency.get)
        newest = ranked[-1]
        chosen.append(newest)
        for older in ranked[:-1]:
            same_time = recency[older][0] == recency[newest][0]
            why = f"the same time as the one graded; the rule: {TIE_RULE}" if same_time else "an older file"
            notes.append(f"{student}: graded {newest.name}, left out {older.name} ({why})")
    order = {path: index for index, path in enumerate(files)}
    return sorted(chosen, key=order.get), notes


def _recency(path, times):
    identity = identify(path) or Identity("", "", "")
    if path not in times:
        try:
            times[path] = path.lstat().st_mtime
        except OSError:
            times[path] = 0.0
    return (times[path], identity.late, identity.attempt, path.name)


def write_left_out(out: pathlib.Path, notes: list[str]) -> None:
    """left_out.csv in `out`: one line per file left out of the batch and why (written only when there is one)."""
    if notes:
        pathlib.Path(out).mkdir(parents=True, exist_ok=True)
        write_atomically(pathlib.Path(out) / "left_out.csv", _csv([["left out"], *[[note] for note in notes]]))


def export(kind: str, out: pathlib.Path, log=print) -> pathlib.Path:
    """Write OUT/grades-<kind>.csv (kind: canvas, moodle) from OUT/grades.csv; returns its path."""
    rows = read_rows(pathlib.Path(out) / "grades.csv")
    students = [(row, LMS_STUDENT.match(row["student"])) for row in rows]
    for row, match in students:
        if match is None:
            log(f"--export {kind}: {row['student']} is not an LMS id (name_number), so it is not in the file")
    students = [(row, match) for row, match in students if match]
    table = TABLES[kind](students)
    path = pathlib.Path(out) / f"grades-{kind}.csv"
    write_atomically(path, _csv(table))
    return path


def _canvas_table(students) -> list[list]:
    column = os.environ.get("UNET_CANVAS_COLUMN", ASSIGNMENT)
    maximum = students[0][0]["max_total"] if students else str(sum(assignment.points().values()))
    table = [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
        ["    Points Possible", "", "", "", "", maximum],
    ]
    table += [[match["name"], match["number"], "", "", "", row["total"]] for row, match in students]
    return table


def _moodle_table(students) -> list[list]:
    table = [
        [
            "Identifier",
            "Full name",
            "Email address",
            "Status",
            "Grade",
            "Maximum Grade",
            "Grade can be changed",
            "Last modified (submission)",
            "Last modified (grade)",
            "Feedback comments",
        ]
    ]
    table += [
        [
            f"Participant {match['number']}",
            match["name"],
            "",
            "",
            row["total"],
            row["max_total"],
            "Yes",
            "",
            "",
            f"{row['total']}/{row['max_total']} ({row['mode']} mode): {row['status']}",
        ]
        for row, match in students
    ]
    return table


TABLES = {"canvas": _canvas_table, "moodle": _moodle_table}


def _csv(table: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(table)
    return buffer.getvalue()
