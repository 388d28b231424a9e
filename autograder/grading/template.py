"""The template course of a batch: nbgrader's course with the assignment generated (its gradebook knows every test)
and the reference's answers to every check, made once and copied for each submission.

In: a folder. Out: the template course in it: made there (``build_template``), or, with ``prepared_template``, the
one made there before when it was made from this release and this code (the Gradescope image makes it once, in
setup.sh), else made again.
"""

import hashlib
import json
import os
import pathlib
import shutil

from autograder.grading import keys, preparation
from autograder.release.course import ASSIGNMENT, RELEASE_NOTEBOOK, make_course, run_nbgrader

EXPECTED = "expected.pickle"  # in the template course: the reference's answers to every check

TEMPLATE_KEY = "template-key.json"  # in a prepared template: what it was made from (template_key())


def build_template(folder: pathlib.Path) -> pathlib.Path:
    """The template course in `folder`: nbgrader's course with the assignment generated (its gradebook knows
    every test) and the reference's answers to every check (EXPECTED)."""
    make_course(folder)
    run_nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force")
    preparation.save_expected(folder / EXPECTED)  # in a process of its own: torch's memory goes with it
    return folder


def template_key() -> str:
    """A SHA-256 of what a template course is made from: the release notebook and the code of the project (the
    same code digest as a kept result's key, ``keys.grader_digest``)."""
    return hashlib.sha256((keys.file_digest(RELEASE_NOTEBOOK) + keys.grader_digest()).encode()).hexdigest()


def prepared_template(folder: pathlib.Path) -> pathlib.Path:
    """The template course prepared in `folder` before, when it was made from this release and this code; else it
    is made there now (in a folder beside it, renamed into place when complete, so a half-made one is never used)."""
    folder, key = pathlib.Path(folder), template_key()
    try:
        if json.loads((folder / TEMPLATE_KEY).read_text()).get("key") == key:
            return folder
    except (OSError, ValueError, AttributeError):
        pass
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    build_template(partial)
    (partial / TEMPLATE_KEY).write_text(json.dumps({"key": key}))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder
