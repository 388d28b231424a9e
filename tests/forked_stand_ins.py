"""Stand-ins for a grading worker's work, run by tests/test_forked.py in workers forked from the fork server
(``autograder/grading/forked.py``): module-level, so that the fork server can find them by name."""

import json
import os
import pathlib
import sys
import tempfile
import time


def report(job_path: str, parent: int) -> int:
    """Write what the forked worker sees to `job_path`, print a line on each stream, and exit with 3."""
    import torch

    print("a line on stdout")
    print("a line on stderr", file=sys.stderr)
    seen = {
        "env": dict(os.environ),
        "session_leader": os.getsid(0) == os.getpid(),
        "threads": torch.get_num_threads(),
        "tempdir": tempfile.gettempdir(),
        "cwd": os.getcwd(),
        "parent": parent,
        "ppid": os.getppid(),
    }
    pathlib.Path(job_path).write_text(json.dumps(seen))
    return 3


def wait_for_the_end(job_path: str, parent: int) -> int:
    """What worker.main does first (end with `parent`), then write this process's pid to `job_path` and sleep."""
    from autograder.sandbox import processes

    processes.end_with_parent(parent)
    pathlib.Path(job_path).write_text(str(os.getpid()))
    time.sleep(120)
    return 0
