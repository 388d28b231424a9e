"""A fixed CPU budget: train once, score the held-out slices, commit the numbers.

    UNET_DATA_DIR=/path/to/isbi2012 python -m benchmarks.cpu_budget      # about 11 minutes on 2 idle cores

Anyone can reproduce a quality figure without a GPU. The budget is a number of optimizer steps, not seconds,
so the run is the same on any machine (--epochs x 7 steps of batch 4 on slices 0-24; the seconds are
reported beside it). It trains the reference U-Net with lesson.training.fit, predicts the held-out slices
25-29 with predict_slices (with and without test-time flips) and scores them with lesson.metrics.evaluate.
Writes benchmarks/results/cpu-budget.json (or --out).
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch

from data.isbi2012 import split_holdout
from data.synthetic import load_dataset
from lesson.config import AUGMENTATIONS, read_config
from lesson.metrics import evaluate
from lesson.training import fit, pick_device, predict_slices
from solutions.reference import load_reference

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu_budget",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=500, help="epochs of 7 steps (500 = 3500 steps)")
    parser.add_argument("--width", type=int, default=16, help="hidden_channels")
    parser.add_argument("--px", type=int, default=256, help="side of the random training crops")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=2e-4,
        help="Adam's (the course's 0.0002; 0.001 stalled at a training loss of 0.37 here)",
    )
    parser.add_argument("--augment", default="none", choices=AUGMENTATIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 is steadier on a busy machine)")
    parser.add_argument("--out", default=str(RESULTS / "cpu-budget.json"))
    return parser.parse_args(argv)


def run(argv=None, volumes=None):
    """Train, predict, score; returns the results dict. `volumes` = (images, labels) replaces ISBI (tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = read_config(
        {},
        epochs=args.epochs,
        hidden_channels=args.width,
        input_size=args.px,
        learning_rate=args.learning_rate,
        augment=args.augment,
        seed=args.seed,
        device=args.device,
        batch_size=4,
    )
    images, labels = volumes if volumes is not None else load_dataset()[:2]
    fit_images, holdout_images = split_holdout(images, config.holdout_slices)
    fit_labels, holdout_labels = split_holdout(labels, config.holdout_slices)
    torch.manual_seed(config.seed)
    model = load_reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    load_at_start, started = os.getloadavg()[0], time.perf_counter()
    losses = fit(model, fit_images, fit_labels, config, show_figures=False)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    plain = predict_slices(model, holdout_images)
    predict_seconds = time.perf_counter() - started
    started = time.perf_counter()
    flipped = predict_slices(model, holdout_images, flips=True)
    flips_seconds = time.perf_counter() - started
    from benchmarks.machine import machine

    steps_per_epoch = len(losses) // config.epochs
    result = {
        "benchmark": "cpu_budget",
        "command": "python -m benchmarks.cpu_budget " + " ".join(argv),
        "machine": machine(pick_device(config.device), model, config.precision),
        "config": vars(config),
        "steps": len(losses),
        "train_seconds": round(train_seconds, 3),
        "load_average_1min_at_start": load_at_start,
        "predict_seconds": round(predict_seconds, 3),
        "predict_with_flips_seconds": round(flips_seconds, 3),
        "first_loss": losses[0],
        "last_epoch_loss": float(np.mean(losses[-steps_per_epoch:])),
        "epoch_losses": [
            round(float(np.mean(losses[i : i + steps_per_epoch])), 5) for i in range(0, len(losses), steps_per_epoch)
        ],
        "holdout_slices": f"{len(fit_images)}-{len(images) - 1}",
        "holdout": evaluate(plain, holdout_labels),
        "holdout_test_time_flips": evaluate(flipped, holdout_labels),
        "all_interior": evaluate(np.ones(holdout_labels.shape), holdout_labels),
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['steps']} steps in {result['train_seconds']} s on {result['machine']['device_name']}")
    print(f"{'held-out 25-29':<16}{'U-Net':>8}{'+ flips':>9}{'all interior':>14}")
    for name in ("pixel_accuracy", "dice", "v_rand", "v_info"):
        print(
            f"{name:<16}{result['holdout'][name]:>8.4f}{result['holdout_test_time_flips'][name]:>9.4f}"
            f"{result['all_interior'][name]:>14.4f}"
        )
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    run()
