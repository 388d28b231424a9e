"""The grader's policy: the runs it grades in each mode and the held-out quality it asks of them.

This is the grader's, not the lesson's: none of it ships in the student's notebook. The notebook's training
test states the quick bar in plain numbers (the loss falls by 10% or more; held-out V_rand and V_info at least
0.3 above all-interior's; held-out cross-entropy below 0.6 nats); ``training_shortfall`` is the grader's own
judgement of the trained weights, per mode, outside the student's kernel (``autograder.judging.verdicts``).
"""

from __future__ import annotations

import numpy as np

from lesson.metrics import best_rand_and_info, cross_entropy, evaluate

# The autograder's quick mode (no GPU): a short run that visibly learns (the loss falls and the held-out
# cells are found), so that a complete submission is graded in about 30 s on 2 CPU cores.
QUICK_GRADING: dict[str, float | int | str] = {
    "epochs": 10,
    "learning_rate": 3e-3,
    "hidden_channels": 8,
    "input_size": 256,
    "figure_every": 20,
    "holdout_slices": 2,
    "test_slices": 1,
    "device": "cpu",  # wherever it is graded, a GPU in sight or not: its bar, and the reference's run, are the CPU's
}
# Only for testing the autograder itself (its "smoke" mode): a tiny run, just to check that the notebook runs.
SMOKE_GRADING: dict[str, float | int | str] = {
    "epochs": 2,
    "learning_rate": 3e-3,
    "hidden_channels": 4,
    "input_size": 144,
    "figure_every": 2,
    "holdout_slices": 1,
    "test_slices": 1,
    "device": "cpu",
}

# The held-out quality the autograder asks of a training run, by grading mode.
# The real 200-epoch run (these two thresholds are still to be confirmed on a GPU).
FULL_RUN_MINIMUM: dict[str, float] = {"pixel_accuracy": 0.90, "v_rand": 0.90}
QUICK_RUN_MARGIN = 0.3  # a short run: beat all-interior by this much
QUICK_RUN_MAX_CROSS_ENTROPY = 0.6  # nats per pixel; a model saying 50/50 everywhere (untrained) has 0.69
QUICK_RUN_QUANTILES = (0.1, 0.2, 0.3, 0.4)  # a short run's V_rand and V_info are taken at these quantiles of its map
QUICK_RUN_LOSS_FALL = 0.1  # the notebook's training test: the last epoch's mean loss this much below the first's
MODES_WITH_A_BAR = ("full", "quick")  # the grader's smoke mode (testing the grader itself) has none


def loss_fall(losses: list[float], steps_per_epoch: int) -> float:
    """How far the mean loss of the last epoch's steps fell below the first epoch's, as a fraction of the first."""
    first, last = float(np.mean(losses[:steps_per_epoch])), float(np.mean(losses[-steps_per_epoch:]))
    return 1.0 - last / first


def loss_shortfall(losses: list[float], steps_per_epoch: int) -> str:
    """Why a short run's losses (one per step) miss what the notebook's training test asks of them, "" when they do
    not: the last epoch's mean more than QUICK_RUN_LOSS_FALL below the first's. The test's own cell says it in plain
    numbers; the grader asks it of the reference's run before a quick batch (``grading/calibration.py``)."""
    fall = loss_fall(losses, steps_per_epoch)
    if fall > QUICK_RUN_LOSS_FALL:
        return ""
    return (
        f"the mean loss should fall by more than {QUICK_RUN_LOSS_FALL:.0%} from the first epoch to the last, "
        f"it fell {fall:.1%}"
    )


def training_shortfall(labels: np.ndarray, interior_prob: np.ndarray, mode: str) -> str:
    """Why a run's held-out prediction falls short of the grader's bar in `mode`; "" when it does not.

    - "full": the real run; pixel accuracy and V_rand must reach FULL_RUN_MINIMUM.
    - "quick": a short CPU run whose probabilities often sit in a narrow band, so V_rand and V_info are
      taken at thresholds over the prediction's own quantiles; each must beat calling every pixel
      interior by QUICK_RUN_MARGIN, and the cross-entropy must be below QUICK_RUN_MAX_CROSS_ENTROPY
      (an untrained U-Net's edges can cut cells well enough for the first bar, never for this one).
    - any other mode (the grader's smoke test): no bar.

    Inputs: labels uint8 (S, H, W), 255 = interior; interior_prob float (S, H, W) in [0, 1].
    """
    if mode == "full":
        scores = evaluate(interior_prob, labels)
        short = [
            f"held-out {name} should be {least:.2f} or more after the full run, got {scores[name]:.4f}"
            for name, least in FULL_RUN_MINIMUM.items()
            if not scores[name] >= least
        ]
        return "; ".join(short)
    if mode == "quick":
        thresholds = [float(q) for q in np.quantile(interior_prob, QUICK_RUN_QUANTILES)]
        own = best_rand_and_info(labels, interior_prob, thresholds=thresholds)
        baseline = best_rand_and_info(
            labels, np.ones(np.shape(labels)), thresholds=[0.5]
        )  # the same cells at any t < 1
        short = [
            f"held-out {name} {own[name]:.4f} should beat calling every pixel interior "
            f"({baseline[name]:.4f}) by {QUICK_RUN_MARGIN} or more"
            for name in ("v_rand", "v_info")
            if not own[name] > baseline[name] + QUICK_RUN_MARGIN
        ]
        loss = cross_entropy(labels, interior_prob)
        if not loss < QUICK_RUN_MAX_CROSS_ENTROPY:
            short.append(
                f"held-out cross-entropy {loss:.3f} should be below {QUICK_RUN_MAX_CROSS_ENTROPY} "
                f"(0.69 is what an untrained model's 50/50 guess gives)"
            )
        return "; ".join(short)
    return ""
