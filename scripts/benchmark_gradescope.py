"""What one Gradescope submission costs: `run_autograder` on the image `setup.sh` prepared, timed end to end.

    .venv/bin/python scripts/benchmark_gradescope.py [--mode quick] [--runs 2]

It makes the bundle as docs/platforms.md says (`python -m autograder gradescope --out autograder.zip`, here with
--mode), unpacks it as Gradescope does (its files in ROOT/source, `run_autograder` copied to ROOT, the submission
in ROOT/submission: the reference solution, complete), runs what `setup.sh` ends with (the course template and the
precision measurement, once per image; timed apart: Gradescope does not count it), then `run_autograder` --runs
times, each timed as a whole command, with the load average before and after (other load slows it) and the score
it wrote to results/results.json. Set UNET_DATA_DIR as for the tests: the bundle carries that data.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.catalogue import named, write  # noqa: E402 (after the repository is on the path)
from tests.test_gradescope import unpack  # noqa: E402


def timed(command: list, cwd: pathlib.Path, env: dict) -> tuple[float, str]:
    """(wall seconds, "load before -> after") of one command; exits with its output when it fails."""
    load, started = os.getloadavg()[0], time.monotonic()
    ran = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if ran.returncode != 0:
        sys.exit(f"{command[0]} failed (exit {ran.returncode}):\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    return wall, f"load {load:.2f} -> {os.getloadavg()[0]:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="quick", choices=("smoke", "quick", "full"))
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unet-gradescope-") as scratch:
        scratch, python = pathlib.Path(scratch), sys.executable
        root = scratch / "autograder"
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
        bundle = ["-m", "autograder", "gradescope", "--out", str(scratch / "autograder.zip"), "--mode", args.mode]
        timed([python, *bundle], REPO_ROOT, env)
        unpack(scratch / "autograder.zip", root)
        write(named("reference"), root / "submission")
        setup, load = timed([python, "-m", "autograder.integrations.gradescope", "setup"], root / "source", env)
        once = "what setup.sh ends with: the template, the precision and the reference's quick run, once per image"
        print(f"set-up ({once}): {setup:.1f} s; {load}")
        for run in range(1, args.runs + 1):
            wall, load = timed([str(root / "run_autograder")], root, env)
            results = json.loads((root / "results" / "results.json").read_text())
            print(
                f"run_autograder {run}, one complete submission in {args.mode} mode: {wall:.1f} s; {load}; "
                f"score {results['score']:g}"
            )


if __name__ == "__main__":
    main()
