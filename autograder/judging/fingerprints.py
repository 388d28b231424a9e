"""The fingerprints of the specification and of every known mistake: one store for the grader's hidden checks and
the notebook's visible tests alike, and the diagnosis they give.

A fingerprint of one result is its shape, its dtype and three numbers: the sum, the sum of absolute values and a
position-weighted sum of its values (so that a window of an image taken from the wrong place differs), or the
error it raised (``lesson/fingerprint.py``'s, which the notebook's visible tests use too). The store,
``autograder/judging/fingerprints.json``, holds:

* ``hidden``: {check: {"specification": [print, ...], "mistakes": {name: print}}}, each hidden check's answers
  (``autograder/authoring/checks.py``) on the reference solution and on each known mistake; they stay with the
  grader, which names the mistakes a student's answer matches (``diagnose``);
* ``visible``: {"mistakes": {name: what the specification asks instead}, "tests": {test: {"part", "tolerance",
  "uses", "specification", "traces", "mistakes"}}}, what each graded test cell of the source notebook collects in
  its ``with compare_with_specification(test) as results:`` block, on the reference (with either middle offset
  of ``crop`` on odd margins, for the crop's tests and for the parts that call it) and on each known mistake of the
  cell's part (stored only where it differs from every answer of the specification), with the reference's layer
  traces; the notebook carries them packed in a cell of their own (``notebook_text``);
* ``digest``: a digest of everything they are made from (the checks, the mistakes, the test cells, the
  solutions, the self-checks' modules and this module), so that ``release --check`` says when they are stale.

``python -m autograder release`` writes the store (``compute``, ``render``); ``stale`` and ``collisions`` serve
both kinds.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import lzma
import pathlib

import nbformat
import numpy as np

from autograder import assignment
from autograder.authoring import mistakes
from autograder.judging import verdicts
from lesson import fingerprint, selfcheck
from lesson.carried import carried_text
from solutions.reference import SOURCE_NOTEBOOK

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
    """Whether two fingerprints of a hidden check agree: the same error, or results that agree."""
    if "error" in one or "error" in other:
        return one.get("error") == other.get("error")
    return fingerprint.agree(one, other)


# ---- the reference, and the reference with a mistake made ---------------------------------------------------


def solutions_code(mistake: mistakes.Mistake | None = None) -> str:
    """The reference solution's code, every part in one text, with `mistake` (if any) made in its part."""
    solutions = dict(verdicts.solutions())
    if mistake is not None:
        solution_id = assignment.part(mistake.part).solution_id
        solutions[solution_id] = mistake.edit(solutions[solution_id])
    return verdicts.PRELUDE + "\n\n".join(solutions.values())


def mistaken_namespace(mistake: mistakes.Mistake) -> dict:
    """The reference solution with `mistake` made in its part, as a namespace."""
    namespace = {}
    exec(solutions_code(mistake), namespace)
    return namespace


def namespace(
    mistake: mistakes.Mistake | None = None, rounding: tuple[int, int] | None = None, prints: bool = True
) -> dict:
    """The self-checks' helpers (comparing with the stored visible prints, unless not `prints`) and the reference
    solution (with `mistake` made, and `crop` taking the middle offsets `rounding` on odd margins), as the test
    cells see them in a notebook."""
    scope = {"__name__": "selfcheck"}
    for path in verdicts.SELFCHECK_MODULES:
        exec(carried_text(path), scope)
    if prints:
        scope["use_prints"](visible())
    exec(solutions_code(mistake), scope)
    if rounding is not None:
        scope["crop"] = verdicts.crop_at(*rounding)
    return scope


# ---- the hidden checks' answers -------------------------------------------------------------------------------


def compute_hidden() -> dict:
    """{grade_id: {"specification": [print, ...], "mistakes": {name: print}}} for every part's check."""
    tests = {}
    for grade_id in assignment.PART_TESTS:
        part = assignment.part_of(grade_id)
        specification = [of_answer(grade_id, answer) for answer in verdicts.expected(grade_id)]
        found = {
            mistake.name: of_answer(grade_id, verdicts.answer_of(grade_id, mistaken_namespace(mistake)))
            for mistake in mistakes.of_part(part.name)
        }
        tests[grade_id] = {"specification": specification, "mistakes": dict(sorted(found.items()))}
    return tests


# ---- the visible tests' answers -------------------------------------------------------------------------------


class _Recorded(Exception):
    """Raised by the stand-in for compare_with_specification: the cell's results are recorded."""


def part_test_cells(notebook: nbformat.NotebookNode | None = None) -> dict[str, str]:
    """{grade_id: source} of the source notebook's graded test cells of the parts."""
    notebook = notebook or nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") in assignment.PART_TESTS
    }


