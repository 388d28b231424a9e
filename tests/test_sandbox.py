"""The sandbox a submission's kernel runs in: no network, no view of the course, bounded resources.

Tests that start sandboxes need Linux, root and bubblewrap (the `sandbox` fixture of conftest.py skips them,
saying why, where those are missing); the mount plan of full mode and the cgroup layouts are checked on any machine.
"""

import dataclasses
import itertools
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.sandbox import cgroup
from autograder.sandbox.kernel import (
    KERNEL_NAME,
    SANDBOX_UID_BASE,
    Limits,
    Sandbox,
    SandboxKernelManager,
    describe,
    disk_note,
    gpu_devices,
    gpu_libraries,
    gpu_mounts,
    is_out_of_space,
    scratch_folder,
    wrap,
)
from tests.catalogue import processes_named

SLOTS = itertools.count(20)  # a fresh uid per kernel: a kernel still shutting down counts for its own uid
SMALL_DISK = Limits(disk_bytes=64 * 2**20, inodes=2000)


@pytest.fixture(scope="session")
def cgroup_layout():
    layout, why_not = cgroup.find()
    return layout, why_not


@pytest.fixture
def with_cgroup(sandbox, cgroup_layout):
    if cgroup_layout[0] is None:
        pytest.skip(f"no cgroup can be made here ({cgroup_layout[1]}): the sandbox runs on rlimits only")
    return cgroup_layout[0]


def test_the_sandbox_is_available_here(sandbox_status):
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the grader's sandbox needs Linux and root")
    assert sandbox_status.available, f"the grader's sandbox cannot run on this machine: {sandbox_status.reason}"
    assert sandbox_status.reason.startswith("sandbox: ") and "disk 2 GiB" in sandbox_status.reason


@pytest.fixture
def run_sandboxed(sandbox, tmp_path, monkeypatch):
    """Run code cells in a sandboxed kernel; returns each cell's text output (or error name)."""

    def run(*sources, readonly=(), limits=Limits(), keep=None, scratch=None):
        slot = next(SLOTS)
        box = Sandbox(
            scratch or tmp_path / "scratch",
            slot=slot,
            limits=limits,
            readonly=readonly,
            name=f"unet-test-{os.getpid()}-{slot}",
        )
        try:
            runtime = box.scratch / "runtime"
            runtime.mkdir()
            os.chown(runtime, box.uid, box.uid)
            box.write_kernelspec(tmp_path / "jupyter")
            monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
            manager = SandboxKernelManager(
                kernel_name=KERNEL_NAME,
                transport="ipc",
                ip=str(runtime / "kernel"),
                connection_file=str(runtime / "kernel.json"),
                sandbox_uid=box.uid,
            )
            NotebookClient(notebook, km=manager, timeout=120, allow_errors=True).execute()
            if keep is not None:
                keep.update(box=box, notebook=notebook)
        finally:
            box.close()
        return [
            "".join(o.get("text", "") or o.get("ename", "") for o in cell.outputs).strip() for cell in notebook.cells
        ]

    return run


def test_the_scratch_moves_to_tmp_only_where_its_socket_paths_would_be_too_long(tmp_path):
    short = tmp_path / "kernel"
    assert scratch_folder(short) == short and not short.exists(), "a short path is used as it is, made by the sandbox"
    long = tmp_path / ("x" * 80) / "kernel"
    moved = scratch_folder(long)
    try:
        assert moved.parent == pathlib.Path("/tmp") and moved.name.startswith("unet-kernel-") and moved.is_dir()
        assert len(os.fsencode(moved / "runtime" / "kernel-65535")) <= 107
    finally:
        moved.rmdir()


def test_a_kernel_under_a_long_tmpdir_gets_its_sockets(run_sandboxed, tmp_path):
    """Under a TMPDIR of 80 characters and more the kernel's sockets would have a path longer than a Unix socket's
    (jupyter_client: "ZMQError: File name too long", and every submission a grading error); its scratch moves to
    /tmp, and the kernel runs there, then goes with it."""
    long = tmp_path / ("x" * 80)
    long.mkdir()
    scratch = scratch_folder(long / "kernel")
    assert run_sandboxed("print(1 + 1)", scratch=scratch) == ["2"]
    assert not scratch.exists(), "the scratch's mount point goes with the sandbox"


