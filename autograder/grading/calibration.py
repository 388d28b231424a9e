"""The reference's quick runs on this machine: can quick mode tell a correct U-Net from a broken one here?

Quick mode's bar (``authoring/policy.py``) is absolute, and where a 10-epoch run ends depends on the CPU's numbers:
the reference U-Net trained from one start in bf16 or fp32, NHWC or NCHW, follows another path, and from a few
starts it misses the bar (``benchmarks/results/quick-bar-seeds-amd-epyc.txt``: 2 of 24 at 10 epochs). A correct
submission starts as the reference does (``lesson.training.draw_weights``) and, computing as it does, trains exactly
its run, so where the reference's run missed the bar, every correct submission would lose the training test. One
that computes the same function another way (a crop taking the other middle offset where a margin is odd) trains a
run near it, not on it, and such a run misses the bar first (``benchmarks/results/quick-bar-correct-variants-*.txt``).

So before a quick batch grades anything, the reference trains in the kernels' own settings (the mode's run, their
precision, layout and threads) twice, with its own crop and with the crop taking the upper middle offsets, and each
run is judged as the training test judges a student's: its losses as the notebook's test cell does, its weights by
the grader's own training check (``preparation.reference_run``, about two submissions' training time). When either
falls short in the precision and layout chosen for speed, the
course's own setting (fp32, NCHW) is tried; the kernels train in the first that passes, and when none does, the
batch stops before grading with ``ReferenceRunFails``: what fell short, and what to do.

In: the mode, the chosen (precision, layout, why), the kernels' other UNET_* settings and threads. Out: the
(precision, layout, why) the kernels train in. Verdicts are kept in ``~/.cache/unet-isbi2012/reference-runs.json``
under a key of the release and the grader's code, the settings, the data, the CPU and PyTorch's version, so that a
later run on the same folder (three late files) does not train the reference again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform

from autograder.grading import keys, preparation
from autograder.grading.template import template_key
from autograder.reports.report import write_atomically
from lesson.config import cache_folder, cpu_model

CHECKED_MODES = ("quick",)  # full mode's run is the real one, on a GPU; smoke mode has no bar
COURSE_SETTING = ("fp32", "contiguous")  # the course's own: fp32 in NCHW
PINNED = ("UNET_PRECISION", "UNET_LAYOUT")  # set in the grader's environment: nothing else is tried
CACHE_NAME = "reference-runs.json"
PLACES = ("UNET_CHECKPOINT_DIR", "UNET_DATA_DIR")  # folders, often temporary: the data is in the key by its digest


class ReferenceRunFails(RuntimeError):
    """The reference's own run misses the mode's bar on this machine in every setting tried: grading in this mode
    here would fail every correct submission's training test."""


def checked_settings(
    mode: str,
    chosen: tuple[str, str, str],
    settings: dict[str, str],
    threads: int,
    log=print,
    cache_dir: pathlib.Path | None = None,
) -> tuple[str, str, str]:
    """The (precision, layout, why) the kernels train in: `chosen` when the reference's own run passes the bar of
    `mode` in it, else the course's setting when that passes; ``ReferenceRunFails`` when neither does.

    `settings`: the kernels' UNET_* settings but their precision and layout. Modes other than quick: `chosen`.
    """
    if mode not in CHECKED_MODES:
        return chosen
    tried = [chosen[:2]]
    if chosen[:2] != COURSE_SETTING and not any(os.environ.get(name) for name in PINNED):
        tried.append(COURSE_SETTING)
    misses = []
    for precision, layout in tried:
        shortfall = _verdict({**settings, "UNET_PRECISION": precision, "UNET_LAYOUT": layout}, threads, cache_dir)
        if not shortfall:
            log(
                f"the reference's {mode} runs (its own crop and the other correct rounding) pass the training test's "
                f"bar in {precision}, {layout}"
            )
            if not misses:
                return chosen
            return precision, layout, f"{_setting(precision, layout)}: the course's setting, since {misses[0]}"
        misses.append(f"in {_setting(precision, layout)} {shortfall}")
    raise ReferenceRunFails(
        f"{mode} mode cannot grade fairly on this machine: "
        + "; ".join(misses)
        + ". Every correct submission would lose the training test. Grade with --mode full on a machine with a GPU"
        + ("" if len(tried) > 1 else f", or without {' and '.join(PINNED)} set")
        + "."
    )


def _setting(precision: str, layout: str) -> str:
    return f"{precision} in {layout}"


def _verdict(settings: dict[str, str], threads: int, cache_dir: pathlib.Path | None) -> str:
    """The training check's verdict on the reference's run in `settings`: kept, else trained now and kept."""
    path = (cache_dir or cache_folder()) / CACHE_NAME
    key = _key(settings, threads)
    kept = _read(path)
    if key in kept:
        return kept[key]
    verdict = preparation.reference_run(settings, threads)
    _write(path, {**_read(path), key: verdict})
    return verdict


def _key(settings: dict[str, str], threads: int) -> str:
    """What a verdict depends on: the release and the grader's code, the kernels' settings and threads, the data,
    the CPU and PyTorch's version."""
    parts = {
        "template": template_key(),
        "settings": {name: value for name, value in settings.items() if name not in PLACES},
        "threads": threads,
        "data": keys.data_digest(),
        "cpu": _cpu(),
        "torch": importlib.metadata.version("torch"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _cpu() -> str:
    """The CPU's model name and a digest of its instruction-set flags (the same model in two virtual machines may
    offer different ones)."""
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
        flags = next(line for line in lines if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = platform.machine()
    return f"{cpu_model()} {hashlib.sha256(flags.encode()).hexdigest()[:16]}"


def _read(path: pathlib.Path) -> dict[str, str]:
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or damaged: train again
        return {}
    return {key: value for key, value in kept.items() if isinstance(value, str)} if isinstance(kept, dict) else {}


def _write(path: pathlib.Path, kept: dict[str, str]) -> None:
    """Write the kept verdicts (``report.write_atomically``); a cache that cannot be written is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(kept, indent=1, sort_keys=True))
    except OSError:
        pass
