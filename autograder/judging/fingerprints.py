"""Fingerprints of each check's answers, for the specification and for every known mistake, and the diagnosis
they give.

A fingerprint of one result is its shape, its dtype and three numbers: the sum, the sum of absolute values and
a position-weighted sum of its values (so that a window of an image taken from the wrong place differs), or
the error it raised (the sums are ``lesson/fingerprint.py``'s, which the notebook's visible tests use). These
are the hidden checks' fingerprints: they stay with the grader; the visible tests' own are in
``lesson/selfcheck_prints.py`` (``autograder/release/visible_prints.py``).

``python -m autograder release`` writes them to ``autograder/judging/fingerprints.json`` with a digest of everything
they are made from (the checks, the mistakes, the reference solutions); ``release --check`` fails when the
digest is stale.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import pathlib

import numpy as np

from autograder import assignment
from autograder.authoring import mistakes
from lesson import fingerprint

PATH = pathlib.Path(__file__).with_name("fingerprints.json")


def of_result(value: np.ndarray, with_values: bool = True) -> list:
    """The fingerprint of one result (an array with ``dtype_name``, see verdicts.Answer), in selfcheck's form:
    [shape, dtype, sums], the sums left out when only the shape is checked."""
    print_ = [list(np.shape(value)), getattr(value, "dtype_name", "")]
    return print_ + [fingerprint.sums(value)] if with_values else print_


def of_answer(grade_id: str, answer: dict | str) -> dict:
    """The fingerprint of a check's answer ({key: array}), or of the error it raised (a str)."""
    if isinstance(answer, str):
        return {"error": answer}
    with_values = assignment.tests()[grade_id].kind != "shape"
    return {key: of_result(value, with_values) for key, value in answer.items()}


def same(one: dict, other: dict) -> bool:
    """Whether two fingerprints agree: the same error, or results that agree (``fingerprint.agree``)."""
    if "error" in one or "error" in other:
        return one.get("error") == other.get("error")
    return fingerprint.agree(one, other)


# ---- making them (release) ------------------------------------------------------------------------------

def digest() -> str:
    """A digest of what the fingerprints are made from: the checks, the mistakes, this module and the solutions."""
    from autograder.judging import verdicts
    made_from = (assignment.checks_file(), mistakes.__file__, mistakes.TABLE, __file__)
    text = "".join(pathlib.Path(path).read_text(encoding="utf-8") for path in made_from)
    text += inspect.getsource(fingerprint.sums)                       # what the stored numbers are
    text += json.dumps(verdicts._solutions(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute() -> dict:
    """{"digest", "tests": {grade_id: {"specification": [print, ...], "mistakes": {name: print}}}} for every part test."""
    from autograder.judging import verdicts
    tests = {}
    for grade_id in assignment.PART_TESTS:
        part = assignment.part_of(grade_id)
        specification = [of_answer(grade_id, answer) for answer in verdicts.expected(grade_id)]
        found = {}
        for mistake in mistakes.of_part(part.name):
            found[mistake.name] = of_answer(grade_id, verdicts.answer_of(grade_id, mistaken_namespace(mistake)))
        tests[grade_id] = {"specification": specification, "mistakes": found}
    return {"digest": digest(), "tests": tests}


def solutions_code(mistake: mistakes.Mistake | None = None) -> str:
    """The reference solution's code, every part in one text, with `mistake` (if any) made in its part."""
    from autograder.judging import verdicts
    solutions = dict(verdicts._solutions())
    if mistake is not None:
        solution_id = assignment.part(mistake.part).solution_id
        solutions[solution_id] = mistake.edit(solutions[solution_id])
    return verdicts.PRELUDE + "\n\n".join(solutions.values())


def mistaken_namespace(mistake: mistakes.Mistake) -> dict:
    """The reference solution with `mistake` made in its part, as a namespace."""
    namespace = {}
    exec(solutions_code(mistake), namespace)
    return namespace


def write(path: pathlib.Path = PATH) -> None:
    path.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")


def stale(path: pathlib.Path = PATH) -> bool:
    return not path.exists() or json.loads(path.read_text()).get("digest") != digest()


# ---- using them (grading) -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def stored() -> dict:
    return json.loads(PATH.read_text())["tests"]


def diagnose(grade_id: str, answer: dict | str) -> list[mistakes.Mistake]:
    """The known mistakes whose answer to the check `grade_id` matches the student's (an answer or an error),
    among those that answer differently from the specification."""
    if grade_id not in stored():
        return []
    student = of_answer(grade_id, answer)
    entry = stored()[grade_id]
    by_name = {mistake.name: mistake for mistake in mistakes.MISTAKES}
    return [by_name[name] for name, print_ in entry["mistakes"].items()
            if name in by_name and same(student, print_)
            and not any(same(print_, specification) for specification in entry["specification"])]


def collisions() -> list[tuple[str, str]]:
    """Pairs of mistakes of one part (or a mistake and "the specification") whose fingerprints agree on every
    test of the part: the checks could not tell them apart."""
    found = []
    for part in assignment.PARTS:
        tests = [stored()[test.grade_id] for test in part.tests]
        named = [mistake.name for mistake in mistakes.of_part(part.name)]
        for one in named:
            if all(any(same(entry["mistakes"][one], spec) for spec in entry["specification"]) for entry in tests):
                found.append((one, "the specification"))
        found += [(one, other) for index, one in enumerate(named) for other in named[index + 1:]
                  if all(same(entry["mistakes"][one], entry["mistakes"][other]) for entry in tests)]
    return found
