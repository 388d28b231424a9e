"""Run a submission's Jupyter kernel in a sandbox: Linux namespaces (bubblewrap), a separate unprivileged
user, a size-limited scratch folder, a cgroup where the machine allows one, and rlimits. No Docker needed.

While the kernel runs, student code
- sees only the system's programs and libraries (read-only), the Python environment (read-only), the data
  folder (read-only), in full mode the GPU's device nodes and driver libraries, and its own scratch folder
  (read-write): not the repository, the source notebook, the hidden tests, the gradebook or other students'
  work;
- has no network (a fresh network namespace with only its own loopback);
- runs as an unprivileged user of its own (one uid per sandbox, so that the process limit counts only its
  own processes), with no capabilities and no way to gain privileges;
- writes at most `Limits.disk_bytes` and `Limits.inodes` files: the scratch folder is a tmpfs of that size,
  mounted by the grader for this sandbox alone (a full disk is ENOSPC, as on a real one) and unmounted
  when it closes, whatever happened;
- has bounded memory and tasks as a whole, page cache and tmpfs included, where a cgroup can be made
  (autograder/sandbox/cgroup.py; its memory limit is `memory_bytes + disk_bytes`, since the scratch's files are
  memory), and in any case bounded memory per process (RLIMIT_DATA, CPU modes only: it would count the GPU
  driver's huge virtual mappings), processes (RLIMIT_NPROC) and file size (RLIMIT_FSIZE);
- cannot outlive its kernel: the sandbox's pid namespace ends with the kernel, and closing the sandbox
  kills whatever is left in its cgroup.

The kernel talks to the grader over Unix sockets in the scratch folder (jupyter_client's "ipc" transport),
the only channel across the sandbox's walls. Requirements: Linux, the `bwrap`, `setpriv` and `prlimit`
programs, and root (to switch to the sandbox user and mount the scratch); `probe()` says what is missing,
and the grader refuses to pretend.
"""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import KernelManager
from traitlets import Integer

from autograder.sandbox import cgroup
from autograder.sandbox.limits import Limits, Status, cgroup_layout, describe, gib

SANDBOX_UID_BASE = 61000  # sandbox n runs as uid 61000 + n: no such user owns any file
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc")
KERNEL_NAME = "unet-sandbox"
GPU_DEVICES = (
    "/dev/nvidiactl",
    "/dev/nvidia[0-9]*",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
    "/dev/nvidia-caps/*",
)
GPU_LIBRARIES = re.compile(r"^lib(cuda|nvidia-[\w-]+|nvcuvid|nvoptix)\.so")  # the driver's, not the toolkit's
ENOSPC_TEXT = ("[Errno 28]", "No space left on device")


