"""How long grading takes: seconds per complete, correct submission in quick mode, and the speed-up of
--workers 2 over --workers 1, measured in one run of this script.

    .venv/bin/python scripts/benchmark_grading.py [--submissions 4] [--mode quick]

It writes N copies of the reference solution (the release with every stub filled, as a student would submit
it) and grades them with `python -m autograder grade` three times, timing each whole command: with 1 and 2
workers, each kernel in the sandbox (where it works here), then with 1 worker and `--sandbox off`, which gives
the isolation's overhead per submission (the grader's own checks run in all three). Per submission =
(command's wall time - the one-off course set-up it reports) / N. Other load on the machine slows it: the
script prints the load average before and after each command. Last, it grades one complete submission and the
blank release one at a time and prints where their time goes, stage by stage (the fixed overhead is the
blank's). Set UNET_DATA_DIR as for the tests.

    .venv/bin/python scripts/benchmark_grading.py --batch 20 [--workers 2] [--mode quick]

grades a batch of N complete submissions in one run, in this process, as `grade` does: the smoke batch's
correct and buggy ones (tests/catalogue.py: every variant that runs to its end, hangs, crashes, broken files
and attacks left out), then copies of the reference up to N. It prints the aggregate seconds per submission
(the batch's wall time, course set-up included, / N), the per-stage sums over the batch, how busy the
machine's cores were (from /proc/stat: two busy cores is 100%), the load average before and after, each
submission's total against the one tests/catalogue.py expects, and 100 submissions extrapolated from N: the batch's
set-up (the course template, the precision and the reference's quick run, ``grade``'s "course template ready in" line)
once, and 100 times the rest of the wall time / N.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from autograder.cli import grade_command  # noqa: E402
from autograder.release.course import RELEASE_NOTEBOOK  # noqa: E402
from tests.catalogue import Variant, write  # noqa: E402


def run(folder, out, workers, mode, sandbox):
    command = grade_command(folder, out, mode, workers, "--sandbox", sandbox)
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"grading failed:\n{result.stdout}\n{result.stderr}")
    setup = float(re.search(r"course template ready in ([\d.]+) s", result.stdout).group(1))
    totals = re.findall(r": (\d+(?:\.\d+)?)/100 \(", result.stdout)
    return wall, setup, totals, result.stdout.splitlines()[0]


STAGES = (
    "reading the submission",
    "course and sandbox set-up",
    "worker start",
    "kernel start",
    "imports",
    "notebook",
    "tests",
    "checks",
    "training",
    "evaluation",
    "training check",
    "grader",
    "nbgrader autograde, other",
    "gradebook",
    "feedback",
)


def breakdown(scratch, mode):
    """Where one submission's time goes, per stage (Result.timings), for a complete correct submission and for
    the blank release (the fixed overhead), graded one at a time, sandboxed where it works."""
    from autograder.grading import grade
    from autograder.grading.batch import Grader
    from autograder.grading.submissions import find_submissions

    folder = pathlib.Path(scratch) / "breakdown"
    write(Variant("complete"), folder)
    write(Variant("blank", edit=lambda notebook: json.loads(RELEASE_NOTEBOOK.read_text())), folder)
    sandboxed, reason = grade.use_sandbox("auto", mode)
    results = Grader(
        pathlib.Path(scratch) / "out-breakdown", mode, sandbox=sandboxed, sandbox_reason=reason, log=lambda line: None
    ).grade(find_submissions([folder]))
    print(f"where the time goes (seconds; --workers 1, {'sandboxed' if sandboxed else 'no sandbox: ' + reason}):")
    print(f"{'stage':<28}" + "".join(f"{result.student:>12}" for result in results))
    for stage in STAGES:
        print(f"{stage:<28}" + "".join(f"{result.timings.get(stage, 0.0):>12.2f}" for result in results))
    measured = [sum(result.timings.get(stage, 0.0) for stage in STAGES) for result in results]
    print(f"{'the rest':<28}" + "".join(f"{result.seconds - done:>12.2f}" for result, done in zip(results, measured)))
    print(f"{'in all':<28}" + "".join(f"{result.seconds:>12.2f}" for result in results))


def complete_variants(count):
    """`count` submissions that run to their end: the catalogue's correct and buggy ones, then reference copies."""
    from tests.catalogue import CATALOGUE, named

    kept = [
        variant
        for variant in CATALOGUE
        if variant.status == "ok" and variant.raw is None and not variant.name.startswith("attack_")
    ]
    copies = [
        dataclasses.replace(named("reference"), name=f"reference_copy{number}")
        for number in range(max(0, count - len(kept)))
    ]
    return (kept + copies)[:count]


def machine_busy_seconds():
    """CPU seconds every process on the machine has used (all cores, /proc/stat), and the seconds all cores had."""
    fields = [int(value) for value in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), sum(fields[:8]) / os.sysconf("SC_CLK_TCK")


