"""The visible tests' fingerprints: what the notebook's own test cells compare a student's output with.

Each graded test cell of a part collects its results in a ``with compare_with_specification(test) as results:``
block (``lesson/selfcheck.py``). ``python -m autograder release`` runs every such cell of the source notebook
here, on the reference solution and on each known mistake of the cell's part (``autograder/authoring/mistakes.toml``),
records the fingerprints of the results the block collects (or the error raised in it), and writes them into
``lesson/selfcheck_prints.py``, which the notebook carries.
Answers that any correct ``crop`` may give count as the specification's: either middle offset on an odd margin,
for the crop's own tests and for the parts that call it. A mistake is stored for a test only where its answer
differs from every one of the specification's. A digest of what they are made from (the test cells, the
solutions, the mistakes, the self-checks' modules and this module) says when they are stale.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import pathlib
import re

import nbformat

from autograder import assignment
from autograder.judging import fingerprints, verdicts
from autograder.judging.verdicts import SELFCHECK_MODULES, selfcheck_text
from autograder.authoring import mistakes
from autograder.release.course import SOURCE_NOTEBOOK
from autograder.reports.report import write_atomically
from lesson import fingerprint, selfcheck_prints
from lesson.carried import carried_text

PATH = pathlib.Path(selfcheck_prints.__file__)
START = "# ---- the specification's fingerprints: written by `python -m autograder release`; do not edit ----\n"
END = "# ---- end of the fingerprints ----\n"
GENERATED = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)

class _Recorded(Exception):
    """Raised by the stand-in for compare_with_specification: the cell's results are recorded."""


def part_test_cells(notebook: nbformat.NotebookNode | None = None) -> dict[str, str]:
    """{grade_id: source} of the source notebook's graded test cells of the parts."""
    notebook = notebook or nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade_id") in assignment.PART_TESTS}


