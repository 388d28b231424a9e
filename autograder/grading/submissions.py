"""Find the submissions to grade and name their students.

A PATH on the command line is a notebook file or a folder searched recursively for ``*.ipynb``
(``.ipynb_checkpoints`` and hidden folders are skipped). The student id is the file name without
``.ipynb``, except for files named like the assignment itself, whose student is the folder that holds them:

    alice.ipynb                                         -> alice
    bob/Copy of UNet_Assignment.ipynb                   -> bob     (Colab's "Save a copy")
    carol/UNet_Assignment (3).ipynb                     -> carol   (a browser's third download)
    submitted/dave/UNet_Assignment/UNet_Assignment.ipynb -> dave   (nbgrader's own layout)

A file given explicitly is graded whatever its extension: a submission called ``eve.txt`` gets the
status "not a notebook" rather than being skipped without a word.

Every file is checked as it comes in, against ``limits.IntakeLimits`` (docs/security.md, "The ways in"), and a file
that fails gets a row with the reason instead of a grading ("too large: 500 MB, the limit is 20 MB"): a symbolic
link, FIFO, device or socket (never followed, opened or waited on; a linked folder gets its row too), a zip inside
the folder, a name that is not UTF-8 or is too long, a name that gives no student. A folder holding more than
``folder_files`` entries is not looked into: it gets one row, as its student's. Two files that give one student id
are both graded, the second under the id followed by its file name, and a note says so.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import stat

from autograder.grading import limits as intake
from autograder.release.course import ASSIGNMENT

_ASSIGNMENT_FILE = re.compile(rf"^(Copy of )?{re.escape(ASSIGNMENT)}( \(\d+\))?$", re.IGNORECASE)
ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar")
ID_BYTES = 100  # a student id's length at most (its feedback page is <id>.html)
FOLDERS_FACTOR = 100  # a folder given may hold this many times folder_files entries in all


class UsageError(ValueError):
    """A command-line argument that cannot be acted on; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Submission:
    student: str  # the id in the CSV and the feedback file's name
    path: pathlib.Path  # the file as the grader received it (never modified)
    refused: str = ""  # why it is not graded (its row's status), "" when it is
    max_bytes: int = intake.DEFAULT.notebook_bytes  # the most that reading it may take


def student_id(path: pathlib.Path, within: pathlib.Path | None = None) -> str:
    """The student a submission belongs to, from its file name or, for assignment-named files, its folders
    (only those below `within`, when given: a zip's own scratch folder names no student)."""
    path = pathlib.Path(path)
    stem = path.name[: -len(".ipynb")] if path.name.lower().endswith(".ipynb") else path.stem
    if not _ASSIGNMENT_FILE.match(stem):
        return stem
    parent = path.resolve().parent
    if within is not None:
        inside = parent.relative_to(within.resolve()) if parent.is_relative_to(within.resolve()) else None
        folders = list(inside.parts) if inside is not None else []
    else:
        folders = list(parent.parts[1:])
    if folders and folders[-1] == ASSIGNMENT:  # nbgrader: submitted/<student>/<assignment>/
        folders.pop()
    return folders[-1] if folders else ("" if within is not None else stem)


def find_submissions(paths: list, limits: intake.IntakeLimits = intake.DEFAULT) -> list[Submission]:
    """The submissions under `paths`, in a stable order, each with a unique student id.

    Raises:
        UsageError: a path that does not exist, or a folder holding no notebook.
    """
    files, refused = find_files(paths, limits)
    return name_submissions(files, refused=refused, limits=limits)


def find_files(
    paths: list, limits: intake.IntakeLimits = intake.DEFAULT
) -> tuple[list[pathlib.Path], dict[pathlib.Path, str]]:
    """(the files to grade under `paths`, see the module docstring; {file: why it is refused} for those that
    fail a limit). UsageError as find_submissions, or for a folder of more entries than all students need."""
    files, refused = [], {}
    for given in map(pathlib.Path, paths):
        if given.is_dir():
            found = walk(given, limits, refused)
            if not found:
                raise UsageError(f"no .ipynb file in the folder {given}")
            files += found
        elif os.path.lexists(given):
            files.append(given)
            if reason := check_file(given, limits, explicit=True):
                refused[given] = reason
        else:
            raise UsageError(f"no such file or folder: {given}")
    return files, refused


