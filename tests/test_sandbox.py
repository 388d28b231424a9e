"""The sandbox a submission's kernel runs in: no network, no view of the course, bounded resources."""
import itertools
import os
import socket
import threading

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.sandbox import KERNEL_NAME, SANDBOX_UID_BASE, Limits, SandboxKernelManager, probe, write_kernelspec


pytestmark = pytest.mark.usefixtures("sandbox_here")      # skipped, with the reason, where it cannot run


def test_the_sandbox_is_available_here():
    status = probe()
    assert status.available, f"the grader's sandbox cannot run on this machine: {status.reason}"


SLOTS = itertools.count(20)      # a fresh uid per kernel: a kernel still shutting down counts for its own uid


@pytest.fixture
def run_sandboxed(tmp_path, monkeypatch):
    """Run code cells in a sandboxed kernel; returns each cell's text output (or error name)."""
    def run(*sources, readonly=(), limits=Limits()):
        slot = next(SLOTS)
        uid = SANDBOX_UID_BASE + slot
        scratch, runtime = tmp_path / "scratch", tmp_path / "scratch" / "runtime"
        runtime.mkdir(parents=True)
        write_kernelspec(tmp_path / "jupyter", scratch, slot=slot, readonly=readonly, limits=limits)
        os.chown(runtime, uid, uid)
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        manager = SandboxKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(runtime / "kernel"),
                                       connection_file=str(runtime / "kernel.json"), sandbox_uid=uid)
        NotebookClient(notebook, km=manager, timeout=120, allow_errors=True).execute()
        return ["".join(o.get("text", "") or o.get("ename", "") for o in cell.outputs).strip() for cell in notebook.cells]
    return run


def test_kernel_runs_as_its_own_unprivileged_user(run_sandboxed):
    uid, gid = map(int, run_sandboxed("import os; print(os.getuid(), os.getgid())")[0].split())
    assert uid == gid and uid > SANDBOX_UID_BASE


def test_kernel_cannot_read_outside_what_it_is_shown(run_sandboxed, tmp_path):
    secret = tmp_path / "hidden_tests.py"
    secret.write_text("answers")
    shown = tmp_path / "shown.txt"
    shown.write_text("data")
    out = run_sandboxed(f"print(open({str(shown)!r}).read())",
                        f"import os, sys; print(os.path.exists({str(secret)!r}), os.listdir(os.path.dirname(sys.prefix)))",
                        readonly=[shown])
    assert out[0] == "data"
    assert out[1] == f"False ['{os.path.basename(os.path.realpath(os.sys.prefix))}']", \
        "only the Python environment may be visible beside it, not the repository"


def test_kernel_writes_only_its_scratch_folder(run_sandboxed, tmp_path):
    out = run_sandboxed(
        "open('notes.txt', 'w').write('ok'); print('scratch ok')",
        f"open({str(tmp_path / 'outside.txt')!r}, 'w')",
        "import sys; open(sys.prefix + '/planted.py', 'w')")
    assert out[0] == "scratch ok" and out[1] in ("PermissionError", "FileNotFoundError") and out[2] == "OSError"
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
    out = run_sandboxed(f"import socket; s = socket.socket(); s.settimeout(2); print(s.connect_ex(('127.0.0.1', {port})))",
                        "import urllib.request\ntry:\n    urllib.request.urlopen('http://example.org', timeout=3)\nexcept OSError as e:\n    print('no network')")
    watcher.join()
    listener.close()
    assert accepted == [], "the canary on the host's loopback received a connection from the sandbox"
    assert out[0] != "0" and out[1] == "no network"


def test_memory_and_processes_are_bounded(run_sandboxed):
    out = run_sandboxed(
        "try:\n    bomb = bytearray(20 * 2**30)\n    print('allocated 20 GiB')\nexcept MemoryError:\n    print('MemoryError')",
        "import os\nchildren = 0\ntry:\n    for _ in range(500):\n        pid = os.fork()\n        if pid == 0:\n            import time; time.sleep(3); os._exit(0)\n        children += 1\nexcept OSError:\n    pass\nprint(children < 100)",
        limits=Limits(memory_bytes=4 * 2**30, processes=32))
    assert out == ["MemoryError", "True"]
