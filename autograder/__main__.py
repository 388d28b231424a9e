"""Command line of the instructor and grader tools.

    python -m autograder release [--check] [--repo OWNER/NAME] [--branch BRANCH] [--course DIR [--assignment NAME]]
    python -m autograder grade PATH... --out DIR [--workers N] [--mode auto|quick|full] [--timeout SECONDS]
                               [--sandbox auto|on|off] [--disk-quota GIB] [--export canvas|moodle]...
                               [--cluster tcp://HOST:8786 | --cluster local] [--force] [--lock-wait SECONDS]
    python -m autograder grade --course DIR [--assignment NAME] [--out DIR] [the options above]
    python -m autograder gradescope --out autograder.zip [--training-visibility VISIBILITY]
"""
from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys

from autograder.grading import lock, stopping  # light: the standard library only
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
    release_parser.add_argument("--course", metavar="DIR",
                                help="also release into this nbgrader course: source/NAME/ and release/NAME/, and its "
                                     "gradebook knows the assignment")
    release_parser.add_argument("--assignment", default="UNet_Assignment", metavar="NAME",
                                help="the assignment's name in the course (default UNet_Assignment)")
    grade_parser = commands.add_parser(
        "grade", help="grade submitted notebooks with nbgrader: DIR/grades.csv and DIR/feedback/<student>.html",
        description="Grade .ipynb submissions (files, folders of them, or nbgrader's submitted/ folder) with "
                    "nbgrader's autograde in a course folder of its own; no course setup needed.")
    grade_parser.add_argument("paths", nargs="*", metavar="PATH",
                              help=".ipynb files, folders holding them, or an LMS's bulk download (.zip) as it is")
    grade_parser.add_argument("--out", metavar="DIR",
                              help="where grades.csv and feedback/ go (with --course, by default COURSE/reports/NAME)")
    grade_parser.add_argument("--course", metavar="DIR",
                              help="grade the nbgrader course in DIR in place: its submitted/<student>/NAME/, into its "
                                   "gradebook, autograded/ and feedback/")
    grade_parser.add_argument("--assignment", default="UNet_Assignment", metavar="NAME",
                              help="the assignment's name in the course (default UNet_Assignment)")
    grade_parser.add_argument("--export", action="append", choices=("canvas", "moodle"), default=[],
                              help="also write the LMS's grade import CSV next to grades.csv (grades-canvas.csv, "
                                   "grades-moodle.csv); repeat for both")
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
    grade_parser.add_argument("--force", action="store_true",
                              help="grade every submission again; by default a submission whose result is kept in "
                                   "DIR/results/ under the same key (the same file, release, grader's code, policy, "
                                   "mode, data and settings) is reused, and only new or changed ones are graded")
    grade_parser.add_argument("--lock-wait", type=_seconds, default=60.0, metavar="SECONDS",
                              help="how long to wait while another grading run holds the output folder (or the "
                                   "course) before stopping with exit status 3 (default 60)")
    gradescope_parser = commands.add_parser(
        "gradescope", help="write a Gradescope autograder bundle (setup.sh, run_autograder, the grader and the data)")
    gradescope_parser.add_argument("--out", required=True, metavar="ZIP", help="the bundle to write, e.g. autograder.zip")
    gradescope_parser.add_argument("--training-visibility", default="visible",
                                   choices=("visible", "after_due_date", "after_published", "hidden"),
                                   help="when students see the training test's result (default visible)")
    gradescope_parser.add_argument("--mode", choices=("quick", "smoke"), default="quick",
                                   help="quick (default): Gradescope has no GPU; smoke: for testing the bundle only")
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade(args, parser)
    if args.command == "gradescope":
        from autograder.integrations import gradescope
        said = gradescope.make_bundle(pathlib.Path(args.out), args.mode, args.training_visibility)
        print(f"wrote {args.out}: " + "; ".join(said))
        return 0
    try:
        release.colab_url(args.repo or "x/x", args.branch or "x")      # usage errors before any work
    except ValueError as error:
        parser.error(str(error))
    if args.course and args.check:
        parser.error("--check compares the repository's release only; leave out --course")
    stale = release.release(check=args.check, repo=args.repo, branch=args.branch)
    if args.course:
        from autograder.integrations import nbgrader_course
        print("\n".join(f"updated {item}" for item in stale) or "release is up to date")
        print("\n".join(nbgrader_course.release_into(pathlib.Path(args.course), args.assignment, args.repo, args.branch)))
        return 0
    if args.check:
        for item in stale:
            print(f"stale: {item} (run `python -m autograder release{_link_options(args)}`)")
        return 1 if stale else 0
    print("\n".join(f"updated {item}" for item in stale) or "release is up to date")
    return 0


