"""The GPU acceptance run in one command: `bash scripts/gpu_check.sh` (meant to finish in 8 minutes on one H100).

    bash scripts/gpu_check.sh            # on a GPU machine, with UNET_DATA_DIR set (or the data downloadable)
    bash scripts/gpu_check.sh --tiny     # the same steps at a tiny size, on any device (what the tests run)

Five steps, each printed as it starts and ends:
1. recipe: the course's recipe (200 epochs, width 64, whole 512 px slices, batch 4) with the project's loop
   (lesson.training.fit), timed end to end (data on the device, training; prediction not included).
2. loops: the course's loop against the project's on the same batches, side by side in one process
   (benchmarks.training_speed, whole 512 px slices, --steps each).
3. scores: the recipe's model on the held-out slices 25-29, with and without test-time flips.
4. notebook: the release UNet_Assignment.ipynb with the reference solution filled in, run top to bottom in a
   Jupyter kernel as a student runs it (every UNET_* variable unset but UNET_DATA_DIR), the 200-epoch cell included.
5. grading: `python -m autograder grade ... --mode full` on the reference solution, one bug from
   tests/catalogue.py and the blank release; each row must be as the catalogue expects (full marks, the bug's
   tests lost, zero).

Checks (any failure makes the exit code 1): every step finishes; the recipe's losses are finite and fall; its
held-out scores beat calling every pixel interior; the notebook has no error; every grading row is as expected.
(--tiny trains too little to learn: there the recipe's losses need only be finite and its scores be scores.)
Goals (reported as met or not, never failing the run): the course's speed-up, the 200 epochs' seconds, the
held-out quality and the whole run's minutes.

Writes benchmarks/results/gpu-<device>.json and a short gpu-<device>.md beside it (or --out).
--tiny runs every step small (2 epochs, width 4, 144 px crops, one held-out slice scored, smoke grading) so
that the test suite runs this very script on CPU in about a minute.
"""

import argparse
import contextlib
import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from benchmarks.gpu_report import Check, record_goals, summary

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUG_VARIANT = "skip_wiring"  # tests/catalogue.py: a UNet wired wrong, so its own tests and training fail
TINY = {
    "epochs": 2,
    "hidden_channels": 4,
    "input_size": 144,
    "learning_rate": 3e-3,
    "holdout_slices": 5,
    "test_slices": 1,
    "figure_every": 2,
}


def settings(tiny):
    """The run's sizes: the course's recipe, or the tiny one of --tiny."""
    from autograder.authoring.policy import SMOKE_GRADING

    if tiny:
        return {
            "config": TINY,
            "loop_px": 144,
            "loop_steps": 4,
            "loop_block": 1,
            "scored_slices": 1,
            "notebook_env": SMOKE_GRADING,
            "grading_mode": "smoke",
            "grading_workers": 2,
            "cell_timeout": 300,
            "learns": False,
        }
    return {
        "config": {},
        "loop_px": 512,
        "loop_steps": 60,
        "loop_block": 10,
        "scored_slices": 5,
        "notebook_env": {},
        "grading_mode": "full",
        "grading_workers": 3,
        "cell_timeout": 3600,
        "learns": True,
    }


# ---------------------------------------------------------------- the five steps


