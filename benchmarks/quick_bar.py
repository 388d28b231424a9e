"""The quick grading run's cost against its power: how short can the run be and still tell a learning U-Net from one
that did not learn?

    UNET_DATA_DIR=/path/to/isbi2012 python -m benchmarks.quick_bar --epochs 0,8,10,12,20 --seeds 0,1,2

For each number of epochs and each seed it trains the reference U-Net (or --variant, one of the catalogue's correct
U-Nets graded in quick mode: tests/catalogue.py QUICK), its starting weights drawn as the notebook's training cell
draws them (lesson.training.draw_weights), with the quick mode's settings
(autograder/authoring/policy.py QUICK_GRADING, the learning rate, width, crops and held-out slices it sets)
through lesson.training.fit, at --threads torch threads (1: what each kernel gets at --workers 2 on 2 cores), in
--precision and --layout (default auto, the measured choice; fp32 and contiguous are the course's own setting),
predicts the held-out slices and judges them with the grader's own bar (policy.training_shortfall, "quick")
and the notebook's test_training (the loss falls by more than 10%: policy.loss_shortfall). It prints, per run, the
training seconds, how much the mean loss fell from the first epoch to the last, V_rand and V_info above the
all-interior baseline (the bar: more than QUICK_RUN_MARGIN), the cross-entropy (the bar: below
QUICK_RUN_MAX_CROSS_ENTROPY) and the verdict; 0 epochs is the untrained U-Net, which must fail.
Writes benchmarks/results/quick-bar.json (or --out).
"""

import argparse
import json
import os
import pathlib
import sys
import time
import types

import numpy as np
import torch

from autograder.authoring.policy import (
    QUICK_GRADING,
    QUICK_RUN_MARGIN,
    QUICK_RUN_MAX_CROSS_ENTROPY,
    QUICK_RUN_QUANTILES,
    loss_fall,
    loss_shortfall,
    training_shortfall,
)
from benchmarks.machine import machine
from data.isbi2012 import split_holdout
from data.synthetic import load_dataset
from lesson.config import LAYOUTS, PRECISIONS, environment_for, read_config
from lesson.metrics import best_rand_and_info, cross_entropy
from lesson.training import draw_weights, fit, predict_slices
from solutions.reference import load_reference
from tests.catalogue import QUICK, module_code

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def correct_variants():
    """{name: UNet class} of the reference and of the catalogue's correct U-Nets graded in quick mode
    (tests/catalogue.py QUICK: other styles, other arithmetic, the same specification)."""
    unets = {"reference": load_reference().UNet}
    for variant in QUICK:
        if variant.parts and not variant.fails and variant.edit is None:
            module = types.ModuleType(variant.name)
            exec(compile(module_code(variant.parts), variant.name, "exec"), module.__dict__)
            unets[variant.name] = module.UNet
    return unets


def one_run(epochs, seed, volumes, precision="auto", layout="auto", unet=None):
    """Train the `unet` class (default: the reference's) for `epochs` quick-mode epochs from `seed`, its starting
    weights drawn as the notebook's training cell draws them, in `precision` and `layout` ("auto": the measured
    choice); the held-out scores, the bar's verdict and the seconds."""
    images, labels = volumes
    settings = {**QUICK_GRADING, "epochs": max(epochs, 1), "precision": precision, "layout": layout}
    config = read_config(environment_for(settings), seed=seed, device="cpu")
    fit_images, holdout_images = split_holdout(images, config.holdout_slices)
    fit_labels, holdout_labels = split_holdout(labels, config.holdout_slices)
    torch.manual_seed(seed)
    model = draw_weights((unet or load_reference().UNet)(1, 1, hidden_channels=config.hidden_channels), seed)
    started = time.perf_counter()
    losses = fit(model, fit_images, fit_labels, config, show_figures=False) if epochs else []
    seconds = time.perf_counter() - started
    probability = predict_slices(model, holdout_images, torch.device("cpu"))
    thresholds = [float(q) for q in np.quantile(probability, QUICK_RUN_QUANTILES)]
    own = best_rand_and_info(holdout_labels, probability, thresholds=thresholds)
    baseline = best_rand_and_info(holdout_labels, np.ones(holdout_labels.shape), thresholds=[0.5])
    steps = -(-len(fit_images) // config.batch_size)
    fall = loss_fall(losses, steps) if losses else 0.0
    falls = bool(losses) and not loss_shortfall(losses, steps)
    shortfall = training_shortfall(holdout_labels, probability, "quick")
    return {
        "epochs": epochs,
        "seed": seed,
        "precision": precision,
        "layout": layout,
        "training_seconds": round(seconds, 2),
        "v_rand_above_baseline": round(own["v_rand"] - baseline["v_rand"], 4),
        "v_info_above_baseline": round(own["v_info"] - baseline["v_info"], 4),
        "cross_entropy": round(cross_entropy(holdout_labels, probability), 4),
        "loss_fall": round(float(fall), 4),
        "loss_falls": falls,
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
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="as UNET_PRECISION (default: auto)")
    parser.add_argument("--layout", default="auto", choices=LAYOUTS, help="as UNET_LAYOUT (default: auto)")
    parser.add_argument(
        "--variant", default="reference", help="the reference or a correct U-Net of tests/catalogue.py QUICK, by name"
    )
    parser.add_argument("--out", default=str(RESULTS / "quick-bar.json"))
    args = parser.parse_args(argv)
    unets = correct_variants()
    if args.variant not in unets:
        parser.error(f"--variant must be one of {', '.join(unets)}, got {args.variant!r}")
    torch.set_num_threads(args.threads)
    volumes = load_dataset()[:2]
    load_before = os.getloadavg()[0]
    runs = []
    print(
        f"quick mode {QUICK_GRADING}; bar: V_rand and V_info more than {QUICK_RUN_MARGIN} above all-interior, "
        f"cross-entropy below {QUICK_RUN_MAX_CROSS_ENTROPY}; {args.threads} thread(s); precision {args.precision}, "
        f"layout {args.layout}; U-Net {args.variant}; load {load_before:.2f}"
    )
    for epochs in args.epochs:
        for seed in args.seeds:
            run = one_run(epochs, seed, volumes, args.precision, args.layout, unets[args.variant])
            runs.append(run)
            print(
                f"  {epochs:>3} epochs, seed {seed}: {run['training_seconds']:6.1f} s training; V_rand "
                f"+{run['v_rand_above_baseline']:.3f}, V_info +{run['v_info_above_baseline']:.3f}, cross-entropy "
                f"{run['cross_entropy']:.3f}, loss falls {run['loss_fall']:.0%}: "
                f"{'passes' if run['passes'] else 'FAILS'}",
                flush=True,
            )
    result = {
        "benchmark": "quick_bar",
        "command": "python -m benchmarks.quick_bar " + " ".join(sys.argv[1:]),
        "machine": machine(torch.device("cpu")),
        "quick_grading": QUICK_GRADING,
        "variant": args.variant,
        "runs": runs,
        "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
    }
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
