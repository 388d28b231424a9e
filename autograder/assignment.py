"""The assignment, declared once: its parts, their solution cells, their tests, points and checks.

Everything else derives from this table: the reference loader (``solutions/reference.py``), the normaliser
that finds solution cells without metadata, the grader's checks (``verdicts.py``), the release's and the
README's parts tables and the test suite. A test (``tests/test_assignment.py``) proves that the source
notebook agrees with it: the same grade ids, points and order. Changing a test's points is one edit here and
the same edit in the source notebook's cell metadata.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from autograder import checks


@dataclasses.dataclass(frozen=True)
class Test:
    """One graded test cell of the notebook."""

    grade_id: str            # the test cell's nbgrader grade_id
    points: int
    check: Callable          # the hidden test: a function of autograder/checks.py, run in the kernel and here
    kind: str                # how its results are compared: "shape", "values", "crop" or "training"
    asks: str                # what the specification asks, in the words of the feedback


@dataclasses.dataclass(frozen=True)
class Part:
    """One part the student implements, in one solution cell."""

    name: str                # the name the solution cell defines
    solution_id: str         # the solution cell's grade_id
    signature: str           # as the notebook gives it to the student
    tests: tuple[Test, ...]
    depends_on: tuple[str, ...] = ()   # parts (names) it uses: checked with their reference versions


PARTS = (
    Part("crop", "crop", "crop(image, new_shape)", (
        Test("test_crop_shape", 4, checks.crop_shape, "shape",
             "crop(image, new_shape) should return shape (N, C, new_shape[2], new_shape[3]) for an (N, C, H, W) "
             "image, with new_shape a torch.Size or a tuple"),
        Test("test_crop_centre", 6, checks.crop_centre, "crop",
             "crop should return one window of every image and channel, of the input's dtype, centred: top offset "
             "(H - h) // 2 and left offset (W - w) // 2 (either middle offset when the margin is odd)"),
    )),
    Part("ContractingBlock", "contracting_block", "ContractingBlock(input_channels)", (
        Test("test_contracting_block_shape", 5, checks.contracting_block_shape, "shape",
             "ContractingBlock(C) should map (N, C, H, W) to (N, 2C, (H - 4) // 2, (W - 4) // 2)"),
        Test("test_contracting_block_layers", 5, checks.contracting_block_layers, "values",
             "conv1 (C -> 2C) and conv2 (2C -> 2C) should be valid 3 x 3 convolutions with a bias (padding 0, "
             "stride 1), activation nn.ReLU() and maxpool nn.MaxPool2d(kernel_size=2, stride=2)"),
        Test("test_contracting_block_forward", 10, checks.contracting_block_forward, "values",
             "forward should compute maxpool(relu(conv2(relu(conv1(x))))) with the block's own weights"),
    )),
    Part("ExpandingBlock", "expanding_block", "ExpandingBlock(input_channels)", (
        Test("test_expanding_block_shape", 5, checks.expanding_block_shape, "shape",
             "ExpandingBlock(C) should map x (N, C, H, W) and a larger skip (N, C/2, Hs, Ws) to "
             "(N, C/2, 2H - 5, 2W - 5)"),
        Test("test_expanding_block_layers", 8, checks.expanding_block_layers, "values",
             "upsample should be nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True); conv1 a 2 x 2 "
             "convolution (C -> C/2), conv2 3 x 3 (C -> C/2) and conv3 3 x 3 (C/2 -> C/2), all valid (padding 0, "
             "stride 1); activation nn.ReLU()"),
        Test("test_expanding_block_forward", 12, checks.expanding_block_forward, "values",
             "forward should compute relu(conv3(relu(conv2(cat([conv1(upsample(x)), crop(skip)], 1))))) with the "
             "block's own weights"),
    ), depends_on=("crop",)),
    Part("FeatureMapBlock", "feature_map_block", "FeatureMapBlock(input_channels, output_channels)", (
        Test("test_feature_map_block", 5, checks.feature_map_block, "values",
             "FeatureMapBlock(C_in, C_out).forward should be exactly its 1 x 1 convolution (C_in -> C_out, "
             "with a bias, no activation)"),
    )),
    Part("UNet", "unet", "UNet(input_channels, output_channels, hidden_channels=64)", (
        Test("test_unet_shape", 8, checks.unet_shape, "shape",
             "UNet(C_in, C_out) should map (N, C_in, H, W) to logits (N, C_out, H - 139, W - 139)"),
        Test("test_unet_layers", 7, checks.unet_layers, "values",
             "UNet(C_in, C_out, hidden_channels) should have upfeature (C_in -> hidden), contract1-4 (each doubling "
             "the channels), expand1-4 (each halving them) and downfeature (hidden -> C_out)"),
        Test("test_unet_forward", 10, checks.unet_forward, "values",
             "UNet.forward should be downfeature(expand4(expand3(expand2(expand1(x4, x3), x2), x1), x0)) after "
             "the contracting path x0 = upfeature(x), x1 = contract1(x0), ..., x4 = contract4(x3), returning "
             "logits (no activation after downfeature)"),
    ), depends_on=("crop", "ContractingBlock", "ExpandingBlock", "FeatureMapBlock")),
)

# The locked training run, graded on the student's own model: not a part of its own.
TRAINING = Test("test_training", 15, checks.trained_weights, "training",
                "the training run should finish with finite losses that fall, and the trained U-Net should find the "
                "held-out cells (the bar of the grading mode)")


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
PART_TESTS = tuple(test.grade_id for part in PARTS for test in part.tests)   # every test of a part: not training


def markdown_table() -> str:
    """The parts table of the README, as the declaration says it."""
    rows = ["| part | solution cell (grade_id) | points | tests (points) |", "|---|---|---|---|"]
    for part in PARTS:
        tests_ = ", ".join(f"`{test.grade_id}` ({test.points})" for test in part.tests)
        rows.append(f"| `{part.signature}` | `{part.solution_id}` | {sum(t.points for t in part.tests)} | {tests_} |")
    rows.append(f"| the (locked) training run | | {TRAINING.points} | `{TRAINING.grade_id}` ({TRAINING.points}) |")
    return "\n".join(rows)
