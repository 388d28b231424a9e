"""A sandboxed kernel's limits and how they are said: the ceilings (``Limits``), whether the sandbox runs here
(``Status``), the limits that hold in words (``describe``) and the cgroup branch they are enforced in, if any
(``cgroup_layout``). ``kernel.py`` enforces them.
"""

from __future__ import annotations

import dataclasses

from autograder.sandbox import cgroup


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource ceilings for one sandboxed kernel."""

    memory_bytes: int = 4 * 2**30  # RLIMIT_DATA of each process (CPU modes); with a cgroup, all of them (+ disk)
    processes: int = 64  # RLIMIT_NPROC for the sandbox's own uid; with a cgroup, pids.max
    file_bytes: int = 2 * 2**30  # RLIMIT_FSIZE: the largest file it may write
    disk_bytes: int = 2 * 2**30  # the scratch folder's size: everything the kernel can write
    inodes: int = 100_000  # files and folders the scratch folder may hold
    use_cgroup: bool = True  # False: rlimits only, even where a cgroup could be made

    def cgroup_memory_bytes(self):
        """The cgroup's memory limit: the processes' memory and the scratch's files, which are memory."""
        return self.memory_bytes + self.disk_bytes


@dataclasses.dataclass(frozen=True)
class Status:
    """Whether the sandbox can run here, and if not, why (said loudly by the grader); else what holds."""

    available: bool
    reason: str


def gib(size: float) -> str:
    return f"{size / 2**30:g} GiB"


def describe(limits: Limits, layout, gpu: bool = False, no_cgroup: str = "") -> str:
    """The limits that hold, in words, for the grader's start-up line and every row's status (`no_cgroup`:
    why there is no cgroup, when `layout` is None)."""
    disk = f"disk {gib(limits.disk_bytes)}, {limits.inodes} files (tmpfs)"
    data = "no data limit (GPU)" if gpu else f"{gib(limits.memory_bytes)} data"
    rlimits = f"{data}, {limits.processes} processes, {gib(limits.file_bytes)} files"
    if layout is None:
        return f"sandbox: rlimits only{f' ({no_cgroup})' if no_cgroup else ''}: {rlimits}; {disk}"
    return (
        f"sandbox: cgroup v{layout.version} memory {gib(limits.cgroup_memory_bytes())}, {limits.processes} tasks; "
        f"{disk}; rlimits {rlimits}"
    )


def cgroup_layout(limits: Limits) -> tuple:
    """(cgroup.Layout or None, why not): the cgroup branch where `limits` wants it and the machine allows it."""
    if not limits.use_cgroup:
        return None, "cgroups not wanted (Limits.use_cgroup)"
    return cgroup.find()
