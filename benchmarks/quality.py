"""Held-out quality at a fixed CPU budget: the plain recipe against the U-Net paper's tricks.

    UNET_DATA_DIR=/path/to/isbi2012 python -m benchmarks.quality                # about 50 minutes on 2 cores

Every run trains the reference U-Net (width 16, 256 px random crops, batch 4, Adam 0.003) on slices 0-24
with lesson.training.fit for the same number of optimizer steps (--epochs x 7 steps; 200 epochs = 1400
steps), and scores slices 25-29 with lesson.metrics.evaluate. Variants:

- augmentation (config.augment): "none" (the plain recipe), "flips" (random flips and 90-degree turns of
  each slice and its label), "flips+elastic" (also the paper's elastic deformation);
- test-time flips: the prediction averaged over each slice's 8 flipped and turned versions;
- checkpoint choice: the checkpoint (every --every epochs) with the best held-out V_rand instead of the
  last one. Chosen and scored on the same slices, this is optimistic; so it is also measured honestly:
  chosen on slices 25-26, scored on 27-29, next to the last checkpoint on 27-29.

Writes benchmarks/results/quality-<device>-w16-px256-e<epochs>.json (every checkpoint's scores) and .md (the table).
"""

import argparse
import contextlib
import io
import json
import pathlib
import tempfile
import time

import numpy as np
import torch

from data.isbi2012 import split_holdout
from data.synthetic import load_dataset
from lesson.config import read_config
from lesson.metrics import evaluate
from lesson.training import fit, pick_device, predict_slices
from solutions.reference import load_reference

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SCORES = ("pixel_accuracy", "v_rand", "v_info")
CHOOSE, REPORT = slice(0, 2), slice(2, 5)  # held-out slices 25-26 choose, 27-29 report


def settings(args, augment, seed, epochs):
    """The run's TrainingConfig: a short-run recipe at a fixed number of epochs."""
    return read_config(
        {},
        epochs=epochs,
        hidden_channels=args.width,
        input_size=args.px,
        batch_size=4,
        learning_rate=args.learning_rate,
        seed=seed,
        augment=augment,
        device=args.device,
        checkpoint_every=args.every,
        checkpoint_dir=args.checkpoint_dir or "",
    )


def _scores(probability, labels):
    result = evaluate(probability, labels)
    return {
        name: result[name]
        for name in ("pixel_accuracy", "dice", "v_rand", "v_rand_threshold", "v_info", "v_info_threshold")
    }


def train_and_score(args, augment, seed, fit_data, holdout):
    """One run, scored at every checkpoint; returns its record (per-checkpoint scores, seconds)."""
    images, labels = fit_data
    holdout_images, holdout_labels = holdout
    torch.manual_seed(seed)
    model = load_reference().UNet(1, 1, hidden_channels=args.width)
    record = {"augment": augment, "seed": seed, "checkpoints": []}
    train_seconds = 0.0
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = pathlib.Path(folder) / "run.pt"
        for epochs in range(args.every, args.epochs + 1, args.every):
            config = settings(args, augment, seed, epochs)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # "Resuming from ..."
                losses = fit(model, images, labels, config, checkpoint=checkpoint, show_figures=False)
            train_seconds += time.perf_counter() - started
            started = time.perf_counter()
            probability = predict_slices(model, holdout_images)
            entry = {
                "epochs": epochs,
                "steps": len(losses),
                "train_seconds": round(train_seconds, 1),
                "last_epoch_loss": float(np.mean(losses[-7:])),
                "all": _scores(probability, holdout_labels),
                "choose": _scores(probability[CHOOSE], holdout_labels[CHOOSE]),
                "report": _scores(probability[REPORT], holdout_labels[REPORT]),
            }
            if epochs == args.epochs or args.flips_every_checkpoint:
                entry.update(_flipped(model, holdout_images, holdout_labels))
            entry["eval_seconds"] = round(time.perf_counter() - started, 1)
            record["checkpoints"].append(entry)
            torch.save(model.state_dict(), pathlib.Path(folder) / f"model-{epochs}.pt")
            print(
                f"{augment:>14} seed {seed} epoch {epochs:>4} ({len(losses)} steps, {train_seconds:6.0f} s): "
                + ", ".join(f"{name} {entry['all'][name]:.4f}" for name in SCORES),
                flush=True,
            )
        best = _best(record["checkpoints"], "all")
        if "flips_all" not in best:  # test-time flips on the chosen checkpoint too
            model.load_state_dict(torch.load(pathlib.Path(folder) / f"model-{best['epochs']}.pt"))
            best.update(_flipped(model, holdout_images, holdout_labels))
    record["train_seconds"] = round(train_seconds, 1)
    record["steps"] = record["checkpoints"][-1]["steps"]
    return record