def run_command(code, limits=Limits(), tmp_path=None, slot=None):
    """Run `python -c code` in a fresh sandbox (closed afterwards): (CompletedProcess, its description)."""
    slot = next(SLOTS) if slot is None else slot
    with Sandbox(tmp_path / f"scratch-{slot}", slot=slot, limits=limits, name=f"unet-test-{os.getpid()}-{slot}") as box:
        result = subprocess.run(box.command([sys.executable, "-c", code]), capture_output=True, text=True, timeout=120)
        return result, box.description


def test_kernel_runs_as_its_own_unprivileged_user(run_sandboxed):
    uid, gid = map(int, run_sandboxed("import os; print(os.getuid(), os.getgid())")[0].split())
    assert uid == gid and uid > SANDBOX_UID_BASE


def test_kernel_cannot_read_outside_what_it_is_shown(run_sandboxed, tmp_path):
    secret = tmp_path / "hidden_tests.py"
    secret.write_text("answers")
    shown = tmp_path / "shown.txt"
    shown.write_text("data")
    out = run_sandboxed(
        f"print(open({str(shown)!r}).read())",
        f"import os, sys; print(os.path.exists({str(secret)!r}), os.listdir(os.path.dirname(sys.prefix)))",
        readonly=[shown],
    )
    assert out[0] == "data"
    assert out[1] == f"False ['{os.path.basename(os.path.realpath(os.sys.prefix))}']", (
        "only the Python environment may be visible beside it, not the repository"
    )


def test_kernel_writes_only_its_scratch_folder(run_sandboxed, tmp_path):
    out = run_sandboxed(
        "open('notes.txt', 'w').write('ok'); print('scratch ok')",
        f"open({str(tmp_path / 'outside.txt')!r}, 'w')",
        "import sys; open(sys.prefix + '/planted.py', 'w')",
        "for folder in ('/tmp', '/dev/shm', '/dev'):\n    try:\n        open(folder + '/x', 'w')\n        print(folder)\n"
        "    except OSError:\n        pass",
    )
    assert out[0] == "scratch ok" and out[1] in ("PermissionError", "FileNotFoundError") and out[2] == "OSError"
    assert out[3] == "", f"the scratch folder is the only place the kernel may write: {out[3]} is writable"
    assert not (tmp_path / "outside.txt").exists()


def test_network_canary_receives_nothing(run_sandboxed):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    accepted = []

    def watch():
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    out = run_sandboxed(
        f"import socket; s = socket.socket(); s.settimeout(2); print(s.connect_ex(('127.0.0.1', {port})))",
        "import urllib.request\ntry:\n    urllib.request.urlopen('http://example.org', timeout=3)\nexcept OSError as e:\n    print('no network')",
    )
    watcher.join()
    listener.close()
    assert accepted == [], "the canary on the host's loopback received a connection from the sandbox"
    assert out[0] != "0" and out[1] == "no network"


def test_memory_and_processes_are_bounded(run_sandboxed):
    out = run_sandboxed(
        "try:\n    bomb = bytearray(20 * 2**30)\n    print('allocated 20 GiB')\nexcept MemoryError:\n    print('MemoryError')",
        "import os\nchildren = 0\ntry:\n    for _ in range(500):\n        pid = os.fork()\n        if pid == 0:\n            import time; time.sleep(3); os._exit(0)\n        children += 1\nexcept OSError:\n    pass\nprint(children < 100)",
        limits=Limits(memory_bytes=4 * 2**30, processes=32),
    )
    assert out == ["MemoryError", "True"]


# ---- the disk quota ------------------------------------------------------------------------------------

FILL = """
written = 0
try:
    for number in range(8):                      # files of a quarter of the quota each, past the quota
        with open(f"fill-{number}", "wb") as handle:
            for _ in range(16):
                handle.write(bytes(2**20))
                written += 2**20
finally:
    print(f"wrote {written // 2**20} MiB")
"""