def batch(scratch, count, workers, mode):
    """Grade `count` complete submissions at `workers` at once; print where the batch's time goes."""
    from autograder import assignment
    from autograder.grading import grade
    from autograder.grading.batch import Grader
    from autograder.grading.submissions import find_submissions
    from tests.catalogue import expected_scores

    folder = pathlib.Path(scratch) / "batch"
    variants = {write(variant, folder): variant for variant in complete_variants(count)}
    sandboxed, reason = grade.use_sandbox("auto", mode)
    load_before, started, busy_before = os.getloadavg(), time.monotonic(), machine_busy_seconds()
    lines = []
    results = Grader(
        pathlib.Path(scratch) / "out-batch",
        mode,
        workers=workers,
        sandbox=sandboxed,
        sandbox_reason=reason,
        log=lines.append,
    ).grade(find_submissions([folder]))
    wall, load_after = time.monotonic() - started, os.getloadavg()
    busy, available = (after - before for after, before in zip(machine_busy_seconds(), busy_before))
    cores = os.cpu_count()
    print(
        f"{len(results)} complete submissions (the smoke batch's correct and buggy ones, then copies of the "
        f"reference), {mode} mode, --workers {workers}, {cores} cores, "
        f"{'sandboxed' if sandboxed else 'no sandbox: ' + reason}; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}"
    )
    print(f"{lines[0]}; the batch {wall:.1f} s in all, {wall / len(results):.2f} s per submission")
    print(  # the kernels, killed at the end and run under users of their own, are in no rusage of this process
        f"the {cores} cores were {busy / available:.0%} busy over the batch ({busy:.1f} CPU seconds in {wall:.1f} s; "
        f"/proc/stat: this batch and anything else running)"
    )
    ready = [re.search(r"course template ready in ([\d.]+) s", line) for line in lines]
    setup = next(float(found[1]) for found in ready if found)
    each = (wall - setup) / len(results)
    print(
        f"100 submissions, extrapolated from these {len(results)}: {(setup + 100 * each) / 60:.1f} min (the batch's "
        f"set-up, {setup:.1f} s, once, then {each:.2f} s per submission; {100 * wall / len(results) / 60:.1f} min "
        f"with the set-up counted in each submission's share)"
    )
    sums = {stage: sum(result.timings.get(stage, 0.0) for result in results) for stage in STAGES}
    print(
        f"per-stage sums over the batch (seconds; {workers} at a time, so they add up to about {workers}x the "
        f"wall time):"
    )
    for stage, seconds in sums.items():
        print(f"  {stage:<28}{seconds:>9.1f}{seconds / len(results):>9.2f} per submission")
    print(f"  {'in all':<28}{sum(result.seconds for result in results):>9.1f}")
    points = assignment.points()
    wrong = [
        f"{result.student}: {result.total} (expected {sum(expected_scores(variants[result.student], points).values())})"
        for result in results
        if result.total != sum(expected_scores(variants[result.student], points).values())
    ]
    print(
        f"totals as tests/catalogue.py expects: {len(results) - len(wrong)}/{len(results)}"
        + "".join(f"\n  {line}" for line in wrong)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=4, help="copies of the reference solution (default 4)")
    parser.add_argument("--mode", default="quick", choices=("quick", "full", "smoke"))
    parser.add_argument("--breakdown-only", action="store_true", help="only the stage-by-stage breakdown")
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        metavar="N",
        help="only grade a batch of N complete submissions and print where its time goes",
    )
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once with --batch (default 2)")
    args = parser.parse_args()
    if args.batch:
        with tempfile.TemporaryDirectory(prefix="unet-benchmark-") as scratch:
            return batch(scratch, args.batch, args.workers, args.mode)
    if args.breakdown_only:
        with tempfile.TemporaryDirectory(prefix="unet-benchmark-") as scratch:
            return breakdown(scratch, args.mode)
    with tempfile.TemporaryDirectory(prefix="unet-benchmark-") as scratch:
        folder = pathlib.Path(scratch) / "submissions"
        for number in range(args.submissions):
            write(Variant(f"student{number + 1}"), folder)
        print(
            f"{args.submissions} complete, correct submissions, {args.mode} mode, {os.cpu_count()} CPU cores, "
            f"load average before: {os.getloadavg()[0]:.2f}"
        )
        per_submission = {}
        for workers, sandbox in ((1, "auto"), (2, "auto"), (1, "off")):
            out = pathlib.Path(scratch) / f"out-{workers}-{sandbox}"
            wall, setup, totals, first_line = run(folder, out, workers, args.mode, sandbox)
            per_submission[workers, sandbox] = (wall - setup) / args.submissions
            print(
                f"--workers {workers} --sandbox {sandbox} ({first_line.split(', ', 1)[-1]}): {wall:.1f} s in all "
                f"({setup:.1f} s course set-up, once per batch), {per_submission[workers, sandbox]:.1f} s per "
                f"submission; totals {', '.join(totals)}; load average after: {os.getloadavg()[0]:.2f}"
            )
        print(f"speed-up of --workers 2 over --workers 1: {per_submission[1, 'auto'] / per_submission[2, 'auto']:.2f}x")
        print(
            f"isolation overhead: {per_submission[1, 'auto'] - per_submission[1, 'off']:+.1f} s per submission "
            f"(--workers 1, sandbox as chosen by auto vs off)"
        )
        breakdown(scratch, args.mode)


if __name__ == "__main__":
    main()
