"""How a batch is graded: the grader's modes and the options each submission's grading job carries.

In: the grader's policy (the runs of quick and smoke mode, ``authoring/policy.py``). Out: ``MODES`` (name -> ``Mode``),
``resolve_mode`` ('auto' -> full or quick), and ``GradingOptions``: the options of ``grade`` that reach the grading
worker. The command line's parser is derived from its fields (``cli.py``), the worker's job carries them
(``GradingOptions.job``), and the worker's nbgrader ``Config`` takes the fields that name an nbgrader setting
(``autograder.options.nbgrader_settings``).
"""

from __future__ import annotations

import dataclasses

from autograder.authoring.policy import QUICK_GRADING, SMOKE_GRADING
from autograder.options import gibibytes, option, whole_number


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    settings: dict  # UNET_* run settings (autograder/authoring/policy.py); {} is the course's real run
    long_cell_timeout: int  # seconds for each of grade.LONG_CELLS
    description: str


def describe(settings: dict) -> str:
    """A run's settings in words: {'epochs': 20, 'hidden_channels': 8, ...} -> '20 epochs, width 8, ...'."""
    words = {
        "epochs": "{} epochs",
        "hidden_channels": "width {}",
        "input_size": "{} px crops",
        "learning_rate": "learning rate {:g}",
        "holdout_slices": "{} held-out slice(s)",
    }
    return ", ".join(text.format(settings[name]) for name, text in words.items() if name in settings)


MODES = {
    "full": Mode(
        "full",
        {},
        3600,
        (
            "Full mode: the notebook's real run (200 epochs, width 64, whole 512 x 512 slices) on a GPU; the training "
            "test checks the held-out quality."
        ),
    ),
    "quick": Mode(
        "quick",
        QUICK_GRADING,
        300,
        (
            f"Quick mode (no GPU): a short, honest run ({describe(QUICK_GRADING)}; QUICK_GRADING in the grader's "
            "policy); the training test checks that the model visibly learns: the loss falls and the held-out slices "
            "are cut into cells far better than by calling every pixel interior."
        ),
    ),
    "smoke": Mode(
        "smoke",
        SMOKE_GRADING,
        120,
        (
            f"Smoke mode, for testing the grader itself, never for grading students: a tiny run "
            f"({describe(SMOKE_GRADING)}); the training test only checks that training ran."
        ),
    ),
}
AUTO = "auto"  # full with a GPU, else quick (resolve_mode)
CPU_MODES = tuple(name for name in MODES if name != "full")  # where no GPU is, as on Gradescope's machines


def resolve_mode(requested: str) -> str:
    """'auto' is 'full' when PyTorch sees a GPU, else 'quick'."""
    if requested != AUTO:
        return requested
    import torch

    return "full" if torch.cuda.is_available() else "quick"


@dataclasses.dataclass(frozen=True)
class GradingOptions:
    """The options of ``grade`` that each submission's grading worker gets (in its job, ``job()``)."""

    mode: str = option(
        AUTO,
        "full: the real 200-epoch run, for a GPU; quick: a short CPU run that must visibly learn; auto "
        "(default): full with a GPU, else quick; smoke: a tiny run for testing the grader itself, never for students",
        choices=(AUTO, *MODES),
        nbgrader="GradingExecute.grading_mode",
    )
    timeout: int = option(
        120,
        "time limit of each cell (default 120); the training and evaluation cells have the mode's own, longer limit",
        type=whole_number,
        metavar="SECONDS",
        nbgrader="GradingExecute.timeout",
    )
    sandbox: str = option(
        "auto",
        "run each submission's kernel in a bubblewrap sandbox (no network, no view of the course, bounded "
        "memory; needs Linux, bwrap and root): on, off, or auto (default: on when it works here; in full mode it "
        "shows the kernel the GPU)",
        choices=("auto", "on", "off"),
    )
    disk_quota: float = option(
        2.0,
        "what each sandboxed kernel may write, in GiB (default 2): a tmpfs scratch, counted in its memory",
        type=gibibytes,
        metavar="GIB",
    )
    max_output_bytes: int = option(
        2_000_000,
        "output kept per cell; the rest is dropped as it arrives",
        command_line=False,
        nbgrader="GradingExecute.max_output_bytes",
    )

    def resolved(self) -> GradingOptions:
        """These options with 'auto' mode made full or quick (``resolve_mode``)."""
        return dataclasses.replace(self, mode=resolve_mode(self.mode))

    def job(self) -> dict:
        """The options as the grading job's JSON carries them: ``GradingOptions(**job["options"])`` reads them."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(GradingOptions)}

    @property
    def disk_bytes(self) -> int:
        return int(self.disk_quota * 2**30)