def _flipped(model, holdout_images, holdout_labels):
    probability = predict_slices(model, holdout_images, flips=True)
    return {
        "flips_all": _scores(probability, holdout_labels),
        "flips_report": _scores(probability[REPORT], holdout_labels[REPORT]),
    }


def _best(checkpoints, part):
    """The checkpoint with the best V_rand on `part` ('all' or 'choose'); the earlier one on ties."""
    return max(checkpoints, key=lambda entry: (entry[part]["v_rand"], -entry["epochs"]))


def summarize(runs):
    """Rows of the table: (variant, checkpoint rule, test-time flips) -> mean and spread of each score."""
    rows = []
    for augment in dict.fromkeys(run["augment"] for run in runs):
        group = [run for run in runs if run["augment"] == augment]
        picks = {
            "last": [run["checkpoints"][-1] for run in group],
            "best on held-out": [_best(run["checkpoints"], "all") for run in group],
        }
        for rule, entries in picks.items():
            for flips in (False, True):
                key = "flips_all" if flips else "all"
                row = {
                    "augment": augment,
                    "checkpoint": rule,
                    "test_time_flips": flips,
                    "runs": len(entries),
                    "epochs": [entry["epochs"] for entry in entries],
                }
                for name in SCORES:
                    values = [entry[key][name] for entry in entries]
                    row[name] = {
                        "mean": float(np.mean(values)),
                        "min": float(np.min(values)),
                        "max": float(np.max(values)),
                    }
                rows.append(row)
        honest = {
            "last": [run["checkpoints"][-1]["report"] for run in group],
            "chosen on 25-26": [_best(run["checkpoints"], "choose")["report"] for run in group],
        }
        for rule, entries in honest.items():
            row = {"augment": augment, "checkpoint": rule, "scored_on": "27-29", "runs": len(entries)}
            for name in SCORES:
                row[name] = {"mean": float(np.mean([entry[name] for entry in entries]))}
            rows.append(row)
    return rows


def _machine_line(info):
    """Older result files hold the machine as a line already; newer ones as benchmarks.machine.machine's dict."""
    from benchmarks.machine import describe

    return info if isinstance(info, str) else describe(info)