def answer(source: str, scope: dict, traces: list | None = None) -> dict | str | None:
    """What the test cell `source` collects in its ``compare_with_specification`` block when run in `scope`: the
    fingerprints {key: print}, or the error raised in the block ("Type: message"); None when the cell raises
    before the block. The block's ``layer_trace`` is appended to `traces` (when given)."""
    recorded = []

    @contextlib.contextmanager
    def record(test):
        results, tolerance = {}, tolerance_of(test)
        try:
            with scope["layer_trace"](tolerance is not None) as trace:
                yield results
        except Exception as error:  # noqa: BLE001 (a mistaken part may raise anything)
            recorded.append(scope["error_text"](error))
            raise _Recorded from None
        recorded.append(
            {
                key: _rounded(scope["fingerprint"](value, tolerance is not None), tolerance)
                for key, value in results.items()
            }
        )
        if traces is not None:
            traces.append(_rounded_trace(trace, tolerance))
        raise _Recorded

    scope["compare_with_specification"] = record
    try:
        exec(source, scope)
    except _Recorded:
        return recorded[0]
    except Exception:  # noqa: BLE001
        return None
    raise RuntimeError("the test cell has no `with compare_with_specification(...)` block")


def tolerance_of(grade_id: str) -> float | None:
    """How closely a visible test's sums must agree: None for a shape test (shapes and dtypes only), 1e-9 for
    crop's values (copied, not computed), else fingerprint.TOLERANCE."""
    kind = assignment.tests()[grade_id].kind
    return None if kind == "shape" else 1e-9 if kind == "crop" else fingerprint.TOLERANCE


def _rounded(print_: list, tolerance: float | None) -> list:
    """A fingerprint with its sums to 7 significant digits when the tolerance allows (the notebook stays light)."""
    if len(print_) < 3 or tolerance is None or tolerance < 1e-6:
        return print_
    return print_[:2] + [[float(f"{value:.7g}") for value in print_[2]]]


def _rounded_trace(trace: dict, tolerance: float | None) -> dict:
    """A ``layer_trace`` record with its fingerprints rounded as ``_rounded`` does."""
    calls = [
        [name, [_rounded(one, tolerance) for one in inputs], output and _rounded(output, tolerance)]
        for name, inputs, output in trace["calls"]
    ]
    return {"layers": trace["layers"], "input": [_rounded(one, tolerance) for one in trace["input"]], "calls": calls}


def _answers(source: str, mistake: mistakes.Mistake | None, roundings: tuple, traces: list | None = None) -> list[dict]:
    """The distinct answers of the cell over the crop's roundings (None: the reference's own crop), and their
    layer traces appended to `traces` (one per answer)."""
    found = []
    for rounding in roundings:
        recorded = []
        result = answer(source, namespace(mistake, rounding, prints=False), recorded)
        if result is not None and result not in found:
            found.append(result)
            if traces is not None:
                traces += recorded
    return found


def compute_visible() -> dict:
    """{"mistakes": {name: instead}, "tests": {grade_id: {"part", "tolerance", "uses", "specification", "traces",
    "mistakes"}}} for every part's graded test cell."""
    tests, named = {}, {}
    for grade_id, source in part_test_cells().items():
        part = assignment.part_of(grade_id)
        uses_crop = part.name == "crop" or "crop" in part.depends_on
        roundings = verdicts.CROP_ROUNDINGS if uses_crop else (None,)
        traces = []
        specification = _answers(source, None, roundings, traces)
        if not specification or any(isinstance(one, str) for one in specification):
            raise RuntimeError(f"the reference solution fails the test cell {grade_id}")
        found, tolerance = {}, tolerance_of(grade_id)
        for mistake in mistakes.of_part(part.name):
            answers = _answers(source, mistake, (None,) if part.name == "crop" else roundings)
            answers = [
                one for one in answers if not any(fingerprint.agree(one, spec, tolerance) for spec in specification)
            ]
            if answers:
                found[mistake.name] = answers
                named[mistake.name] = mistake.instead
        uses = {name: [test.grade_id for test in assignment.part(name).tests] for name in part.depends_on}
        for trace in traces[1:]:  # the layers' settings are the same: kept once
            trace["layers"] = {}
        tests[grade_id] = {
            "part": part.name,
            "tolerance": tolerance,
            "uses": uses,
            "specification": specification,
            "traces": traces if part.name != "crop" else [],
            "mistakes": found,
        }
    return {"mistakes": named, "tests": tests}


# ---- the store: made by the release, read by the grader and carried by the notebook ---------------------------


