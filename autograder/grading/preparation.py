"""A batch's torch work, each piece in a Python process of its own: the reference's answers to every check
(``verdicts.save_expected``, for the template course), the kernels' precision and layout (``lesson.speed``) and the
grader's training check on the reference's quick runs in the kernels' settings (``calibration.py``).

The grader's own process reads the submissions, runs the workers and writes the reports; none of that needs torch,
whose import alone holds about 500 MB of resident memory, and the measured U-Net step some 250 MB more, for as
long as the process lives. Done in a child that exits when it is done, that memory goes back to the kernels, and
the grader's own process stays near 150 MB for the whole batch, whatever comes in (docs/security.md).

In: what to compute. Out: the file of answers written; (precision, layout, why): ``lesson.speed``'s RunSettings
as plain strings; or the training check's verdict on the reference's run: each printed by the child as JSON.
A failed child raises RuntimeError with the last lines it wrote; a stop (Ctrl-C, SIGTERM) kills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys

from autograder.release.course import REPO_ROOT

# The correct crops whose quick runs are checked (``calibration.py``): the reference's own (None), and the one taking
# the upper middle offset wherever a margin is odd (judging/verdicts.py CROP_ROUNDINGS: the checks accept every
# rounding). That U-Net computes the same function with other arithmetic, so from the same start it trains a run
# near the reference's, not the reference's (docs/benchmarks.md: such a run misses the bar first when runs shorten).
CHECKED_CROPS = (None, (1, 1))


def save_expected(path: pathlib.Path) -> None:
    """The reference's answers to every check, computed in a child and written to `path`."""
    _child("expected", path)


def precision_and_layout(hidden_channels: int, threads: int, device: str) -> tuple[str, str, str]:
    """(precision, layout, why) the kernels train the mode's U-Net in (`hidden_channels` wide) at `threads`
    threads on `device` (as UNET_DEVICE), measured in a child (UNET_PRECISION and UNET_LAYOUT of this environment
    win)."""
    precision, layout, why = json.loads(_child("precision", hidden_channels, threads, device))
    return precision, layout, why


def reference_run(settings: dict[str, str], threads: int) -> str:
    """The grader's training check on the reference U-Net's own run, trained in a child whose environment has
    `settings` (the kernels' UNET_* settings) at `threads` threads: "" when the run passes, else what fell short."""
    return json.loads(_child("reference-run", threads, env={**os.environ, **settings}))


def train_reference(config, crop=None):
    """The reference U-Net trained as the notebook's training cell trains a submission's: the same slices, the same
    start (``draw_weights``) and the same run (``fit``), without its figures or checkpoint; with `crop` (a function)
    in place of the reference's own. Returns the model and the loss of every step."""
    import torch

    from data.isbi2012 import split_holdout
    from data.source import load_dataset
    from lesson.training import draw_weights, fit
    from solutions.reference import load_reference

    train_images, train_labels, _ = load_dataset()
    fit_images = split_holdout(train_images, config.holdout_slices)[0]
    fit_labels = split_holdout(train_labels, config.holdout_slices)[0]
    reference = load_reference()
    if crop is not None:
        reference.crop = crop  # the name its ExpandingBlock calls
    torch.manual_seed(config.seed)
    model = draw_weights(reference.UNet(1, 1, hidden_channels=config.hidden_channels), config.seed)
    losses = fit(model, fit_images, fit_labels, config, checkpoint=None, show_figures=False)
    return model, losses


def _child(*arguments, env: dict[str, str] | None = None) -> str:
    """``python -m autograder.grading.preparation ARGUMENTS``: what it printed."""
    command = [sys.executable, "-m", __name__, *map(str, arguments)]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        printed, errors = process.communicate()
    except BaseException:  # a stop: the child goes with the batch
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(
            f"preparing the batch ({arguments[0]}) failed (exit {process.returncode}):\n{errors[-2000:]}"
        )
    return printed


def _measure(hidden_channels: int, threads: int, device: str) -> list:
    import torch

    from lesson.config import read_config
    from lesson.speed import choose_precision_and_layout
    from lesson.training import pick_device
    from solutions.reference import load_reference

    torch.set_num_threads(threads)
    model = load_reference().UNet(1, 1, hidden_channels=hidden_channels)
    config = read_config()
    return list(choose_precision_and_layout(model, pick_device(device), config.precision, config.layout))


def _judge_reference_run(threads: int) -> str:
    """What the training test asks of a run, on each of the CHECKED_CROPS' runs: its losses (the notebook's test)
    and its weights (the grader's check). "" when every run passes, else which fell short first and what it missed."""
    import torch

    from autograder.authoring.policy import MODES_WITH_A_BAR, loss_shortfall
    from autograder.judging import verdicts
    from lesson.config import read_config

    torch.set_num_threads(threads)
    config = read_config()
    mode = os.environ["UNET_GRADING_MODE"]
    with contextlib.redirect_stdout(sys.stderr):  # what fit, the loader and the check print; stdout carries the verdict
        for crop in CHECKED_CROPS:
            model, losses = train_reference(config, crop and verdicts.crop_at(*crop))
            weights = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
            missed = [verdicts.training_shortfall(weights, config, mode)]
            if mode in MODES_WITH_A_BAR:
                missed.insert(0, loss_shortfall(losses, len(losses) // config.epochs))
            shortfall = "; ".join(filter(None, missed))
            if shortfall:
                which = "own" if crop is None else "run with its crop's upper middle offsets (as correct), its"
                return f"the reference's {which} {mode} run fell short here: {shortfall}"
    return ""


def main(argv: list[str]) -> None:
    if argv[0] == "expected":
        from autograder.judging import verdicts

        verdicts.save_expected(pathlib.Path(argv[1]))
    elif argv[0] == "precision":
        print(json.dumps(_measure(int(argv[1]), int(argv[2]), argv[3])))
    elif argv[0] == "reference-run":
        print(json.dumps(_judge_reference_run(int(argv[1]))))
    else:
        raise SystemExit(
            f"usage: python -m {__name__} expected PATH | precision HIDDEN_CHANNELS THREADS DEVICE "
            "| reference-run THREADS"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
