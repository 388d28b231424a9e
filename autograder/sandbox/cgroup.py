"""A control group per sandbox: the memory (page cache and tmpfs included) and tasks of everything a kernel
starts, bounded as a whole, and every one of those processes ended when the sandbox closes.

Chosen at run time (``find()``), in this order:
* cgroup v2 (one unified hierarchy with the memory and pids controllers): a cgroup made directly under the
  hierarchy's root (root only), with ``memory.max``, ``memory.swap.max`` and ``pids.max``; ended with
  ``cgroup.kill``.
* cgroup v1 (the memory and pids controllers each on a hierarchy of their own, as in hybrid set-ups and
  many containers): a child of this process's own cgroup in each, with ``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes`` (where swap is accounted) and ``pids.max``; ended by killing the members
  until none is left.
* neither (no controllers, a read-only cgroupfs, not root): ``None``, and the sandbox keeps its rlimits only.

``find()`` really makes and removes a test cgroup: a hierarchy that is mounted but not writable by us
(a delegated or read-only cgroupfs) counts as unavailable.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import signal
import threading
import time

MOUNTINFO = "/proc/self/mountinfo"
SELF_CGROUP = "/proc/self/cgroup"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where this machine's memory and pids controllers are, and in which cgroup version."""

    version: int  # 2 or 1
    memory: pathlib.Path  # the folder new cgroups are made in, for the memory controller
    pids: pathlib.Path  # the same for the pids controller (the same folder in v2)


def limit_files(version: int, memory_bytes: int, tasks: int) -> dict[str, str]:
    """{file name: value} that bound a cgroup's memory and tasks, in the order they must be written."""
    if version == 2:
        return {"memory.max": str(memory_bytes), "memory.swap.max": "0", "pids.max": str(tasks)}
    # v1: the memory+swap limit must not be below the memory limit, so it comes second
    return {
        "memory.limit_in_bytes": str(memory_bytes),
        "memory.memsw.limit_in_bytes": str(memory_bytes),
        "pids.max": str(tasks),
    }


OPTIONAL = {"memory.swap.max", "memory.memsw.limit_in_bytes"}  # absent where swap is not accounted


def _mounts(mountinfo):
    """[(mount point, file system type, super options)] from a /proc/self/mountinfo text."""
    mounts = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        mounts.append((fields[4].replace("\\040", " "), after[0], after[2] if len(after) > 2 else ""))
    return mounts


def layout(mountinfo: str, self_cgroup: str) -> tuple:
    """The Layout these /proc texts describe, or None when memory and pids cannot both be bounded.

    v2 is used when the unified hierarchy's root offers both controllers (``cgroup.controllers`` is read
    from the mount); v1 when each controller has a hierarchy of its own. New v1 cgroups go under this
    process's own cgroup (in a container, the only part of the hierarchy that is ours).
    """
    own = {}  # controller (or "" for v2) -> this process's cgroup path
    for line in self_cgroup.splitlines():
        number, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    v1 = {}
    for point, fstype, options in _mounts(mountinfo):
        if fstype == "cgroup2":
            controllers = pathlib.Path(point) / "cgroup.controllers"
            try:
                offered = controllers.read_text().split()
            except OSError:
                continue
            if {"memory", "pids"} <= set(offered):
                return Layout(2, pathlib.Path(point), pathlib.Path(point))
        elif fstype == "cgroup":
            for name in ("memory", "pids"):
                if name in options.split(",") and name in own:
                    v1[name] = pathlib.Path(point) / own[name].lstrip("/")
    if {"memory", "pids"} <= set(v1):
        return Layout(1, v1["memory"], v1["pids"])
    return None


_finding = threading.Lock()


def find() -> tuple:
    """(Layout, None) where a cgroup can be made and bounded here, else (None, why not). Decided once per
    process, so that every sandbox of a batch takes the same branch (the grader's threads ask at once)."""
    with _finding:
        return _find()


@functools.lru_cache(maxsize=1)
def _find():
    if os.geteuid() != 0:
        return None, "not root"
    try:
        found = layout(pathlib.Path(MOUNTINFO).read_text(), pathlib.Path(SELF_CGROUP).read_text())
    except OSError as error:
        return None, f"cannot read the cgroup mounts: {error}"
    if found is None:
        return None, "no cgroup hierarchy with the memory and pids controllers"
    try:
        test = Cgroup.create(found, f"unet-probe-{os.getpid()}-{threading.get_ident()}", 2**30, 8)
    except OSError as error:
        return None, f"cannot make a cgroup v{found.version} ({error})"
    test.close()
    return found, None


class Cgroup:
    """One sandbox's cgroup (a folder per hierarchy). Enter it with ``procs_files()``; ``close()`` kills every
    process in it and removes it."""

    def __init__(self, layout_, folders):
        self.layout = layout_
        self.folders = folders

    @classmethod
    def create(cls, layout_: Layout, name: str, memory_bytes: int, tasks: int) -> Cgroup:
        folders = list(dict.fromkeys([layout_.memory / name, layout_.pids / name]))
        made = []
        try:
            if layout_.version == 2:
                _enable_controllers(layout_.memory)
            for folder in folders:
                folder.mkdir()
                made.append(folder)
            for file, value in limit_files(layout_.version, memory_bytes, tasks).items():
                target = next((folder / file for folder in folders if (folder / file).exists()), None)
                if target is None:
                    if file in OPTIONAL:
                        continue
                    raise OSError(f"{file} missing in {', '.join(map(str, folders))}")
                target.write_text(value)
        except OSError:
            for folder in made:
                _remove(folder)
            raise
        return cls(layout_, folders)

    def procs_files(self) -> list[str]:
        """The cgroup.procs files a process writes its pid into to enter this cgroup (one per hierarchy)."""
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def pids(self) -> set[int]:
        found = set()
        for folder in self.folders:
            try:
                found |= {int(pid) for pid in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def peak_memory(self) -> int | None:
        """The most memory the cgroup used, in bytes (None where the kernel does not say)."""
        for file in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((self.folders[0] / file).read_text())
            except (OSError, ValueError):
                continue
        return None

    def kill(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process in the cgroup (those forked meanwhile too); True when none is left."""
        kill_file = self.folders[0] / "cgroup.kill"
        if self.layout.version == 2 and kill_file.exists():
            kill_file.write_text("1")
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        """End every process in the cgroup and remove it. Raises OSError if a process outlived SIGKILL."""
        gone = self.kill()
        for folder in self.folders:
            _remove(folder)
        if not gone:
            raise OSError(f"processes {sorted(self.pids())} survived SIGKILL in {self.folders[0]}")


def _enable_controllers(root):
    wanted = {"memory", "pids"} - set((root / "cgroup.subtree_control").read_text().split())
    if wanted:
        (root / "cgroup.subtree_control").write_text(" ".join(f"+{name}" for name in sorted(wanted)))


def _remove(folder):
    """rmdir a cgroup; its members may take a moment to leave after SIGKILL."""
    for _ in range(200):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    folder.rmdir()