def digest() -> str:
    """A digest of what the fingerprints are made from: the checks, the mistakes, the test cells, the solutions,
    the self-checks' modules (the sums and what the test cells call) and this module."""
    made_from = (assignment.checks_file(), mistakes.__file__, mistakes.TABLE, __file__, *verdicts.SELFCHECK_MODULES)
    text = "".join(pathlib.Path(path).read_text(encoding="utf-8") for path in made_from)
    text += json.dumps([part_test_cells(), verdicts.solutions()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute() -> dict:
    """The store: {"digest", "hidden", "visible"}."""
    return {"digest": digest(), "hidden": compute_hidden(), "visible": compute_visible()}


def render(store: dict) -> str:
    """The store's JSON text, one line per answer and per layer trace (the file is read in diffs)."""
    return _json(store, 0) + "\n"


def _json(value, indent: int) -> str:
    if not _opened(value, indent):
        return json.dumps(value)
    inner = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key)}: {_json(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(inner + _json(item, indent + 1) for item in value) + "\n" + " " * indent + "]"


def _opened(value, indent: int) -> bool:
    """Whether a value is written over several lines: the upper levels, and what holds answers or traces (an
    answer {key: print}, an error and a trace each take one line)."""
    if isinstance(value, list):
        return bool(value) and isinstance(value[0], (dict, str))
    if not isinstance(value, dict) or not value or set(value) == {"layers", "input", "calls"}:
        return False
    return indent < 3 or any(isinstance(item, dict) or _opened(item, indent + 1) for item in value.values())


def stale(path: pathlib.Path = PATH) -> bool:
    return not path.exists() or json.loads(path.read_text()).get("digest") != digest()


@functools.lru_cache(maxsize=1)
def stored() -> dict:
    return json.loads(PATH.read_text())


def hidden() -> dict:
    """The hidden checks' fingerprints: {grade_id: {"specification", "mistakes"}}."""
    return stored()["hidden"]


def visible() -> dict:
    """The visible tests' fingerprints: {"mistakes", "tests"} (``lesson/selfcheck.py``'s ``use_prints``)."""
    return stored()["visible"]


PRINTS_CELL = '''"""The specification's fingerprints, which the tests below compare with: a few numbers per result of
the reference solution and of each known mistake, and the reference's layer traces. Written by
`python -m autograder release` (autograder/judging/fingerprints.json); do not edit them by hand.
Packed (JSON, LZMA, Base85): unpack(...) gives them back as plain data."""
use_prints(unpack("""
{packed}
"""))'''


def notebook_text(current: str = "") -> str:
    """The code of the notebook's cell that carries the visible tests' fingerprints: their packed text is kept
    from `current` when it carries the stored ones already (however they were packed), else packed anew."""
    try:
        packed = current.split('"""')[3].strip()
        if selfcheck.unpack(packed) != visible():
            packed = ""
    except (IndexError, ValueError, TypeError, lzma.LZMAError):
        packed = ""
    return PRINTS_CELL.format(packed=packed or selfcheck.pack(visible()))


def diagnose(grade_id: str, answer: dict | str) -> list[mistakes.Mistake]:
    """The known mistakes whose answer to the hidden check `grade_id` matches the student's (an answer or an
    error), among those that answer differently from the specification."""
    if grade_id not in hidden():
        return []
    student = of_answer(grade_id, answer)
    entry = hidden()[grade_id]
    by_name = {mistake.name: mistake for mistake in mistakes.MISTAKES}
    return [
        by_name[name]
        for name, print_ in entry["mistakes"].items()
        if name in by_name
        and same(student, print_)
        and not any(same(print_, specification) for specification in entry["specification"])
    ]


def collisions() -> list[tuple[str, str, str]]:
    """(where, mistake, other): mistakes of one part that the hidden checks ("hidden") or the visible tests
    ("visible") of the part cannot tell apart from the specification ("the specification") or from another
    mistake of the part."""
    found = []
    for part in assignment.PARTS:
        names = [mistake.name for mistake in mistakes.of_part(part.name)]
        found += [("hidden", *pair) for pair in _hidden_collisions(part, names)]
        found += [("visible", *pair) for pair in _visible_collisions(part, names)]
    return found


def _hidden_collisions(part: assignment.Part, names: list[str]) -> list[tuple[str, str]]:
    """A mistake's answer agrees with one of the specification's, or with another mistake's, on every check."""
    entries = [hidden()[test.grade_id] for test in part.tests]
    found = [
        (one, "the specification")
        for one in names
        if all(any(same(entry["mistakes"][one], spec) for spec in entry["specification"]) for entry in entries)
    ]
    return found + [
        (one, other)
        for one, other in itertools.combinations(names, 2)
        if all(same(entry["mistakes"][one], entry["mistakes"][other]) for entry in entries)
    ]


def _visible_collisions(part: assignment.Part, names: list[str]) -> list[tuple[str, str]]:
    """A mistake stored for no test (it agreed with the specification everywhere), or two mistakes stored for the
    same tests with answers that agree on each of them."""
    entries = [visible()["tests"][test.grade_id] for test in part.tests]
    found = [(name, "the specification") for name in names if not any(name in e["mistakes"] for e in entries)]
    for one, other in itertools.combinations(names, 2):
        if all(
            one in e["mistakes"] and other in e["mistakes"] and _agreeing(e, one, other)
            for e in entries
            if one in e["mistakes"] or other in e["mistakes"]
        ):
            found.append((one, other))
    return found


def _agreeing(entry: dict, one: str, other: str) -> bool:
    """Whether an answer of the mistake `one` agrees with an answer of `other` on the visible test `entry`."""
    answers = itertools.product(entry["mistakes"][one], entry["mistakes"][other])
    return any(fingerprint.agree(a, b, entry["tolerance"]) for a, b in answers)