def probe(limits: Limits | None = None, gpu: bool = False) -> Status:
    """Check that bubblewrap, setpriv, root and a tmpfs scratch are here and that a sandbox really starts;
    the Status's reason says which limits hold (describe())."""
    limits = limits or Limits()
    if sys.platform != "linux":
        return Status(False, f"sandbox needs Linux namespaces; this is {sys.platform}")
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return Status(False, f"sandbox needs {', '.join(missing)} (Debian: apt-get install bubblewrap util-linux)")
    if os.geteuid() != 0:
        return Status(False, "sandbox needs root to run each kernel as a separate unprivileged user")
    scratch = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"unet-sandbox-probe-{os.getpid()}"
    try:
        box = Sandbox(
            scratch,
            slot=0,
            limits=dataclasses.replace(limits, disk_bytes=2**20, inodes=64),
            name=f"unet-probe-{os.getpid()}",
        )
    except OSError as error:
        return Status(False, f"cannot set up a sandbox's scratch folder or cgroup: {error}")
    try:
        result = subprocess.run(
            box.command([sys.executable, "-c", "import os; print(os.getuid())"]),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        box.close()
    if result.returncode != 0 or result.stdout.strip() != str(SANDBOX_UID_BASE):
        return Status(False, f"bubblewrap failed to start a sandbox: {result.stderr.strip()[-300:]}")
    layout, no_cgroup = cgroup_layout(limits)
    return Status(True, describe(limits, layout, gpu=gpu, no_cgroup=no_cgroup))


# ---- the scratch folder: a tmpfs of its own ------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2


RUNTIME = "runtime"  # in the scratch: the kernel's connection file and Unix sockets (jupyter_client's "ipc")
SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path: sun_path's 108 less its closing NUL
LONGEST_SOCKET = f"/{RUNTIME}/kernel-65535"  # jupyter_client names them after the prefix "kernel": -1, -2, ...


def scratch_folder(preferred: pathlib.Path) -> pathlib.Path:
    """Where a sandbox's scratch is mounted: `preferred`, unless the kernel's sockets there would have a longer path
    than a Unix socket can (a long TMPDIR: "File name too long"); then a new folder under /tmp. The scratch is a
    tmpfs of its own, so where its mount point lies costs no disk, and ``unmount_scratch`` removes it either way."""
    if len(os.fsencode(os.path.realpath(preferred)) + LONGEST_SOCKET.encode()) <= SOCKET_PATH_MAX:
        return pathlib.Path(preferred)
    return pathlib.Path(tempfile.mkdtemp(prefix="unet-kernel-", dir="/tmp"))


def mount_scratch(path: pathlib.Path, limits: Limits, uid: int) -> None:
    """Mount a tmpfs of `limits.disk_bytes` and `limits.inodes` at `path` (made if missing), owned by `uid`."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={limits.disk_bytes},nr_inodes={limits.inodes},mode=0700,uid={uid},gid={uid}"
    if _libc.mount(b"unet-scratch", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot mount a tmpfs ({options}) at {path}: {os.strerror(error)}")


def unmount_scratch(path: pathlib.Path) -> None:
    """Unmount the scratch's tmpfs (lazily if something still holds it: its memory is freed when that goes)
    and remove the empty mount point. Nothing inside is ever read or followed (no symbolic link is)."""
    path = str(path)
    if os.path.ismount(path) and _libc.umount2(path.encode(), 0) != 0:
        if _libc.umount2(path.encode(), MNT_DETACH) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"cannot unmount {path}: {os.strerror(error)}")
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def scratch_usage(path: pathlib.Path) -> tuple[int, int, int, int]:
    """(bytes used, bytes in all, files used, files in all) of the scratch's file system."""
    stat = os.statvfs(path)
    return (
        (stat.f_blocks - stat.f_bfree) * stat.f_frsize,
        stat.f_blocks * stat.f_frsize,
        stat.f_files - stat.f_ffree,
        stat.f_files,
    )


def quota_full(path: pathlib.Path, slack: int = 2**20) -> bool:
    """Whether the scratch at `path` is full now (less than `slack` bytes, or no file, left)."""
    used, size, files, inodes = scratch_usage(path)
    return size - used < slack or files >= inodes


def is_out_of_space(output: dict) -> bool:
    """Whether a cell's output says a write failed on a full disk (ENOSPC: OSError errno 28, or its text)."""
    text = " ".join([str(output.get("evalue", "")), str(output.get("text", ""))])
    return any(marker in text for marker in ENOSPC_TEXT)


def disk_note(job_sandbox: dict, cells: list[str]) -> str:
    """ "; disk quota (SIZE) reached in CELL" when the kernel's scratch is full or `cells` (their names, in
    order) report ENOSPC; else "". `job_sandbox` is the job's "sandbox" entry (Sandbox.job_entry())."""
    try:
        full = quota_full(job_sandbox["scratch"])
    except OSError:  # already gone: judge by the cells alone
        full = False
    if not (full or cells):
        return ""
    where = f" in {cells[0]}" if cells else ""
    return f"; disk quota ({gib(job_sandbox['disk_bytes'])}, {job_sandbox['inodes']} files) reached{where}"


# ---- the GPU: device nodes and the driver's libraries -----------------------------------------------------


def gpu_devices(patterns: tuple = GPU_DEVICES, dri: str = "/dev/dri/*", drm_class: str = "/sys/class/drm") -> list[str]:
    """The NVIDIA device nodes present here, and the /dev/dri nodes whose driver is NVIDIA's."""
    found = sorted({path for pattern in patterns for path in glob.glob(pattern)})
    for node in sorted(glob.glob(dri)):
        driver = pathlib.Path(drm_class) / os.path.basename(node) / "device" / "driver"
        if "nvidia" in os.path.basename(os.path.realpath(driver)):
            found.append(node)
    return found


def gpu_libraries(ldconfig_output: str | None = None) -> list[str]:
    """The NVIDIA driver's user-space libraries (libcuda, libnvidia-*) as the dynamic linker finds them:
    each path and the file it links to."""
    if ldconfig_output is None:
        try:
            ldconfig_output = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        except OSError:
            return []
    paths = set()
    for line in ldconfig_output.splitlines():
        name, _, path = line.strip().partition(" => ")
        if GPU_LIBRARIES.match(name) and path:
            paths |= {path, os.path.realpath(path)}
    return sorted(paths)


def gpu_mounts(devices: list[str], libraries: list[str], shown: tuple = SYSTEM_PATHS) -> list[str]:
    """The bwrap arguments that show the kernel the GPU: each device node (read-write, as a device must be)
    and each driver library outside the folders already shown read-only (read-only); nothing else."""
    arguments = []
    for device in devices:
        arguments += _parents(device, under="/dev") + ["--dev-bind", device, device]
    for library in libraries:
        if not any(library == root or library.startswith(root + "/") for root in shown):
            arguments += _parents(library) + ["--ro-bind", library, library]
    return arguments


# ---- the command -------------------------------------------------------------------------------------

# Enter the cgroup (the grader's root shell writes its own pid into each cgroup.procs, then becomes bwrap):
# everything the sandbox starts is born inside it.
ENTER_CGROUP = (
    'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; '
    'while [ "$1" != -- ]; do shift; done; shift; exec "$@"'
)


def python_paths() -> list[tuple[str, str]]:
    """The read-only folders Python needs, as (source, path inside): the interpreter's installation and the
    active environment, each at its real path and at the path it is used by (it may be a symbolic link)."""
    prefixes = {sys.base_prefix, sys.prefix}
    return sorted({(os.path.realpath(p), path) for p in prefixes for path in (os.path.abspath(p), os.path.realpath(p))})


def wrap(
    argv: list[str],
    scratch: pathlib.Path,
    slot: int,
    readonly=(),
    limits: Limits = Limits(),
    env: dict | None = None,
    gpu=None,
    cgroup_procs=(),
) -> list[str]:
    """The command that runs `argv` inside a sandbox whose only writable folder is `scratch`.

    Args:
        argv: the program and its arguments (absolute paths inside the mounted folders).
        scratch: folder the sandbox may write (Sandbox mounts a tmpfs there); chowned to the sandbox's user.
        slot: number of this sandbox among those running at once (selects its uid).
        readonly: extra folders or files to show read-only (e.g. the data folder).
        limits: resource ceilings.
        env: the only environment variables the program gets (PATH and HOME are set for it).
        gpu: None, or the bwrap arguments of gpu_mounts(); then no RLIMIT_DATA (it would break CUDA).
        cgroup_procs: the cgroup.procs files to enter before the sandbox starts (Cgroup.procs_files()).
    """
    scratch = os.path.realpath(scratch)
    uid = SANDBOX_UID_BASE + slot
    os.chown(scratch, uid, uid)
    shown = [path for path in SYSTEM_PATHS if os.path.exists(path)]
    mounts = []
    shown_readonly = [*python_paths(), *((os.path.realpath(p), os.path.realpath(p)) for p in readonly)]
    for source, path in shown_readonly:
        mounts += _parents(path) + ["--ro-bind", source, path]
    mounts += _parents(scratch) + ["--bind", scratch, scratch]
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": scratch, **(env or {})}
    rlimits = [f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}"]
    if gpu is None:
        rlimits.insert(0, f"--data={limits.memory_bytes}")
    enter = ["/bin/sh", "-c", ENTER_CGROUP, "enter-cgroup", *cgroup_procs, "--"] if cgroup_procs else []
    return [
        *enter,
        "bwrap",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        *[arg for path in shown for arg in ("--ro-bind", path, path)],
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",  # before the binds, which may lie under /tmp
        *(gpu or []),
        *mounts,
        "--chdir",
        scratch,
        "--clearenv",
        *[arg for name, value in environment.items() for arg in ("--setenv", name, str(value))],
        "--",
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "prlimit",
        *rlimits,
        "--",
        *argv,
    ]


def _parents(path, under=""):
    """bwrap creates missing parent folders mode 0700; create them 0755 so the sandbox user can pass."""
    parents = [str(parent) for parent in list(pathlib.PurePosixPath(path).parents)[::-1][1:]]
    return [arg for parent in parents if len(parent) > len(under) for arg in ("--perms", "0755", "--dir", parent)]


class Sandbox:
    """One kernel's sandbox on the grader's side: its scratch tmpfs and (where it works) its cgroup, made
    now; `command()` runs a program in it; `close()` kills whatever is left and removes both.

    Args:
        scratch: the scratch folder (a tmpfs is mounted there).
        slot: this sandbox's number among those running at once (its uid is SANDBOX_UID_BASE + slot).
        limits: resource ceilings (cgroup or rlimits only: chosen here, see `layout`).
        readonly, env: as for wrap().
        gpu: show the GPU (full mode): its device nodes and driver libraries, and no RLIMIT_DATA.
        name: the cgroup's name (unique on this machine while it runs).
    """

    def __init__(self, scratch, slot, limits=Limits(), readonly=(), env=None, gpu=False, name=None):
        self.scratch = pathlib.Path(os.path.realpath(scratch))
        self.slot, self.limits, self.readonly, self.env = slot, limits, list(readonly), env
        self.uid = SANDBOX_UID_BASE + slot
        self.gpu = gpu_mounts(gpu_devices(), gpu_libraries()) if gpu else None
        self.layout, self.no_cgroup = cgroup_layout(limits)
        self.cgroup = None
        try:
            mount_scratch(self.scratch, limits, self.uid)
        except OSError:
            try:
                self.scratch.rmdir()  # the empty mount point (scratch_folder may have made it under /tmp)
            except OSError:
                pass
            raise
        try:  # where cgroups work, a failure here is an error, not a fallback
            if self.layout is not None:
                self.cgroup = cgroup.Cgroup.create(
                    self.layout,
                    name or f"unet-sandbox-{os.getpid()}-{slot}",
                    limits.cgroup_memory_bytes(),
                    limits.processes,
                )
        except OSError:
            unmount_scratch(self.scratch)
            raise

    @property
    def description(self) -> str:
        return describe(self.limits, self.layout, gpu=self.gpu is not None, no_cgroup=self.no_cgroup)

    def command(self, argv: list[str]) -> list[str]:
        return wrap(
            argv,
            self.scratch,
            self.slot,
            self.readonly,
            self.limits,
            self.env,
            gpu=self.gpu,
            cgroup_procs=self.cgroup.procs_files() if self.cgroup else (),
        )

    def write_kernelspec(self, folder: pathlib.Path) -> pathlib.Path:
        """A Jupyter kernelspec `unet-sandbox` in `folder`/kernels whose kernel starts inside the sandbox.

        Put `folder` first on JUPYTER_PATH and use the "ipc" transport with sockets under the scratch.
        """
        argv = self.command([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
        spec_dir = pathlib.Path(folder) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": argv,
            "display_name": "Python 3 (sandboxed)",
            "language": "python",
            "interrupt_mode": "message",
        }  # a signal cannot reach into the sandbox's own session
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        return spec_dir

    def job_entry(self) -> dict:
        """What the grading worker needs to know of this sandbox (json)."""
        return {
            "uid": self.uid,
            "kernel_name": KERNEL_NAME,
            "scratch": str(self.scratch),
            "runtime": str(self.scratch / RUNTIME),  # the kernel's sockets and connection file
            "disk_bytes": self.limits.disk_bytes,
            "inodes": self.limits.inodes,
            "limits": self.description,
        }

    def close(self) -> None:
        """Kill every process left in the sandbox's cgroup, unmount the scratch (its files go with it) and
        remove the cgroup; each step runs whatever happened before. Raises the first failure."""
        errors = []
        for step in (
            self.cgroup.kill if self.cgroup else None,
            lambda: unmount_scratch(self.scratch),
            self.cgroup.close if self.cgroup else None,
        ):
            try:
                if step:
                    step()
            except OSError as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SandboxKernelManager(KernelManager):
    """A KernelManager whose connection file the sandbox's user may read (jupyter_client writes it 0600).

    Configure with `sandbox_uid` and the "ipc" transport, e.g. in an nbgrader config:
    c.Execute.kernel_manager_class = "autograder.sandbox.kernel.SandboxKernelManager"
    """

    sandbox_uid = Integer(-1, help="uid of the sandbox's user; -1 leaves the file alone").tag(config=True)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.sandbox_uid >= 0:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
