"""Tests of autograder/authoring/policy.py: the held-out quality the grader asks of a training run, per mode."""

import numpy as np
import pytest

from autograder.authoring.policy import (
    MODES_WITH_A_BAR,
    QUICK_GRADING,
    SMOKE_GRADING,
    loss_fall,
    loss_shortfall,
    training_shortfall,
)
from lesson.config import environment_for, read_config
from tests.cell_grids import cell_grid


@pytest.mark.parametrize("mode", ["full", "quick"])
def test_training_shortfall_passes_a_prediction_that_finds_the_cells(mode):
    labels = cell_grid()
    assert training_shortfall(labels, 0.1 + 0.8 * (labels / 255.0), mode) == ""


def test_training_shortfall_names_what_falls_short_in_each_mode():
    labels = cell_grid()
    everything_interior = np.full(labels.shape, 0.9)
    full = training_shortfall(labels, everything_interior, "full")
    assert "held-out pixel_accuracy should be 0.90 or more after the full run" in full and "v_rand" in full
    quick = training_shortfall(labels, everything_interior, "quick")
    assert "should beat calling every pixel interior" in quick and "v_info" in quick
    assert training_shortfall(labels, everything_interior, "smoke") == ""


def test_training_shortfall_quick_mode_rejects_an_untrained_looking_map_that_still_cuts_the_cells():
    """A map that orders the pixels right but says about 50/50 (an untrained U-Net's edges) fails on cross-entropy."""
    labels = cell_grid()
    shortfall = training_shortfall(labels, 0.5 + 0.01 * (labels / 255.0 - 0.5), "quick")
    assert shortfall.startswith("held-out cross-entropy 0.68") and "v_rand" not in shortfall


def test_grading_runs_are_valid_settings_and_only_full_and_quick_have_a_bar():
    for settings in (QUICK_GRADING, SMOKE_GRADING):
        config = read_config(environment_for(settings))
        assert all(getattr(config, name) == value for name, value in settings.items())
    assert MODES_WITH_A_BAR == ("full", "quick")


@pytest.mark.parametrize(
    ("losses", "fall", "shortfall"),
    [
        ([1.0, 1.0, 0.8, 0.8], 0.2, ""),
        ([0.7, 0.7, 0.665, 0.665], 0.05, "it fell 5.0%"),
        ([1.0, 0.5, 0.9, 0.6], 0.0, "it fell 0.0%"),  # the epochs' means, not their last steps
        ([0.5, 0.6, 0.6], -0.2, "it fell -20.0%"),  # a rising loss, one step an epoch
    ],
)
def test_loss_shortfall_asks_what_the_notebooks_training_test_asks(losses, fall, shortfall):
    """The last epoch's mean loss more than 10% below the first's, as the notebook's test cell says in numbers."""
    steps = 2 if len(losses) == 4 else 1
    assert loss_fall(losses, steps) == pytest.approx(fall)
    said = loss_shortfall(losses, steps)
    assert (
        (said == "")
        if not shortfall
        else (said.startswith("the mean loss should fall by more than 10%") and said.endswith(shortfall))
    ), said


def test_a_loss_that_falls_exactly_ten_percent_misses_the_bar_as_in_the_notebook():
    """'more than 10%': the notebook's `last_epoch < 0.9 * first_epoch` is false at exactly 10%, and so is this."""
    assert loss_shortfall([1.0, 0.9], 1) and not (0.9 < 0.9 * 1.0)
