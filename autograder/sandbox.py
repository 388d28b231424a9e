"""Run a submission's Jupyter kernel in a sandbox: Linux namespaces (bubblewrap), a separate unprivileged
user and rlimits. No Docker needed.

While the kernel runs, student code
- sees only the system's programs and libraries (read-only), the Python environment (read-only), the data
  folder (read-only) and its own scratch folder (read-write): not the repository, the source notebook, the
  hidden tests, the gradebook or other students' work;
- has no network (a fresh network namespace with only its own loopback);
- runs as an unprivileged user of its own (one uid per sandbox, so that the process limit counts only its
  own processes), with no capabilities and no way to gain privileges;
- has bounded memory (RLIMIT_DATA), processes (RLIMIT_NPROC) and file size (RLIMIT_FSIZE).

The kernel talks to the grader over Unix sockets in the scratch folder (jupyter_client's "ipc" transport),
the only channel across the sandbox's walls. Requirements: Linux, the `bwrap` and `setpriv` programs, and
root (to switch to the sandbox user); `probe()` says what is missing, and the grader refuses to pretend.
"""
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

from jupyter_client.manager import KernelManager
from traitlets import Integer

SANDBOX_UID_BASE = 61000                 # sandbox n runs as uid 61000 + n: no such user owns any file
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc")
KERNEL_NAME = "unet-sandbox"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource ceilings for one sandboxed kernel."""

    memory_bytes: int = 4 * 2**30        # RLIMIT_DATA: heap and anonymous mappings (quick mode runs within it)
    processes: int = 64                  # RLIMIT_NPROC for the sandbox's own uid
    file_bytes: int = 2 * 2**30          # RLIMIT_FSIZE: the largest file it may write


@dataclasses.dataclass(frozen=True)
class Status:
    """Whether the sandbox can run here, and if not, why (said loudly by the grader)."""

    available: bool
    reason: str


def probe():
    """Check that bubblewrap, setpriv and root are here and that a sandbox really starts."""
    if sys.platform != "linux":
        return Status(False, f"sandbox needs Linux namespaces; this is {sys.platform}")
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return Status(False, f"sandbox needs {', '.join(missing)} (Debian: apt-get install bubblewrap util-linux)")
    if os.geteuid() != 0:
        return Status(False, "sandbox needs root to run each kernel as a separate unprivileged user")
    scratch = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"unet-sandbox-probe-{os.getpid()}"
    scratch.mkdir(exist_ok=True)
    try:
        command = wrap([sys.executable, "-c", "import os; print(os.getuid())"], scratch, slot=0)
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0 or result.stdout.strip() != str(SANDBOX_UID_BASE):
        return Status(False, f"bubblewrap failed to start a sandbox: {result.stderr.strip()[-300:]}")
    return Status(True, "bubblewrap namespaces, separate uid, rlimits")


def python_paths():
    """The read-only folders Python needs, as (source, path inside): the interpreter's installation and the
    active environment, each at its real path and at the path it is used by (it may be a symbolic link)."""
    prefixes = {sys.base_prefix, sys.prefix}
    return sorted({(os.path.realpath(p), path) for p in prefixes for path in (os.path.abspath(p), os.path.realpath(p))})


def wrap(argv, scratch, slot, readonly=(), limits=Limits(), env=None):
    """The command that runs `argv` inside a sandbox whose only writable folder is `scratch`.

    Args:
        argv: the program and its arguments (absolute paths inside the mounted folders).
        scratch: folder the sandbox may write; it is chowned to the sandbox's user.
        slot: number of this sandbox among those running at once (selects its uid).
        readonly: extra folders or files to show read-only (e.g. the data folder).
        limits: resource ceilings.
        env: the only environment variables the program gets (PATH and HOME are set for it).
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
    return [
        "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        *[arg for path in shown for arg in ("--ro-bind", path, path)],
        "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",   # before the binds, which may lie under /tmp
        *mounts,
        "--chdir", scratch, "--clearenv",
        *[arg for name, value in environment.items() for arg in ("--setenv", name, str(value))],
        "--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
        "--bounding-set=-all", "--no-new-privs",
        "prlimit", f"--data={limits.memory_bytes}", f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}",
        "--", *argv,
    ]


def _parents(path):
    """bwrap creates missing parent folders mode 0700; create them 0755 so the sandbox user can pass."""
    parents = list(pathlib.PurePosixPath(path).parents)[::-1][1:]
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", str(parent))]


def write_kernelspec(folder, scratch, slot, readonly=(), limits=Limits(), env=None):
    """A Jupyter kernelspec `unet-sandbox` in `folder`/kernels whose kernel starts inside the sandbox.

    Put `folder` first on JUPYTER_PATH and use the "ipc" transport with sockets under `scratch`.
    """
    argv = wrap([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                scratch, slot, readonly, limits, env)
    spec_dir = pathlib.Path(folder) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "display_name": "Python 3 (sandboxed)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


class SandboxKernelManager(KernelManager):
    """A KernelManager whose connection file the sandbox's user may read (jupyter_client writes it 0600).

    Configure with `sandbox_uid` and the "ipc" transport, e.g. in an nbgrader config:
    c.Execute.kernel_manager_class = "autograder.sandbox.SandboxKernelManager"
    """

    sandbox_uid = Integer(-1, help="uid of the sandbox's user; -1 leaves the file alone").tag(config=True)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.sandbox_uid >= 0:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