def train_recipe(check, entry, config, data, learns=True):
    """Step 1: fit() on slices 0-24 with `config`, timed; returns the model."""
    from lesson.training import fit, pick_device
    from solutions.reference import load_reference

    fit_images, fit_labels = data["fit"]
    torch.manual_seed(config.seed)
    model = load_reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    started = time.perf_counter()
    losses = fit(model, fit_images, fit_labels, config, show_figures=False)
    _sync()
    steps_per_epoch = -(-len(fit_images) // config.batch_size)
    first, last = float(np.mean(losses[:steps_per_epoch])), float(np.mean(losses[-steps_per_epoch:]))
    entry.update(
        {
            "device": str(pick_device(config.device)),
            "train_seconds": round(time.perf_counter() - started, 2),
            "steps": len(losses),
            "first_epoch_loss": first,
            "last_epoch_loss": last,
            "settings": {
                name: getattr(config, name)
                for name in ("epochs", "hidden_channels", "input_size", "batch_size", "learning_rate")
            },
        }
    )
    check.expect(
        "recipe losses finite" + (" and falling" if learns else ""),
        np.all(np.isfinite(losses)) and (last < first or not learns),
        f"mean loss of the first epoch {first:.4f}, of the last {last:.4f}",
    )
    return model


def time_loops(check, entry, size, device):
    """Step 2: the course's loop against the project's, side by side (benchmarks.training_speed)."""
    from benchmarks import training_speed

    with tempfile.TemporaryDirectory() as folder:
        argv = [
            "--device",
            device.type,
            "--width",
            str(size["width"]),
            "--px",
            str(size["loop_px"]),
            "--steps",
            str(size["loop_steps"]),
            "--block",
            str(size["loop_block"]),
            "--data",
            size["data"],
            "--loops",
            "course,project",
            "--out",
            str(pathlib.Path(folder) / "loops.json"),
            "--quiet",
        ]
        result = training_speed.run(argv)
    loops = result["comparison"]["loops"]
    entry.update(
        {
            "command": result["command"],
            "precision": result["machine"].get("precision_reason"),
            **{f"{name}_seconds_per_step": loops[name]["seconds_per_step"] for name in loops},
            "speedup_vs_course": loops["project"]["speedup_vs_course"],
        }
    )
    print(
        f"      course {entry['course_seconds_per_step']:.4f} s/step, project "
        f"{entry['project_seconds_per_step']:.4f} s/step: {entry['speedup_vs_course']:.2f}x",
        flush=True,
    )
    check.expect("loops timed", entry["speedup_vs_course"] is not None)


def score(check, entry, model, data, slices, learns=True):
    """Step 3: held-out slices, with and without test-time flips, and the all-interior baseline."""
    from lesson.metrics import evaluate
    from lesson.training import predict_slices

    images, labels = (volume[:slices] for volume in data["holdout"])
    keep = ("pixel_accuracy", "dice", "v_rand", "v_info")
    for name, flips in (("plain", False), ("flips", True)):
        result = evaluate(predict_slices(model, images, flips=flips), labels)
        entry[name] = {key: result[key] for key in keep}
    baseline = evaluate(np.ones(labels.shape), labels, thresholds=[0.5])
    entry["all_interior"] = {key: baseline[key] for key in keep}
    entry["slices"] = f"{25}-{25 + slices - 1}" if slices > 1 else "25"
    print(
        f"      held-out {entry['slices']}: "
        + "; ".join(
            f"{name} " + ", ".join(f"{key} {entry[name][key]:.4f}" for key in keep) for name in ("plain", "flips")
        )
    )
    if learns:
        check.expect(
            "held-out V_rand beats all-interior",
            entry["plain"]["v_rand"] > baseline["v_rand"],
            f"{entry['plain']['v_rand']:.4f} against {baseline['v_rand']:.4f}",
        )
    else:
        check.expect(
            "held-out scores computed", all(0 <= entry[name][key] <= 1 for name in ("plain", "flips") for key in keep)
        )


def run_notebook(check, entry, size, data, workdir):
    """Step 4: the release with the reference solution, top to bottom, as a student runs it."""
    import nbformat

    from lesson.config import environment_for
    from tests.catalogue import fill
    from tests.notebook_runner import cell_error, execute

    path = workdir / "UNet_Assignment.ipynb"
    nbformat.write(fill(), path)
    env = {**environment_for(size["notebook_env"]), **data}
    with student_environment():
        started = time.perf_counter()
        notebook = execute(path, workdir, env, timeout=size["cell_timeout"])
    errors = {cell.get("id", "?"): cell_error(cell) for cell in notebook.cells if cell_error(cell)}
    entry.update(
        {
            "seconds": round(time.perf_counter() - started, 1),
            "errors": errors,
            "settings": env,
            "checkpoints": [p.name for p in (workdir / "checkpoints").glob("*.pt")],
        }
    )
    check.expect("notebook ran without errors", not errors, errors or f"{len(notebook.cells)} cells")


def grade_three(check, entry, size, data, workdir):
    """Step 5: the reference, one bug and the blank release, graded by the command line; rows as expected."""
    from autograder.assignment import points as graded_points
    from autograder.cli import grade_command
    from tests.catalogue import CATALOGUE, Variant, expected_scores, write

    points = graded_points()
    variants = [next(v for v in CATALOGUE if v.name == name) for name in ("reference", BUG_VARIANT)]
    variants.append(Variant("blank_release", raw=(REPO / "UNet_Assignment.ipynb").read_bytes(), fails="all"))
    folder, out = workdir / "submissions", workdir / "grades"
    students = {write(variant, folder): variant for variant in variants}
    command = grade_command(folder, out, size["grading_mode"], size["grading_workers"])
    with student_environment():
        done = subprocess.run(command, cwd=REPO, env={**os.environ, **data}, capture_output=True, text=True)
    print("      " + "\n      ".join(done.stdout.strip().splitlines()[-5:]), flush=True)
    entry.update({"command": " ".join(command[1:]), "exit_code": done.returncode, "rows": {}})
    check.expect("grading finished", done.returncode == 0, done.stderr[-2000:] if done.returncode else "")
    grades = out / "grades.csv"
    rows = {row["student"]: row for row in csv.DictReader(grades.read_text().splitlines())} if grades.exists() else {}
    for student, variant in students.items():
        row = rows.get(student, {})
        entry["rows"][student] = row
        want = {test: float(value) for test, value in expected_scores(variant, points).items()}
        got = {test: float(row[test]) for test in points if test in row}
        check.expect(
            f"grades of {variant.name}",
            got == want and row.get("mode") == size["grading_mode"],
            f"total {row.get('total')} of {row.get('max_total')}, expected {sum(want.values()):g}; "
            f"status {row.get('status')!r}" + ("" if got == want else f"; got {got}"),
        )


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def student_environment():
    """Every UNET_* variable unset but UNET_DATA_DIR while inside, as in a student's fresh session."""
    saved = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("UNET_") and name != "UNET_DATA_DIR"]:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load_data(holdout_slices):
    """Slices 0-24 to train on and the held-out ones (uint8 (S, H, W) each), and the folder they came from."""
    from data.isbi2012 import split_holdout
    from data.synthetic import load_dataset

    images, labels, _ = load_dataset()  # the real data, or a synthetic stand-in where it is absent
    fit_images, holdout_images = split_holdout(images, holdout_slices)
    fit_labels, holdout_labels = split_holdout(labels, holdout_slices)
    return {"fit": (fit_images, fit_labels), "holdout": (holdout_images, holdout_labels)}