def markdown(result):
    """The README table: one line per variant, mean (min-max) over seeds."""
    lines = [
        f"Held-out slices 25-29, width {result['settings']['width']}, {result['settings']['px']} px crops, "
        f"{result['steps']} steps of batch 4 per run, {len(result['settings']['seeds'])} seeds "
        f"(mean, min-max); {_machine_line(result['machine'])}.",
        "",
        "| augmentation | checkpoint | test-time flips | pixel accuracy | V_rand | V_info |",
        "|---|---|---|---|---|---|",
    ]
    for row in (r for r in result["table"] if "scored_on" not in r):
        cells = [f"{row[name]['mean']:.4f} ({row[name]['min']:.4f}-{row[name]['max']:.4f})" for name in SCORES]
        lines.append(
            f"| {row['augment']} | {row['checkpoint']} | {'yes' if row['test_time_flips'] else 'no'} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "Checkpoint choice without the optimism: chosen on slices 25-26, scored on 27-29 (mean over seeds).",
        "",
        "| augmentation | checkpoint | pixel accuracy | V_rand | V_info |",
        "|---|---|---|---|---|",
    ]
    for row in (r for r in result["table"] if "scored_on" in r):
        lines.append(
            f"| {row['augment']} | {row['checkpoint']} | "
            + " | ".join(f"{row[name]['mean']:.4f}" for name in SCORES)
            + " |"
        )
    seconds = [run["train_seconds"] for run in result["runs"]]
    lines += [
        "",
        f"Training time per run: {min(seconds):.0f}-{max(seconds):.0f} s on a shared 2-core CPU "
        f"(evaluation not included). Command: `{result['command']}`",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=200, help="epochs of 7 steps each (200 = 1400 steps)")
    parser.add_argument("--every", type=int, default=20, help="score a checkpoint every this many epochs")
    parser.add_argument("--augment", default="none,flips,flips+elastic", type=lambda text: text.split(","))
    parser.add_argument("--seeds", default="0,1", type=lambda text: [int(s) for s in text.split(",")])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--px", type=int, default=256)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-3,
        help="Adam's step size (SHORT_RUN's 3e-3 stalls at pixel accuracy 0.84 after ~300 steps)",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 is steadier on a busy machine)")
    parser.add_argument("--flips-every-checkpoint", action="store_true", help="test-time flips at every checkpoint")
    parser.add_argument("--checkpoint-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/quality-...json)")
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="JSON",
        help="train nothing: join the runs of these result files (e.g. one per seed) into --out",
    )
    args = parser.parse_args(argv)
    if args.epochs % args.every:
        parser.error("--epochs must be a multiple of --every")
    return args


def merge(paths, out):
    """Join the runs of several result files (same settings, e.g. seeds run in parallel) into one table."""
    parts = [json.loads(pathlib.Path(path).read_text()) for path in paths]
    runs = sorted((run for part in parts for run in part["runs"]), key=lambda run: (run["seed"],))
    result = {
        **parts[0],
        "command": " ; ".join(part["command"] for part in parts),
        "runs": runs,
        "table": summarize(runs),
    }
    result["settings"]["seeds"] = sorted({run["seed"] for run in runs})
    result["settings"]["augment"] = list(dict.fromkeys(run["augment"] for run in runs))
    out = pathlib.Path(out)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return result


def run(argv=None, volumes=None):
    """Train and score every variant; `volumes` = (images, labels) replaces the ISBI data (tests)."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.merge:
        if not args.out:
            raise SystemExit("--merge needs --out")
        return merge(args.merge, args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    images, labels = volumes if volumes is not None else load_dataset()[:2]
    fit_data = split_holdout(images)[0], split_holdout(labels)[0]
    holdout = split_holdout(images)[1], split_holdout(labels)[1]
    from benchmarks.machine import device_tag, machine

    info = machine(
        pick_device(args.device),
        load_reference().UNet(1, 1, hidden_channels=args.width),
        settings(args, "none", 0, 1).precision,
    )
    out = (
        pathlib.Path(args.out)
        if args.out
        else RESULTS / (f"quality-{device_tag(info)}-w{args.width}-px{args.px}-e{args.epochs}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in args.seeds:  # one seed of every variant first, then the next seed
        for augment in args.augment:
            runs.append(train_and_score(args, augment, seed, fit_data, holdout))
            result = {
                "benchmark": "quality",
                "command": "python -m benchmarks.quality " + " ".join(argv),
                "machine": info,
                "settings": {key: value for key, value in vars(args).items() if key != "checkpoint_dir"},
                "steps": runs[0]["steps"],
                "runs": runs,
                "table": summarize(runs),
                "all_interior": _scores(np.ones(holdout[1].shape), holdout[1]),
            }
            out.write_text(json.dumps(result, indent=1) + "\n")  # after every run: partial results
            out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    run()
