"""How long grading takes: seconds per complete, correct submission in quick mode, and the speed-up of
--workers 2 over --workers 1, measured in one run of this script.

    .venv/bin/python scripts/benchmark_grading.py [--submissions 4] [--mode quick]

It writes N copies of the reference solution (the release with every stub filled, as a student would submit
it) and grades them with `python -m autograder grade` twice, with 1 and then 2 workers, timing each whole
command. Per submission = (command's wall time - the one-off course set-up it reports) / N. Other load on the
machine slows it: the script prints the load average before and after each command. Set UNET_DATA_DIR as for
the tests.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.catalogue import Variant, write  # noqa: E402


def run(folder, out, workers, mode):
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out),
               "--workers", str(workers), "--mode", mode]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"grading failed:\n{result.stdout}\n{result.stderr}")
    setup = float(re.search(r"course template ready in ([\d.]+) s", result.stdout).group(1))
    totals = re.findall(r": (\d+(?:\.\d+)?)/100 \(", result.stdout)
    return wall, setup, totals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=4, help="copies of the reference solution (default 4)")
    parser.add_argument("--mode", default="quick", choices=("quick", "full", "smoke"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unet-benchmark-") as scratch:
        folder = pathlib.Path(scratch) / "submissions"
        for number in range(args.submissions):
            write(Variant(f"student{number + 1}"), folder)
        print(f"{args.submissions} complete, correct submissions, {args.mode} mode, {os.cpu_count()} CPU cores, "
              f"load average before: {os.getloadavg()[0]:.2f}")
        per_submission = {}
        for workers in (1, 2):
            wall, setup, totals = run(folder, pathlib.Path(scratch) / f"out-{workers}", workers, args.mode)
            per_submission[workers] = (wall - setup) / args.submissions
            print(f"--workers {workers}: {wall:.1f} s in all ({setup:.1f} s course set-up, once per batch), "
                  f"{per_submission[workers]:.1f} s per submission; totals {', '.join(totals)}; "
                  f"load average after: {os.getloadavg()[0]:.2f}")
        print(f"speed-up of --workers 2 over --workers 1: {per_submission[1] / per_submission[2]:.2f}x")


if __name__ == "__main__":
    main()
