"""What grading a folder again costs once a few files changed: the kept results at work, measured in one run.

    .venv/bin/python scripts/benchmark_regrade.py [--submissions 20] [--changed 3] [--mode smoke] [--workers 2]

It writes N submissions (the reference and the catalogue's buggy variants in turn, as students would submit them)
and times four whole `python -m autograder grade` commands:
1. the whole folder into a fresh --out;
2. the same command again, nothing changed (every result reused);
3. the same command after K files changed (a resubmission: one more cell): only those K are graded;
4. for comparison, those K files alone into a fresh --out: what K submissions cost by themselves.
It prints each command's wall time, the submissions it graded (its "[k/n]" lines) and the ratios: run 3 against
run 1 (the goal: K submissions' time, not N) and against run 4 (about 1.0). The load average before and after
each command says how busy the machine was. Set UNET_DATA_DIR as for the tests.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from autograder.cli import grade_command  # noqa: E402 (after the repository is on the path)
from tests.catalogue import CATALOGUE, Variant, write  # noqa: E402

BUGS = [variant for variant in CATALOGUE if variant.parts and variant.edit is None and variant.raw is None]


def submissions(folder: pathlib.Path, count: int) -> list[pathlib.Path]:
    """`count` submissions, student01 ... : every other one the reference, the rest buggy variants in turn."""
    paths = []
    for number in range(1, count + 1):
        parts = {} if number % 2 else BUGS[(number // 2) % len(BUGS)].parts
        write(Variant(f"student{number:02d}", parts=parts), folder)
        paths.append(folder / f"student{number:02d}.ipynb")
    return paths


def resubmit(path: pathlib.Path) -> None:
    """The same notebook with one more markdown cell: other bytes, as a resubmission has."""
    notebook = json.loads(path.read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["Resubmitted."]})
    path.write_text(json.dumps(notebook, indent=1))


def grade(folder, out, mode, workers) -> tuple[float, list[str], str]:
    """(wall seconds, students graded, load averages before/after) of one grade command."""
    command = grade_command(folder, out, mode, workers)
    load = os.getloadavg()[0]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"grading failed:\n{result.stdout}\n{result.stderr}")
    graded = re.findall(r"^\[\d+/\d+\] (.+?): ", result.stdout, re.MULTILINE)
    return wall, graded, f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--changed", type=int, default=3)
    parser.add_argument("--mode", default="smoke", choices=("smoke", "quick", "full"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unet-regrade-") as scratch:
        scratch = pathlib.Path(scratch)
        paths = submissions(scratch / "in", args.submissions)
        runs = {}
        runs["1. all, fresh --out"] = grade(scratch / "in", scratch / "out", args.mode, args.workers)
        runs["2. again, nothing changed"] = grade(scratch / "in", scratch / "out", args.mode, args.workers)
        changed = paths[:: max(1, len(paths) // args.changed)][: args.changed]
        (scratch / "alone").mkdir()
        for path in changed:
            resubmit(path)
            shutil.copy(path, scratch / "alone" / path.name)
        runs[f"3. again, {len(changed)} changed"] = grade(scratch / "in", scratch / "out", args.mode, args.workers)
        runs[f"4. those {len(changed)} alone, fresh --out"] = grade(
            scratch / "alone", scratch / "out-alone", args.mode, args.workers
        )
    print(f"{args.submissions} submissions, {args.mode} mode, --workers {args.workers}, {os.cpu_count()} cores")
    for name, (wall, graded, load) in runs.items():
        print(f"{name:<32} {wall:7.1f} s  graded {len(graded):>2}  ({load})")
    first, again, changed_run, alone = (wall for wall, _, _ in runs.values())
    print(
        f"run 3 / run 1: {changed_run / first:.2f} (the share of a whole batch's time; {len(changed)}/"
        f"{args.submissions} = {len(changed) / args.submissions:.2f} of its submissions)"
    )
    print(f"run 3 / run 4: {changed_run / alone:.2f} (against {len(changed)} submissions graded by themselves)")
    print(f"run 2 / run 1: {again / first:.3f} (nothing to grade)")
    if sorted(runs[f"3. again, {len(changed)} changed"][1]) != sorted(path.stem for path in changed):
        sys.exit("run 3 graded other submissions than the changed ones")


if __name__ == "__main__":
    main()