def digest() -> str:
    text = selfcheck_text() + pathlib.Path(__file__).read_text(encoding="utf-8")
    text += mistakes.TABLE.read_text(encoding="utf-8") + pathlib.Path(mistakes.__file__).read_text(encoding="utf-8")
    text += json.dumps([part_test_cells(), verdicts._solutions()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def namespace(mistake: mistakes.Mistake | None = None, rounding: tuple[int, int] | None = None) -> dict:
    """The self-checks' helpers (lesson/) and the reference solution (with `mistake` made, and `crop` taking the
    middle offsets `rounding` on odd margins), as the test cells see them in a notebook."""
    scope = {"__name__": "selfcheck"}
    for path in (*SELFCHECK_MODULES, PATH):
        exec(carried_text(path), scope)
    exec(fingerprints.solutions_code(mistake), scope)
    if rounding is not None:
        scope["crop"] = verdicts.crop_at(*rounding)
    return scope


def answer(source: str, scope: dict, traces: list | None = None) -> dict | str | None:
    """What the test cell `source` collects in its ``compare_with_specification`` block when run in `scope`: the
    fingerprints {key: print}, or the error raised in the block ("Type: message"); None when the cell raises
    before the block. The block's ``layer_trace`` is appended to `traces` (when given)."""
    recorded = []

    @contextlib.contextmanager
    def record(test):
        results, tolerance = {}, _tolerance(test)
        try:
            with scope["layer_trace"](tolerance is not None) as trace:
                yield results
        except Exception as error:                   # noqa: BLE001 (a mistaken part may raise anything)
            recorded.append(scope["error_text"](error))
            raise _Recorded from None
        recorded.append({key: _rounded(scope["fingerprint"](value, tolerance is not None), tolerance)
                         for key, value in results.items()})
        if traces is not None:
            traces.append(_rounded_trace(trace, tolerance))
        raise _Recorded

    scope["compare_with_specification"] = record
    try:
        exec(source, scope)
    except _Recorded:
        return recorded[0]
    except Exception:                                # noqa: BLE001
        return None
    raise RuntimeError("the test cell has no `with compare_with_specification(...)` block")


def _tolerance(grade_id: str) -> float | None:
    """How closely the test's sums must agree: None for a shape test (shapes and dtypes only), 1e-9 for crop's
    values (copied, not computed), else fingerprint.TOLERANCE."""
    kind = assignment.tests()[grade_id].kind
    return None if kind == "shape" else 1e-9 if kind == "crop" else fingerprint.TOLERANCE


def _rounded(print_: list, tolerance: float | None) -> list:
    """A fingerprint with its sums to 7 significant digits when the tolerance allows (the file stays short)."""
    if len(print_) < 3 or tolerance is None or tolerance < 1e-6:
        return print_
    return print_[:2] + [[float(f"{value:.7g}") for value in print_[2]]]


def _rounded_trace(trace: dict, tolerance: float | None) -> dict:
    """A ``layer_trace`` record with its fingerprints rounded as ``_rounded`` does."""
    calls = [[name, [_rounded(one, tolerance) for one in inputs], output and _rounded(output, tolerance)]
             for name, inputs, output in trace["calls"]]
    return {"layers": trace["layers"], "input": [_rounded(one, tolerance) for one in trace["input"]], "calls": calls}


def _answers(source: str, mistake: mistakes.Mistake | None, roundings: tuple,
             traces: list | None = None) -> list[dict]:
    """The distinct answers of the cell over the crop's roundings (None: the reference's own crop), and their
    layer traces appended to `traces` (one per answer)."""
    found = []
    for rounding in roundings:
        recorded = []
        result = answer(source, namespace(mistake, rounding), recorded)
        if result is not None and result not in found:
            found.append(result)
            if traces is not None:
                traces += recorded
    return found


def _uses_crop(part: assignment.Part) -> bool:
    return part.name == "crop" or "crop" in part.depends_on


def compute() -> dict:
    """{"mistakes": {name: instead}, "tests": {grade_id: {"tolerance", "uses", "specification", "mistakes"}}}."""
    tests, named = {}, {}
    for grade_id, source in part_test_cells().items():
        part = assignment.part_of(grade_id)
        roundings = verdicts.CROP_ROUNDINGS if _uses_crop(part) else (None,)
        traces = []
        specification = _answers(source, None, roundings, traces)
        if not specification or any(isinstance(one, str) for one in specification):
            raise RuntimeError(f"the reference solution fails the test cell {grade_id}")
        found, tolerance = {}, _tolerance(grade_id)
        for mistake in mistakes.of_part(part.name):
            answers = _answers(source, mistake, (None,) if part.name == "crop" else roundings)
            answers = [one for one in answers if not any(fingerprint.agree(one, spec, tolerance) for spec in specification)]
            if answers:
                found[mistake.name] = answers
                named[mistake.name] = mistake.instead
        uses = {name: [test.grade_id for test in assignment.part(name).tests] for name in part.depends_on}
        for trace in traces[1:]:                     # the layers' settings are the same: kept once
            trace["layers"] = {}
        tests[grade_id] = {"part": part.name, "tolerance": tolerance, "uses": uses, "specification": specification,
                           "traces": traces if part.name != "crop" else [], "mistakes": found}
    return {"mistakes": named, "tests": tests}


def render(prints: dict, digest_: str) -> str:
    """The generated block of lesson/selfcheck_prints.py: one line per mistake, one per answer."""
    lines = [START, f"FINGERPRINTS_DIGEST = {digest_!r}\n", "KNOWN_MISTAKES = {          # name: what the specification asks instead\n"]
    lines += [f"    {name!r}: {instead!r},\n" for name, instead in prints["mistakes"].items()]
    lines += ["}\n", "FINGERPRINTS = {            # test: the fingerprints of the specification's answers and of the mistakes'\n"]
    for grade_id, entry in prints["tests"].items():
        lines.append(f"    {grade_id!r}: {{\n        'part': {entry['part']!r}, 'tolerance': {entry['tolerance']!r}, "
                     f"'uses': {entry['uses']!r},\n")
        for field in ("specification", "traces"):
            lines.append(f"        {field!r}: [\n")
            lines += [f"            {answer_!r},\n" for answer_ in entry[field]]
            lines.append("        ],\n")
        lines.append("        'mistakes': {\n")
        for name, answers in entry["mistakes"].items():
            lines.append(f"            {name!r}: [\n")
            lines += [f"                {answer_!r},\n" for answer_ in answers]
            lines.append("            ],\n")
        lines.append("        },\n    },\n")
    return "".join(lines) + "}\n" + END


def stored_digest() -> str:
    match = re.search(r"^FINGERPRINTS_DIGEST = '([0-9a-f]*)'$", PATH.read_text(encoding="utf-8"), re.M)
    return match[1] if match else ""


def stale() -> bool:
    return stored_digest() != digest()


def write() -> None:
    """Compute the fingerprints and write them into lesson/selfcheck_prints.py."""
    text = PATH.read_text(encoding="utf-8")
    write_atomically(PATH, GENERATED.sub(lambda _: render(compute(), digest()), text))


def collisions() -> list[tuple[str, str]]:
    """Mistakes of a part that no visible test of the part tells apart from the specification ("the
    specification") or from another mistake of the part."""
    found = []
    for part in assignment.PARTS:
        entries = [selfcheck_prints.FINGERPRINTS[test.grade_id] for test in part.tests]
        names = [mistake.name for mistake in mistakes.of_part(part.name)]
        found += [(name, "the specification") for name in names if not any(name in e["mistakes"] for e in entries)]
        for one, other in itertools.combinations(names, 2):
            if all(one in e["mistakes"] and other in e["mistakes"]
                   and any(fingerprint.agree(a, b, e["tolerance"]) for a in e["mistakes"][one] for b in e["mistakes"][other])
                   for e in entries if one in e["mistakes"] or other in e["mistakes"]):
                found.append((one, other))
    return found
