"""The assignment, declared once: its parts, their solution cells, their tests, points and checks.

Everything in the grader derives from this table: the normaliser that finds solution cells without metadata,
the grader's verdicts (``judging/verdicts.py``), the release's and docs/instructors.md's parts tables and the test
suite. (The reference loader, ``solutions/reference.py``, reads the source notebook's own metadata: the
authored solution does not depend on the grader.) A test (``tests/test_assignment.py``) proves that the source
notebook agrees with it: the same grade ids, points and order. Changing a test's points is one edit here and
the same edit in the source notebook's cell metadata.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import pathlib
from typing import Callable

CHECKS = "autograder.authoring.checks"  # the module of the hidden checks: one function per graded test


def checks_file() -> pathlib.Path:
    """The checks' source file, found without importing it (it imports PyTorch; the kernel is sent its text)."""
    return pathlib.Path(importlib.util.find_spec(CHECKS).origin)


@dataclasses.dataclass(frozen=True)
class Test:
    """One graded test cell of the notebook."""

    grade_id: str  # the test cell's nbgrader grade_id
    points: int
    check: str  # the hidden test: the name of a function of CHECKS, run in the kernel
    # and here; its docstring says what the specification asks
    kind: str  # how its results are compared: "shape", "values", "crop" or "training"

    @property
    def function(self) -> Callable:
        """The check itself (importing the checks' module, and so PyTorch, only when it is needed)."""
        return getattr(importlib.import_module(CHECKS), self.check)

    @property
    def asks(self) -> str:
        """What the specification asks, in the words of the feedback: the check's docstring, on one line."""
        return " ".join(_docstrings()[self.check].split()).rstrip(".")


@dataclasses.dataclass(frozen=True)
class Part:
    """One part the student implements, in one solution cell."""

    name: str  # the name the solution cell defines
    solution_id: str  # the solution cell's grade_id
    signature: str  # as the notebook gives it to the student
    tests: tuple[Test, ...]
    depends_on: tuple[str, ...] = ()  # parts (names) it uses: checked with their reference versions


PARTS = (
    Part(
        "crop",
        "crop",
        "crop(image, new_shape)",
        (
            Test("test_crop_shape", 4, "crop_shape", "shape"),
            Test("test_crop_centre", 6, "crop_centre", "crop"),
        ),
    ),
    Part(
        "ContractingBlock",
        "contracting_block",
        "ContractingBlock(input_channels)",
        (
            Test("test_contracting_block_shape", 5, "contracting_block_shape", "shape"),
            Test("test_contracting_block_layers", 5, "contracting_block_layers", "values"),
            Test("test_contracting_block_forward", 10, "contracting_block_forward", "values"),
        ),
    ),
    Part(
        "ExpandingBlock",
        "expanding_block",
        "ExpandingBlock(input_channels)",
        (
            Test("test_expanding_block_shape", 5, "expanding_block_shape", "shape"),
            Test("test_expanding_block_layers", 8, "expanding_block_layers", "values"),
            Test("test_expanding_block_forward", 12, "expanding_block_forward", "values"),
        ),
        depends_on=("crop",),
    ),
    Part(
        "FeatureMapBlock",
        "feature_map_block",
        "FeatureMapBlock(input_channels, output_channels)",
        (Test("test_feature_map_block", 5, "feature_map_block", "values"),),
    ),
    Part(
        "UNet",
        "unet",
        "UNet(input_channels, output_channels, hidden_channels=64)",
        (
            Test("test_unet_shape", 8, "unet_shape", "shape"),
            Test("test_unet_layers", 7, "unet_layers", "values"),
            Test("test_unet_forward", 10, "unet_forward", "values"),
        ),
        depends_on=("crop", "ContractingBlock", "ExpandingBlock", "FeatureMapBlock"),
    ),
)

# The locked training run, graded on the student's own model: not a part of its own.
TRAINING = Test("test_training", 15, "trained_weights", "training")


def tests() -> dict[str, Test]:
    """Every graded test by grade_id, in notebook order (the training test last)."""
    return {test.grade_id: test for test in (*[t for part in PARTS for t in part.tests], TRAINING)}


def points() -> dict[str, int]:
    """{grade_id: points} of every graded test, in notebook order."""
    return {grade_id: test.points for grade_id, test in tests().items()}


def part(name: str) -> Part:
    """The part called `name` ("crop", "ContractingBlock", ...)."""
    return next(part for part in PARTS if part.name == name)


def part_of(grade_id: str) -> Part | None:
    """The part whose test `grade_id` is, or None for the training test."""
    return next((part for part in PARTS if grade_id in {test.grade_id for test in part.tests}), None)


SOLUTION_IDS = tuple(part.solution_id for part in PARTS)
PART_TESTS = tuple(test.grade_id for part in PARTS for test in part.tests)  # every test of a part: not training


def markdown_table() -> str:
    """The parts table of docs/instructors.md, as the declaration says it."""
    rows = ["| part | solution cell (grade_id) | points | tests (points) |", "|---|---|---|---|"]
    for part in PARTS:
        tests_ = ", ".join(f"`{test.grade_id}` ({test.points})" for test in part.tests)
        rows.append(f"| `{part.signature}` | `{part.solution_id}` | {sum(t.points for t in part.tests)} | {tests_} |")
    rows.append(f"| the (locked) training run | | {TRAINING.points} | `{TRAINING.grade_id}` ({TRAINING.points}) |")
    return "\n".join(rows)


@functools.lru_cache(maxsize=1)
def _docstrings() -> dict[str, str]:
    """{check name: docstring} of the checks, read from their text (no PyTorch needed to say what it asks)."""
    tree = ast.parse(checks_file().read_text(encoding="utf-8"))
    return {node.name: ast.get_docstring(node) or "" for node in tree.body if isinstance(node, ast.FunctionDef)}