def _link_options(args):
    return "".join(f" --{name} {value}" for name, value in (("repo", args.repo), ("branch", args.branch)) if value)


def grade(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from autograder.integrations import lms
    from autograder.grading.submissions import UsageError
    if bool(args.paths) == bool(args.course):
        parser.error("give the submissions (PATH...) or an nbgrader course (--course DIR), one of the two")
    if args.course and args.cluster:
        parser.error("--course grades on this machine; leave out --cluster")
    with contextlib.ExitStack() as scratch:
        course = None
        try:
            if args.course:
                course, locked = _course(args)
                if locked:
                    print(f"python -m autograder grade: error: {locked}", file=sys.stderr)
                    return 3
                submissions = course.submissions()
            else:
                submissions, notes = lms.collect(args.paths, scratch)
                print("\n".join(notes), end="\n" if notes else "")
        except UsageError as error:
            parser.error(str(error))                           # exit code 2 with the usage line
        if args.out is None and course is None:
            parser.error("--out DIR is needed (where grades.csv and feedback/ go)")
        out = pathlib.Path(args.out) if args.out else course.root / "reports" / args.assignment
        if out.exists() and not out.is_dir():
            parser.error(f"--out {out} is a file, not a folder")
        try:
            with holding(args, out, course):
                code = (grade_on_cluster(args, submissions, out) if args.cluster
                        else grade_here(args, submissions, out, course, scratch))
                if course is None:
                    lms.write_left_out(out, notes)
                if code == 0:
                    for kind in args.export:
                        print(f"wrote {lms.export(kind, out)}")
                return code
        except lock.Busy as busy:
            print(f"python -m autograder grade: error: {busy}", file=sys.stderr)
            return lock.BUSY_EXIT
        except KeyboardInterrupt as stop:                       # Ctrl-C, SIGTERM: the kernels are stopped by now
            print(f"python -m autograder grade: stopped ({stop or 'Ctrl-C'}); what was graded is kept in {out}: the "
                  f"same command grades only what is missing", file=sys.stderr)
            return stopping.exit_status(stop)


@contextlib.contextmanager
def holding(args: argparse.Namespace, out: pathlib.Path, course=None):
    """Hold the course's lock (with --course) and the output folder's for the block, with SIGTERM raising as
    Ctrl-C does; lock.Busy when another run holds either past --lock-wait."""
    with contextlib.ExitStack() as held:
        held.enter_context(stopping.stoppable())
        if course is not None:
            held.enter_context(lock.hold(lock.course_lock(course.root, course.name),
                                         f"the course {course.root} ({course.name})", args.lock_wait))
        held.enter_context(lock.hold(out / lock.LOCK_NAME, f"the output folder {out}", args.lock_wait))
        yield


def _course(args):
    """(the nbgrader course of --course, checked; why its gradebook cannot be written now, or None).
    A locked gradebook stops us before any grading; a course without the assignment is a UsageError."""
    from autograder.integrations import nbgrader_course
    course = nbgrader_course.Course(pathlib.Path(args.course), args.assignment)
    try:
        course.ensure_writable()
    except nbgrader_course.GradebookLocked as locked:
        return course, str(locked)
    course.check()
    return course, None


def grade_here(args: argparse.Namespace, submissions: list, out: pathlib.Path, course=None, scratch=None) -> int:
    """Grade on this machine (into the nbgrader `course` too, when given); the exit code."""
    from autograder.grading import grade as grading  # imports nbgrader and PyTorch: only when grading
    from autograder.grading.batch import Grader
    from autograder.reports import kept
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
    settings = {"nbgrader course": f"{course.root} {course.name}"} if course is not None else {}
    grader = Grader(out, mode=mode, workers=args.workers, timeout=args.timeout, limits=limits, sandbox=sandboxed,
                    sandbox_reason="" if sandboxed else reason, force=args.force, lock_wait=args.lock_wait,
                    key_settings=settings)
    if course is not None:                 # the graded notebooks wait beside the kept results, for a later run too
        course.attach(grader.session, out / kept.FOLDER / "nbgrader")
    results = grader.grade(submissions)
    if course is not None:
        from autograder.integrations.nbgrader_course import GradebookLocked
        try:
            course.record(results)
        except GradebookLocked as locked:
            print(f"python -m autograder grade: error: {locked}", file=sys.stderr)
            return 3
    return 0


def grade_on_cluster(args: argparse.Namespace, submissions: list, out: pathlib.Path) -> int:
    from autograder.grading import cluster
    from autograder.grading.submissions import UsageError
    try:
        return cluster.main(args.cluster, submissions, out, mode=args.mode, workers=args.workers,
                            timeout=args.timeout, sandbox=args.sandbox, force=args.force, lock_wait=args.lock_wait)
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


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
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
