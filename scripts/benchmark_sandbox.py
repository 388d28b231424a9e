"""What the sandbox costs per submission, measured without grading: the set-up and tear-down of the scratch
folder's quota (each option considered) and of a whole sandbox around one short Python run.

    .venv/bin/python scripts/benchmark_sandbox.py [--runs 20] [--repo PATH]

Needs root and bubblewrap. Prints the median and the spread (min-max) of `--runs` repetitions of:
* the quota options for a `--disk-quota`-sized scratch: a tmpfs mounted by the grader (what the sandbox
  uses), a loop-mounted ext4 image (truncate, mkfs, mount, umount, delete), and bubblewrap's own
  `--size N --tmpfs` (no host mount: the grader could not reach the kernel's sockets in it);
* one `python -c "import json"` run directly, and inside a sandbox with set-up and tear-down included
  (the difference is the sandbox's overhead per kernel start); with `--repo` pointing at an older checkout
  (e.g. `git archive 4926777 | tar -x -C /tmp/before`), the sandbox of that checkout is timed instead, so
  the same command measures before and after.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def sandbox_module():
    """The timed checkout's sandbox module: the stage folder's kernel module, or in a checkout from before the
    stage folders the one sandbox module at the package's root."""
    import importlib

    try:
        return importlib.import_module("autograder.sandbox.kernel")
    except ModuleNotFoundError:
        return importlib.import_module("autograder.sandbox")


def timed(function, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def show(label, times):
    ms = [t * 1000 for t in times]
    print(f"{label}: median {statistics.median(ms):.1f} ms (min {min(ms):.1f}, max {max(ms):.1f}, {len(ms)} runs)")
    return statistics.median(ms)


def quota_options(work, disk_bytes, runs):
    sandbox = sandbox_module()
    limits = sandbox.Limits(disk_bytes=disk_bytes)

    def host_tmpfs():
        sandbox.mount_scratch(work / "tmpfs", limits, uid=sandbox.SANDBOX_UID_BASE)
        sandbox.unmount_scratch(work / "tmpfs")

    def loop_ext4():
        image, point = work / "scratch.img", work / "loop"
        point.mkdir(exist_ok=True)
        with open(image, "wb") as handle:
            handle.truncate(disk_bytes)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-N", str(limits.inodes), str(image)], check=True)
        subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), str(point)], check=True)
        subprocess.run(["umount", "-d", str(point)], check=True)
        image.unlink()

    def bwrap_size(size_arguments):
        return lambda: subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", *size_arguments, "--tmpfs", "/mnt", "true"], check=True
        )

    show(f"quota: tmpfs mounted by the grader, {sandbox.gib(disk_bytes)} (set-up + tear-down)", timed(host_tmpfs, runs))
    show(
        f"quota: loop-mounted ext4 image, {sandbox.gib(disk_bytes)} (truncate, mkfs, mount, umount, delete)",
        timed(loop_ext4, runs),
    )
    plain = show("bwrap run without a tmpfs size", timed(bwrap_size([]), runs))
    sized = show(
        "bwrap run with --size N --tmpfs (not usable: the grader cannot see inside)",
        timed(bwrap_size(["--size", str(disk_bytes)]), runs),
    )
    print(f"  --size costs {sized - plain:+.1f} ms per run")


def sandbox_runs(work, runs):
    sandbox = sandbox_module()
    argv = [sys.executable, "-c", "import json"]
    direct = show("python -c 'import json', no sandbox", timed(lambda: subprocess.run(argv, check=True), runs))
    slot = iter(range(runs))

    if hasattr(sandbox, "Sandbox"):  # this checkout: tmpfs scratch, cgroup where it works

        def sandboxed():
            box = sandbox.Sandbox(work / "scratch", slot=next(slot) % 20 + 40, name=f"unet-bench-{os.getpid()}")
            try:
                subprocess.run(box.command(argv), check=True)
            finally:
                box.close()

        print(f"sandbox of {sandbox.__file__}: {sandbox.probe().reason}")
    else:  # before issue 12: a plain folder, rlimits only

        def sandboxed():
            scratch = work / "scratch"
            scratch.mkdir()
            try:
                subprocess.run(sandbox.wrap(argv, scratch, slot=next(slot) % 20 + 40), check=True)
            finally:
                subprocess.run(["rm", "-rf", str(scratch)], check=True)

        print(f"sandbox of {sandbox.__file__} (before issue 12: folder scratch, rlimits only)")
    inside = show("the same in a sandbox, set-up and tear-down included", timed(sandboxed, runs))
    print(f"  sandbox overhead per kernel start: {inside - direct:+.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="repetitions of each measurement (default 20)")
    parser.add_argument(
        "--repo",
        type=pathlib.Path,
        default=REPO_ROOT,
        help="the checkout whose autograder/sandbox/kernel.py is timed (default: this one)",
    )
    parser.add_argument("--disk-quota", type=float, default=2.0, metavar="GIB", help="scratch size (default 2)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="unet-sandbox-benchmark-") as work:
        work = pathlib.Path(work)
        sandbox = sandbox_module()
        if hasattr(sandbox, "mount_scratch"):
            quota_options(work, int(args.disk_quota * 2**30), args.runs)
        sandbox_runs(work, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