def walk(folder: pathlib.Path, limits: intake.IntakeLimits, refused: dict) -> list[pathlib.Path]:
    """The notebooks (and refused files) under `folder`, sorted; hidden entries skipped, linked folders refused.
    A folder of more than ``limits.folder_files`` entries is not looked into: it stands as one refused file."""
    found, stack, looked = [], [pathlib.Path(folder)], 0
    while stack:
        directory = stack.pop()
        entries = listing(directory, limits.folder_files)
        if entries is None:
            stand_in = directory / f"{ASSIGNMENT}.ipynb"
            found.append(stand_in)
            refused[stand_in] = (
                f"a folder of more than {limits.folder_files} files and folders, not looked into: "
                f"{intake.printable(directory.name)}"
            )
            continue
        looked += len(entries)
        if looked > FOLDERS_FACTOR * limits.folder_files:
            raise UsageError(
                f"the folder {folder} holds more than {looked} files and folders: give the folders of "
                f"the submissions themselves, or raise the limit of files a folder"
            )
        for entry in entries:
            path = pathlib.Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(path)
            elif entry.is_symlink() and entry.is_dir():  # never followed: a row says so, as its student's
                found.append(path / f"{entry.name}.ipynb")  # its student: the link's name (never resolved)
                refused[found[-1]] = intake.not_a_file(
                    f"a symbolic link to a folder ({intake.printable(entry.name)}), not followed"
                )
            elif entry.name.endswith(".ipynb") or entry.name.lower().endswith(ARCHIVES):
                found.append(path)
                if reason := check_file(path, limits):
                    refused[path] = reason
    return sorted(found)


def listing(directory, most):
    """The entries of `directory`, or None when it holds more than `most` (only most + 1 are read)."""
    entries = []
    try:
        with os.scandir(directory) as listing:
            for entry in listing:
                entries.append(entry)
                if len(entries) > most:
                    return None
    except OSError:
        return []
    return entries


def check_file(path: pathlib.Path, limits: intake.IntakeLimits = intake.DEFAULT, explicit: bool = False) -> str:
    """Why the file at `path` is refused ('' when it is not), from its name and its lstat (nothing is opened):
    a name not UTF-8 or too long, not a regular file (a link is never followed), an archive inside a folder
    (`explicit`: given on the command line, where a .zip is read by the LMS door), too large."""
    path = pathlib.Path(path)
    if reason := intake.name_problem(path.name, limits.name_bytes):
        return reason
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"unreadable file ({error.strerror})"
    if kind := intake.special_kind(info.st_mode):
        return intake.not_a_file(kind)
    if not explicit and path.name.lower().endswith(ARCHIVES):
        return archive_inside(path.name)
    if stat.S_ISREG(info.st_mode) and info.st_size > limits.notebook_bytes:
        return intake.too_large(info.st_size, limits.notebook_bytes)
    return ""


def archive_inside(name: str) -> str:
    return f"an archive inside the submissions ({intake.printable(name)}): unzip it and give its notebooks"


def name_submissions(
    files: list[pathlib.Path],
    name=student_id,
    refused: dict | None = None,
    limits: intake.IntakeLimits = intake.DEFAULT,
    notes: list | None = None,
) -> list[Submission]:
    """A Submission per file (each file once), its student `name(path)`, made unique where two files claim one
    (said in `notes`); a file in `refused` or whose name gives no student gets its reason."""
    refused = refused or {}
    submissions, seen_files, taken = [], set(), {}
    for path in files:
        if path.resolve() in seen_files:
            continue
        seen_files.add(path.resolve())
        reason = refused.get(path, "")
        wanted = _safe(name(path))
        if not wanted:
            reason = reason or f"a name that gives no student: {intake.printable(str(path.name))!r}"
            wanted = _safe(path.name) or "student"
        student = _unique(wanted, path, taken)
        if student != wanted and notes is not None:
            notes.append(
                f"{wanted}: two files give this student id: {intake.printable(str(taken[wanted]), 200)} "
                f"(graded as {wanted}) and {intake.printable(str(path), 200)} (graded as {student})"
            )
        taken.setdefault(wanted, path)
        taken[student] = path
        submissions.append(Submission(student, path, reason, limits.notebook_bytes))
    return submissions


def _safe(name):
    """Keep ids readable but usable as a file name: no path separators or control characters, valid UTF-8,
    at most ID_BYTES long; '' when nothing is left."""
    name = re.sub(r"[\x00-\x1f/\\]", "_", intake.printable(name, 10 * ID_BYTES)).strip()
    name = name.encode("utf-8")[:ID_BYTES].decode("utf-8", "ignore").strip()
    return name if name not in (".", "..") else ""


def _unique(student, path, taken):
    """`student`, or when two files claim the same id, the id followed by the file's name (then a number)."""
    if student not in taken:
        return student
    candidate = f"{student} [{_safe(path.name)}]"
    number = 2
    while candidate in taken:
        candidate, number = f"{student} [{_safe(path.name)}] {number}", number + 1
    return candidate
