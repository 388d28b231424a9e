"""The quick grading run's cost against its power: how short can the run be and still tell a learning U-Net from one
that did not learn?

    UNET_DATA_DIR=/path/to/isbi2012 python -m benchmarks.quick_bar --epochs 0,8,10,12,20 --seeds 0,1,2

For each number of epochs and each seed it trains the reference U-Net with the quick mode's settings
(autograder/authoring/policy.py QUICK_GRADING, the learning rate, width, crops and held-out slices it sets)
through lesson.training.fit, at --threads torch threads (1: what each kernel gets at --workers 2 on 2 cores),
predicts the held-out slices and judges them with the grader's own bar (policy.training_shortfall, "quick")
and the notebook's test_training (the loss falls by more than 10%). It prints, per run, the training seconds,
V_rand and V_info above the all-interior baseline (the bar: more than QUICK_RUN_MARGIN), the cross-entropy (the
bar: below QUICK_RUN_MAX_CROSS_ENTROPY) and the verdict; 0 epochs is the untrained U-Net, which must fail.
Writes benchmarks/results/quick-bar.json (or --out).
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch

from autograder.authoring.policy import (
    QUICK_GRADING,
    QUICK_RUN_MARGIN,
    QUICK_RUN_MAX_CROSS_ENTROPY,
    QUICK_RUN_QUANTILES,
    training_shortfall,
)
from benchmarks.machine import machine
from data.isbi2012 import split_holdout
from data.synthetic import load_dataset
from lesson.config import environment_for, read_config
from lesson.metrics import best_rand_and_info, cross_entropy
from lesson.training import fit, predict_slices
from solutions.reference import load_reference

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def one_run(epochs, seed, volumes):
    """Train for `epochs` quick-mode epochs from `seed`; the held-out scores, the bar's verdict and the seconds."""
    images, labels = volumes
    config = read_config(environment_for({**QUICK_GRADING, "epochs": max(epochs, 1)}), seed=seed, device="cpu")
    fit_images, holdout_images = split_holdout(images, config.holdout_slices)
    fit_labels, holdout_labels = split_holdout(labels, config.holdout_slices)
    torch.manual_seed(seed)
    model = load_reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    started = time.perf_counter()
    losses = fit(model, fit_images, fit_labels, config, show_figures=False) if epochs else []
    seconds = time.perf_counter() - started
    probability = predict_slices(model, holdout_images, torch.device("cpu"))
    thresholds = [float(q) for q in np.quantile(probability, QUICK_RUN_QUANTILES)]
    own = best_rand_and_info(holdout_labels, probability, thresholds=thresholds)
    baseline = best_rand_and_info(holdout_labels, np.ones(holdout_labels.shape), thresholds=[0.5])
    steps = -(-len(fit_images) // config.batch_size)
    falls = bool(losses) and np.mean(losses[-steps:]) < 0.9 * np.mean(losses[:steps])
    shortfall = training_shortfall(holdout_labels, probability, "quick")
    return {
        "epochs": epochs,
        "seed": seed,
        "training_seconds": round(seconds, 2),
        "v_rand_above_baseline": round(own["v_rand"] - baseline["v_rand"], 4),
        "v_info_above_baseline": round(own["v_info"] - baseline["v_info"], 4),
        "cross_entropy": round(cross_entropy(holdout_labels, probability), 4),
        "loss_falls": bool(falls),
        "passes": bool(not shortfall and falls),
        "shortfall": shortfall,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quick_bar", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", default="0,10,20", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument("--seeds", default="0,1,2", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "quick-bar.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    volumes = load_dataset()[:2]
    load_before = os.getloadavg()[0]
    runs = []
    print(
        f"quick mode {QUICK_GRADING}; bar: V_rand and V_info more than {QUICK_RUN_MARGIN} above all-interior, "
        f"cross-entropy below {QUICK_RUN_MAX_CROSS_ENTROPY}; {args.threads} thread(s); load {load_before:.2f}"
    )
    for epochs in args.epochs:
        for seed in args.seeds:
            run = one_run(epochs, seed, volumes)
            runs.append(run)
            print(
                f"  {epochs:>3} epochs, seed {seed}: {run['training_seconds']:6.1f} s training; V_rand "
                f"+{run['v_rand_above_baseline']:.3f}, V_info +{run['v_info_above_baseline']:.3f}, cross-entropy "
                f"{run['cross_entropy']:.3f}, loss falls {run['loss_falls']}: "
                f"{'passes' if run['passes'] else 'FAILS'}",
                flush=True,
            )
    result = {
        "benchmark": "quick_bar",
        "command": "python -m benchmarks.quick_bar " + " ".join(sys.argv[1:]),
        "machine": machine(torch.device("cpu")),
        "quick_grading": QUICK_GRADING,
        "runs": runs,
        "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
    }
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