def test_writes_past_the_disk_quota_fail_as_on_a_full_disk(run_sandboxed, tmp_path):
    seen = {}
    out = run_sandboxed(FILL, "print('still running')", limits=SMALL_DISK, keep=seen)
    error = seen["notebook"].cells[0].outputs[-1]
    assert error["ename"] == "OSError" and "[Errno 28]" in error["evalue"], "a full quota must be ENOSPC"
    assert out[0].startswith("wrote") and int(out[0].split()[1]) <= 64, out[0]
    assert out[1].startswith("still running"), "a full disk must not end the kernel"
    assert is_out_of_space(error) and not is_out_of_space(seen["notebook"].cells[1].outputs[0])
    assert not (tmp_path / "scratch").exists(), "the scratch folder must be removed when its sandbox closes"


def test_a_full_quota_is_reported_by_usage_and_by_the_cell_that_hit_it(sandbox, tmp_path):
    box = Sandbox(tmp_path / "scratch", slot=next(SLOTS), limits=SMALL_DISK)
    try:
        entry = box.job_entry()
        assert disk_note(entry, []) == "", "an empty scratch is not a full one"
        result = subprocess.run(
            box.command(
                [
                    sys.executable,
                    "-c",
                    "try:\n"
                    + "\n".join("    " + line for line in FILL.strip().splitlines())
                    + "\nexcept OSError:\n    pass",
                ]
            ),
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert disk_note(entry, []) == "; disk quota (0.0625 GiB, 2000 files) reached", "found by usage alone"
        assert disk_note(entry, ["student-1"]).endswith("reached in student-1")
    finally:
        box.close()
    assert disk_note(entry, ["cell"]).endswith("reached in cell"), "after the scratch is gone: by the cells alone"
    assert disk_note(entry, []) == ""


def test_a_million_empty_files_stop_at_the_inode_limit(sandbox, tmp_path):
    result, _ = run_command(
        "import os\nmade = 0\ntry:\n    for number in range(10**6):\n        open(f'f{number}', 'w').close()\n"
        "        made += 1\nexcept OSError as error:\n    print(made, error.errno)",
        limits=SMALL_DISK,
        tmp_path=tmp_path,
    )
    made, errno = map(int, result.stdout.split())
    assert errno == 28 and made < SMALL_DISK.inodes, result.stdout


def test_closing_never_follows_a_symbolic_link_planted_in_the_scratch(sandbox, tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text("student,total\n")
    (tmp_path / "feedback").mkdir()
    result, _ = run_command(
        f"import os\nos.symlink({str(grades)!r}, 'grades.csv')\nos.symlink({str(tmp_path / 'feedback')!r}, 'feedback')\n"
        f"os.makedirs('runtime')\nos.symlink({str(tmp_path / 'feedback')!r}, 'runtime/kernel.json')\n"
        "try:\n    open('grades.csv', 'w').write('pwned')\nexcept OSError as error:\n    print(error.errno)",
        tmp_path=tmp_path,
    )
    assert result.stdout.strip() in ("2", "13"), "the link's target is not visible, or not writable, in the sandbox"
    assert grades.read_text() == "student,total\n" and list((tmp_path / "feedback").iterdir()) == []


# ---- memory and tasks: the cgroup, and the rlimits where there is none -----------------------------------

DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["{marker}", "600"])
    os._exit(0)
time.sleep(0.5)
print("daemon started")
"""
SHARED_MAPPING = """
import mmap, os
size = {size}
memory = mmap.mmap(-1, size, mmap.MAP_SHARED)      # shared: RLIMIT_DATA does not count it
for offset in range(0, size, mmap.PAGESIZE):
    memory[offset] = 1
print("mapped and touched", size >> 20, "MiB")
"""


@pytest.mark.parametrize("use_cgroup", [True, False], ids=["cgroup", "rlimits_only"])
def test_no_process_outlives_its_sandbox(sandbox, tmp_path, use_cgroup, cgroup_layout):
    if use_cgroup and cgroup_layout[0] is None:
        pytest.skip(f"no cgroup here: {cgroup_layout[1]}")
    marker = f"unet-test-daemon-{os.getpid()}-{use_cgroup}"
    result, description = run_command(DAEMON.format(marker=marker), Limits(use_cgroup=use_cgroup), tmp_path)
    assert result.stdout.strip() == "daemon started", result.stderr
    assert ("rlimits only" in description) != use_cgroup
    deadline = time.monotonic() + 5
    while processes_named(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_named(marker) == [], "a double-forked, setsid process outlived its sandbox"


def test_the_cgroup_bounds_shared_memory_that_rlimits_miss(with_cgroup, tmp_path):
    limits = Limits(memory_bytes=512 * 2**20, disk_bytes=64 * 2**20)
    code = SHARED_MAPPING.format(size=2 * limits.cgroup_memory_bytes())
    bounded, description = run_command(code, limits, tmp_path)
    assert description.startswith(f"sandbox: cgroup v{with_cgroup.version} memory 0.5625 GiB"), description
    assert bounded.returncode in (-9, 128 + 9) and "mapped" not in bounded.stdout, (
        "the cgroup's OOM killer must stop it"
    )
    # The fallback: RLIMIT_DATA does not count a shared mapping (docs/security.md says so).
    unbounded, description = run_command(code, dataclasses.replace(limits, use_cgroup=False), tmp_path)
    assert description.startswith("sandbox: rlimits only") and unbounded.stdout.startswith("mapped and touched")


def test_the_cgroup_holds_the_sandbox_and_is_removed_with_it(with_cgroup, tmp_path):
    limits = Limits(processes=40)
    with Sandbox(tmp_path / "scratch", slot=next(SLOTS), limits=limits, name=f"unet-test-{os.getpid()}-held") as box:
        folders = list(box.cgroup.folders)
        result = subprocess.run(box.command(["/bin/cat", "/proc/self/cgroup"]), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        values = {
            file: (folder / file).read_text().strip()
            for folder in folders
            for file in cgroup.limit_files(with_cgroup.version, 0, 0)
            if (folder / file).exists()
        }
        assert values[next(f for f in values if f.startswith("pids"))] == "40"
        assert int(values[next(iter(values))]) >= limits.cgroup_memory_bytes() - 4096  # rounded to pages
        assert box.cgroup.peak_memory() > 0, "the sandbox's processes were counted in its cgroup"
    assert not any(folder.exists() for folder in folders), "the cgroup must go with its sandbox"


def test_rlimits_alone_when_the_cgroup_is_unavailable(sandbox, tmp_path):
    with Sandbox(tmp_path / "scratch", slot=next(SLOTS), limits=Limits(use_cgroup=False)) as box:
        command = box.command(["/bin/true"])
        assert box.cgroup is None and command[0] == "bwrap", "no cgroup to enter"
        assert "--data=4294967296" in command and "--nproc=64" in command
        assert box.description.startswith(
            "sandbox: rlimits only (cgroups not wanted (Limits.use_cgroup)): 4 GiB data, 64 processes"
        )


# ---- pieces checked on any machine -------------------------------------------------------------------


def test_cgroup_layouts_are_read_from_the_mount_table(tmp_path):
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("cpu io memory pids\n")
    v2 = f"30 23 0:26 / {unified} rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
    assert cgroup.layout(v2, "0::/user.slice\n") == cgroup.Layout(2, unified, unified)
    (unified / "cgroup.controllers").write_text("cpu io\n")
    assert cgroup.layout(v2, "0::/\n") is None, "a unified hierarchy without memory and pids is no use"
    v1 = (
        f"31 23 0:27 / {tmp_path}/memory rw - cgroup cgroup rw,memory\n"
        f"32 23 0:28 / {tmp_path}/pids rw - cgroup cgroup rw,pids\n"
    )
    found = cgroup.layout(v1, "4:memory:/process_api/abc\n8:pids:/\n0::/\n")
    assert found == cgroup.Layout(1, tmp_path / "memory" / "process_api" / "abc", tmp_path / "pids")
    assert cgroup.layout(v1, "4:memory:/\n0::/\n") is None, "memory without pids is not enough"
    assert list(cgroup.limit_files(2, 5, 7).items()) == [
        ("memory.max", "5"),
        ("memory.swap.max", "0"),
        ("pids.max", "7"),
    ]
    assert list(cgroup.limit_files(1, 5, 7))[:2] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_descriptions_say_which_limits_hold():
    v1 = cgroup.Layout(1, pathlib.Path("/m"), pathlib.Path("/p"))
    assert describe(Limits(), v1) == (
        "sandbox: cgroup v1 memory 6 GiB, 64 tasks; disk 2 GiB, 100000 files (tmpfs); "
        "rlimits 4 GiB data, 64 processes, 2 GiB files"
    ), "memory: 4 GiB + the scratch's 2"
    assert describe(Limits(disk_bytes=2**30), None) == (
        "sandbox: rlimits only: 4 GiB data, 64 processes, 2 GiB files; disk 1 GiB, 100000 files (tmpfs)"
    )
    assert describe(Limits(), None, no_cgroup="not root").startswith("sandbox: rlimits only (not root): 4 GiB")
    assert "no data limit (GPU)" in describe(Limits(), None, gpu=True)


def test_full_mode_mount_plan_shows_the_gpu_and_nothing_more(tmp_path):
    devices = ["/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm", "/dev/nvidia-caps/nvidia-cap1"]
    libraries = [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/opt/nvidia/lib64/libcuda.so.550.54",
        "/opt/nvidia/lib64/libnvidia-ml.so.1",
    ]
    plan = gpu_mounts(devices, libraries)
    binds = [(plan[i], plan[i + 1], plan[i + 2]) for i in range(len(plan)) if plan[i] in ("--dev-bind", "--ro-bind")]
    assert binds == [("--dev-bind", device, device) for device in devices] + [
        ("--ro-bind", library, library) for library in libraries[1:]
    ], "the /usr library is already shown read-only"
    caps = plan.index("/dev/nvidia-caps")
    assert plan[caps - 3 : caps + 1] == ["--perms", "0755", "--dir", "/dev/nvidia-caps"], "its folder is made, 0755"
    assert "/dev" not in [plan[i + 1] for i in range(len(plan)) if plan[i] == "--dir"], "bwrap's own /dev stays"
    command = wrap(["/bin/true"], tmp_path, slot=3, gpu=plan)
    assert not any(arg.startswith("--data=") for arg in command), "RLIMIT_DATA would count CUDA's mappings"
    assert command.index("--dev") < command.index("--dev-bind"), "the devices go into the sandbox's fresh /dev"
    cpu = wrap(["/bin/true"], tmp_path, slot=3)
    assert "--dev-bind" not in cpu and "--data=4294967296" in cpu


def test_gpu_devices_and_driver_libraries_are_found(tmp_path):
    for name in ("nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm", "nvidia-uvm-tools", "null", "nvme0"):
        (tmp_path / name).touch()
    patterns = [
        str(tmp_path / pattern.rsplit("/", 1)[1])
        for pattern in ("/dev/nvidiactl", "/dev/nvidia[0-9]*", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")
    ]
    (tmp_path / "dri").mkdir()
    for node, driver in (("renderD128", "nvidia"), ("renderD129", "i915")):
        (tmp_path / "dri" / node).touch()
        (tmp_path / "drivers" / driver).mkdir(parents=True)
        (tmp_path / "drm" / node / "device").mkdir(parents=True)
        (tmp_path / "drm" / node / "device" / "driver").symlink_to(tmp_path / "drivers" / driver)
    found = gpu_devices(patterns, dri=str(tmp_path / "dri" / "*"), drm_class=str(tmp_path / "drm"))
    assert [pathlib.Path(p).name for p in found] == [
        "nvidia-uvm",
        "nvidia-uvm-tools",
        "nvidia0",
        "nvidia1",
        "nvidiactl",
        "renderD128",
    ], "NVIDIA's nodes only: not another GPU's"
    ldconfig = (
        "3 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibcuda.so.1 (libc6,x86-64) => /opt/driver/libcuda.so.1\n"
        "\tlibnvidia-ml.so.1 (libc6,x86-64) => /opt/driver/libnvidia-ml.so.1\n"
        "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12\n"
        "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
    )
    assert gpu_libraries(ldconfig) == ["/opt/driver/libcuda.so.1", "/opt/driver/libnvidia-ml.so.1"], (
        "the driver's libraries only: the CUDA toolkit's come with PyTorch or /usr"
    )


def test_sandboxes_set_up_at_once_all_get_their_cgroup(with_cgroup, tmp_path):
    """The grader's threads set up sandboxes at the same moment: each must take the cgroup branch."""
    cgroup._find.cache_clear()  # decide afresh, from every thread at once
    boxes, errors = [], []

    def set_up(number):
        try:
            boxes.append(
                Sandbox(
                    tmp_path / f"scratch-{number}",
                    slot=next(SLOTS),
                    limits=SMALL_DISK,
                    name=f"unet-test-{os.getpid()}-at-once-{number}",
                )
            )
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=set_up, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == [] and [box.cgroup is not None for box in boxes] == [True] * 6, [
            box.description for box in boxes
        ]
    finally:
        for box in boxes:
            box.close()


def test_the_cells_that_ran_out_of_space_are_named_in_order():
    from autograder.grading.worker import limits_hit

    outputs = {
        "fine": [nbformat.v4.new_output("stream", name="stdout", text="wrote 1 GiB\n")],
        "raised": [
            nbformat.v4.new_output("error", ename="OSError", evalue="[Errno 28] No space left on device", traceback=[])
        ],
        "caught": [nbformat.v4.new_output("stream", name="stdout", text="torch.save: No space left on device\n")],
        "other": [
            nbformat.v4.new_output("error", ename="OSError", evalue="[Errno 13] Permission denied", traceback=[])
        ],
    }
    cells = []
    for name, outs in outputs.items():
        cell = nbformat.v4.new_code_cell("pass", id=name)
        cell.outputs = outs
        cells.append(cell)
    assert limits_hit(nbformat.v4.new_notebook(cells=cells))["disk_full"] == ["raised", "caught"]


def test_full_mode_sandbox_shows_what_the_mount_plan_lists_and_nothing_beside_it(sandbox, tmp_path):
    """The plan run by bubblewrap, with stand-ins: a file for the device node, a file for the driver library."""
    device, library, secret = tmp_path / "nvidia0", tmp_path / "driver" / "libcuda.so.1", tmp_path / "driver" / "notes"
    library.parent.mkdir()
    for path in (device, library, secret):
        path.write_text(path.name)
    os.chmod(device, 0o666)
    slot = next(SLOTS)
    with Sandbox(tmp_path / "scratch", slot=slot, gpu=True) as box:  # this machine's own GPU list (maybe none)
        assert not any(arg.startswith("--data=") for arg in box.command(["/bin/true"]))
        assert "no data limit (GPU)" in box.description
    (tmp_path / "scratch").mkdir()
    command = wrap(
        [
            sys.executable,
            "-c",
            (
                "import os, sys\n"
                "print(open(sys.argv[1]).read(), open(sys.argv[2]).read(), os.path.exists(sys.argv[3]))\n"
                "open(sys.argv[1], 'w').write('written')\n"
                "try:\n    open(sys.argv[2], 'w')\nexcept OSError as error:\n    print('library read-only', error.errno)"
            ),
            str(device),
            str(library),
            str(secret),
        ],
        tmp_path / "scratch",
        slot=slot,
        gpu=gpu_mounts([str(device)], [str(library)]),
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[:2] == ["nvidia0 libcuda.so.1 False", "library read-only 30"], result.stderr
    assert device.read_text() == "written" and library.read_text() == "libcuda.so.1"
