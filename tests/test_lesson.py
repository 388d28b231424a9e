"""The notebook as a lesson: the training test's bar in plain numbers, and how little of what a student sees
by default is machinery."""

import os

import nbformat
import numpy as np
import pytest

from autograder.authoring import policy
from autograder.release.course import SOURCE_NOTEBOOK


def training_test_source():
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    return next(
        cell.source for cell in source.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_training"
    )


def run_training_test(monkeypatch, settings, first=0.68, last=0.45, v_rand=0.9, v_info=0.85, held_out_loss=0.4):
    """Run the training test cell's code on made-up results: the losses of each step, and the held-out V_rand,
    V_info (at the quantile thresholds) and cross-entropy. Returns "passes" or "fails: <its message>"."""
    from lesson.config import environment_for, read_config

    for name in list(os.environ):
        if name.startswith("UNET_"):
            monkeypatch.delenv(name)
    for name, value in environment_for(settings).items():
        monkeypatch.setenv(name, value)
    config = read_config()
    steps = -(-25 // config.batch_size)
    losses = [first] * steps + [(first + last) / 2] * steps * (config.epochs - 2) + [last] * steps
    asked = {}

    def best_rand_and_info(labels, interior_prob, thresholds):
        asked["thresholds"] = thresholds
        return {
            "v_rand": v_rand,
            "v_rand_threshold": thresholds[0],
            "v_info": v_info,
            "v_info_threshold": thresholds[0],
        }

    namespace = {
        "np": np,
        "config": config,
        "losses": losses,
        "fit_images": np.zeros((25, 4, 4)),
        "holdout_labels": np.zeros((1, 4, 4)),
        "holdout_probability": np.linspace(0, 1, 16).reshape(1, 4, 4),
        "baseline": {"pixel_accuracy": 0.80, "v_rand": 0.093, "v_info": 0.0},
        "best_rand_and_info": best_rand_and_info,
        "cross_entropy": lambda labels, prob: held_out_loss,
    }
    try:
        exec(compile(training_test_source(), "test_training", "exec"), namespace)
    except AssertionError as error:
        return f"fails: {error}"
    assert asked["thresholds"] == pytest.approx(np.quantile(np.linspace(0, 1, 16), policy.QUICK_RUN_QUANTILES))
    return "passes"


def test_training_test_asks_that_the_model_learns(monkeypatch):
    quick = policy.QUICK_GRADING
    assert run_training_test(monkeypatch, quick) == "passes"
    assert "loss should fall by more than 10%" in run_training_test(monkeypatch, quick, first=0.60, last=0.58)
    assert run_training_test(monkeypatch, quick, v_rand=0.093 + 0.29) == (
        "fails: held-out v_rand 0.3830 should beat calling every pixel interior (0.0930) by more than 0.3"
    )
    assert "held-out v_info" in run_training_test(monkeypatch, quick, v_info=0.2)
    assert "cross-entropy 0.680 should be below 0.6" in run_training_test(monkeypatch, quick, held_out_loss=0.68)


def test_training_test_asks_the_same_of_the_real_run(monkeypatch):
    assert run_training_test(monkeypatch, {}) == "passes"
    assert "should beat calling every pixel interior" in run_training_test(monkeypatch, {}, v_rand=0.2)


def test_training_test_of_a_tiny_run_checks_only_that_it_finished(monkeypatch):
    assert (
        run_training_test(monkeypatch, policy.SMOKE_GRADING, first=0.6, last=0.6, v_rand=0.0, held_out_loss=0.7)
        == "passes"
    )


def test_training_test_states_the_quick_bar_of_the_grader():
    """The notebook states the bar in plain numbers; they are the grader's quick bar
    (autograder/authoring/policy.py)."""
    source = training_test_source()
    assert "### BEGIN HIDDEN TESTS" not in source and "training_shortfall" not in source
    assert f"baseline[name] + {policy.QUICK_RUN_MARGIN}" in source
    assert f'held_out["cross_entropy"] < {policy.QUICK_RUN_MAX_CROSS_ENTROPY}' in source
    assert f"np.quantile(holdout_probability, {list(policy.QUICK_RUN_QUANTILES)})" in source
    assert f"last_epoch < {1 - policy.QUICK_RUN_LOSS_FALL} * first_epoch" in source