def data_env():
    """UNET_DATA_DIR for the notebook and the grader, made absolute; {} when unset (they download the data)."""
    folder = os.environ.get("UNET_DATA_DIR")
    return {"UNET_DATA_DIR": str(pathlib.Path(folder).resolve())} if folder else {}


# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bash scripts/gpu_check.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        default=os.environ.get("GPU_CHECK_TINY") == "1",
        help="every step small, on any device (also GPU_CHECK_TINY=1)",
    )
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/gpu-<device>.json)")
    return parser.parse_args(argv)


def run(argv=None):
    """Run the five steps; returns the result dict (also written as JSON and markdown)."""
    from benchmarks.machine import device_tag, machine
    from lesson.config import read_config
    from solutions.reference import load_reference

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("PyTorch sees no GPU: this check is for a GPU machine (--tiny runs it small anywhere)")
    size = settings(args.tiny)
    with student_environment():
        config = read_config(**size["config"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size.update(width=config.hidden_channels, data="isbi")
    info = machine(device, load_reference().UNet(1, 1, hidden_channels=config.hidden_channels), config.precision)
    out = pathlib.Path(args.out) if args.out else RESULTS / f"gpu-{device_tag(info)}.json"
    print(f"GPU check{' (tiny)' if args.tiny else ''} on {info['device_name']}; writing {out}", flush=True)
    check = Check()
    data = load_data(config.holdout_slices)
    with tempfile.TemporaryDirectory() as folder:
        workdir = pathlib.Path(folder)
        model = None
        with check.step("recipe", "the course's recipe with the project's loop") as entry:
            model = train_recipe(check, entry, config, data, size["learns"])
        with check.step("loops", "the course's loop and the project's, side by side") as entry:
            time_loops(check, entry, size, device)
        with check.step("scores", "held-out slices, with and without test-time flips") as entry:
            if model is None:
                raise RuntimeError("no model: the recipe step failed")
            score(check, entry, model, data, size["scored_slices"], size["learns"])
        with check.step("notebook", "the release notebook with the reference solution, as a student runs it") as entry:
            (workdir / "notebook").mkdir()
            run_notebook(check, entry, size, data_env(), workdir / "notebook")
        with check.step("grading", f"grading three submissions in {size['grading_mode']} mode") as entry:
            grade_three(check, entry, size, data_env(), workdir)
    result = {
        "benchmark": "gpu_check",
        "command": "bash scripts/gpu_check.sh " + " ".join(argv),
        "tiny": args.tiny,
        "machine": info,
        "steps": check.steps,
        "checks": check.checks,
    }
    result["total_seconds"] = round(time.perf_counter() - check.started, 1)
    record_goals(check, result)
    result.update(goals=check.goals, passed=check.passed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    out.with_suffix(".md").write_text(summary(result))
    print(
        f"{'all checks passed' if check.passed else 'SOME CHECKS FAILED'} in {result['total_seconds']:.0f} s; "
        f"wrote {out} and {out.with_suffix('.md').name}",
        flush=True,
    )
    return result


def main(argv=None):
    result = run(argv)
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
