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
"""
from __future__ import annotations

import dataclasses
import pathlib
import re

from autograder.release.course import ASSIGNMENT

_ASSIGNMENT_FILE = re.compile(rf"^(Copy of )?{re.escape(ASSIGNMENT)}( \(\d+\))?$", re.IGNORECASE)


class UsageError(ValueError):
    """A command-line argument that cannot be acted on; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Submission:
    student: str            # the id in the CSV and the feedback file's name
    path: pathlib.Path      # the file as the grader received it (never modified)


def student_id(path: pathlib.Path) -> str:
    """The student a submission belongs to, from its file name or, for assignment-named files, its folders."""
    path = pathlib.Path(path)
    stem = path.name[:-len(".ipynb")] if path.name.lower().endswith(".ipynb") else path.stem
    if not _ASSIGNMENT_FILE.match(stem):
        return stem
    folders = [part for part in path.resolve().parent.parts[1:]]
    if folders and folders[-1] == ASSIGNMENT:          # nbgrader: submitted/<student>/<assignment>/
        folders.pop()
    return folders[-1] if folders else stem


def find_submissions(paths: list) -> list[Submission]:
    """The submissions under `paths`, in a stable order, each with a unique student id.

    Raises:
        UsageError: a path that does not exist, or a folder holding no notebook.
    """
    return name_submissions(find_files(paths))


def find_files(paths: list) -> list[pathlib.Path]:
    """The files to grade under `paths` (see the module docstring); UsageError as find_submissions."""
    files = []
    for given in map(pathlib.Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*.ipynb") if p.is_file() and not _hidden(p.relative_to(given)))
            if not found:
                raise UsageError(f"no .ipynb file in the folder {given}")
            files += found
        elif given.exists():
            files.append(given)
        else:
            raise UsageError(f"no such file or folder: {given}")
    return files


def name_submissions(files: list[pathlib.Path], name=student_id) -> list[Submission]:
    """A Submission per file (each file once), its student `name(path)`, made unique where two files claim one."""
    submissions, seen_files, taken = [], set(), set()
    for path in files:
        if path.resolve() in seen_files:
            continue
        seen_files.add(path.resolve())
        student = _unique(_safe(name(path)), path, taken)
        taken.add(student)
        submissions.append(Submission(student, path))
    return submissions


def _hidden(relative):
    return any(part.startswith(".") for part in relative.parts)


def _safe(name):
    """Keep ids readable but usable as a file name: no path separators or control characters."""
    name = re.sub(r"[\x00-\x1f/\\]", "_", name).strip() or "student"
    return name if name not in (".", "..") else "student"


def _unique(student, path, taken):
    """`student`, or when two files claim the same id, the id followed by the file's name (then a number)."""
    if student not in taken:
        return student
    candidate = f"{student} [{path.name}]"
    number = 2
    while candidate in taken:
        candidate, number = f"{student} [{path.name}] {number}", number + 1
    return candidate
