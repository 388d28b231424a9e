"""Command line of the instructor and grader tools.

    python -m autograder release [--check] [--repo OWNER/NAME] [--branch BRANCH]
    python -m autograder grade PATH... --out DIR [--workers N] [--mode auto|quick|full] [--timeout SECONDS]
                               [--sandbox auto|on|off] [--disk-quota GIB]
                               [--cluster tcp://HOST:8786 | --cluster local]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from autograder.release import generate as release  # light: no PyTorch



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="regenerate UNet_Assignment.ipynb from solutions/")
    release_parser.add_argument("--check", action="store_true",
                                help="write nothing; exit 1 if the source's inlined cells or the release are stale")
    release_parser.add_argument("--repo", metavar="OWNER/NAME",
                                help="the GitHub repository the release's Colab link (and the README's badge) opens "
                                     "it from (default: the clone's GitHub remote origin, else "
                                     f"{release.DEFAULT_REPO})")
    release_parser.add_argument("--branch", metavar="BRANCH",
                                help="the branch of that link (default: the remote's default branch, else "
                                     f"{release.DEFAULT_BRANCH})")
    grade_parser = commands.add_parser(
        "grade", help="grade submitted notebooks with nbgrader: DIR/grades.csv and DIR/feedback/<student>.html",
        description="Grade .ipynb submissions (files, folders of them, or nbgrader's submitted/ folder) with "
                    "nbgrader's autograde in a course folder of its own; no course setup needed.")
    grade_parser.add_argument("paths", nargs="+", metavar="PATH", help=".ipynb files or folders holding them")
    grade_parser.add_argument("--out", required=True, metavar="DIR", help="where grades.csv and feedback/ go")
    grade_parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                              help="submissions graded at the same time (default 1); with --cluster local, "
                                   "the number of Dask worker processes")
    grade_parser.add_argument("--mode", choices=("auto", "quick", "full", "smoke"), default="auto",
                              help="full: the real 200-epoch run, for a GPU; quick: a short CPU run that must "
                                   "visibly learn; auto (default): full with a GPU, else quick; smoke: a tiny "
                                   "run for testing the grader itself, never for students")
    grade_parser.add_argument("--timeout", type=_positive, default=120, metavar="SECONDS",
                              help="time limit of each cell (default 120); the training and evaluation cells "
                                   "have the mode's own, longer limit")
    grade_parser.add_argument("--sandbox", choices=("auto", "on", "off"), default="auto",
                              help="run each submission's kernel in a bubblewrap sandbox (no network, no view of "
                                   "the course, bounded memory; needs Linux, bwrap and root): on, off, or auto "
                                   "(default: on when it works here; in full mode it shows the kernel the GPU)")
    quota_help = "what each sandboxed kernel may write, in GiB (default 2): a tmpfs scratch, counted in its memory"
    grade_parser.add_argument("--disk-quota", type=_gib, default=2.0, metavar="GIB", help=quota_help)
    grade_parser.add_argument("--cluster", metavar="ADDRESS",
                              help="grade on a Dask distributed cluster, one task per submission: the scheduler's "
                                   "address (tcp://HOST:8786), or `local` for --workers processes on this machine; "
                                   "full-mode tasks run only on workers started with --resources GPU=1")
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade(args, parser)
    try:
        release.colab_url(args.repo or "x/x", args.branch or "x")      # usage errors before any work
    except ValueError as error:
        parser.error(str(error))
    stale = release.release(check=args.check, repo=args.repo, branch=args.branch)
    if args.check:
        for item in stale:
            print(f"stale: {item} (run `python -m autograder release{_link_options(args)}`)")
        return 1 if stale else 0
    print("\n".join(f"updated {item}" for item in stale) or "release is up to date")
    return 0


def _link_options(args):
    return "".join(f" --{name} {value}" for name, value in (("repo", args.repo), ("branch", args.branch)) if value)


def grade(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from autograder.grading.submissions import UsageError, find_submissions
    try:
        submissions = find_submissions(args.paths)
    except UsageError as error:
        parser.error(str(error))                               # exit code 2 with the usage line
    if pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    from autograder.grading import grade as grading  # imports nbgrader and PyTorch: only when grading
    if args.cluster:
        return grade_on_cluster(args, submissions)
    mode = grading.resolve_mode(args.mode)
    error = grading.prepare_data()
    if error:
        print(f"python -m autograder grade: error: {error}", file=sys.stderr)
        return 2
    limits = sandbox_limits(args)
    sandboxed, reason = grading.use_sandbox(args.sandbox, mode, limits)
    if args.sandbox == "on" and not sandboxed:
        print(f"python -m autograder grade: error: --sandbox on, but {reason}", file=sys.stderr)
        return 2
    print(f"grading {len(submissions)} submission(s) in {mode} mode with {args.workers} worker(s), "
          + (f"each kernel in a {reason}" if sandboxed else f"WITHOUT a sandbox ({reason})"))
    grading.Grader(args.out, mode=mode, workers=args.workers, timeout=args.timeout, limits=limits,
                   sandbox=sandboxed, sandbox_reason="" if sandboxed else reason).grade(submissions)
    return 0


def grade_on_cluster(args: argparse.Namespace, submissions: list) -> int:
    from autograder.grading import cluster
    from autograder.grading.submissions import UsageError
    try:
        return cluster.main(args.cluster, submissions, args.out, mode=args.mode, workers=args.workers,
                            timeout=args.timeout, sandbox=args.sandbox)
    except UsageError as error:
        print(f"python -m autograder grade: error: {error}", file=sys.stderr)
        return 2


def sandbox_limits(args: argparse.Namespace):
    """The sandbox's Limits, with the command line's disk quota."""
    from autograder.sandbox.kernel import Limits
    return Limits(disk_bytes=int(args.disk_quota * 2**30))


def _gib(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in GiB, got {text!r}") from None
    if not value * 2**30 >= 2**20:
        raise argparse.ArgumentTypeError(f"must be at least 1 MiB (0.001 GiB), got {text}")
    return value


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
