"""The key a kept result is graded under: what must match for a later run to reuse it (``batch.Batch``).

    submission   sha256 of the submitted file's bytes (added per submission by ``batch.Batch``)
    release      sha256 of the source and release notebooks
    grader       sha256 of the grader's code (autograder/, lesson/, data/, solutions/: .py, .toml, .json, .ipynb)
    policy       sha256 of autograder/authoring/policy.py and the mode's run settings
    mode         smoke, quick or full
    data         sha256 of the volumes the kernels read (UNET_DATA_DIR), else their checked pixel sha256
    settings     everything else that reaches a row: the cell time limit, the output cap, the sandbox and its
                 limits, the nbgrader course that keeps the graded notebooks, ...

Not in the key: the machine's CPU, the kernels' thread count and the precision chosen by timing (they change how
fast a run goes and its training numbers, never what the grader asks of it; in quick mode the reference's own run
must pass the bar in the chosen setting, ``calibration.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK

CODE_FOLDERS = ("autograder", "lesson", "data", "solutions")
CODE_SUFFIXES = (".py", ".toml", ".json", ".ipynb")
POLICY = REPO_ROOT / "autograder" / "authoring" / "policy.py"
WORDS = {
    "submission": "file",
    "release": "release",
    "grader": "grader's code",
    "policy": "policy",
    "mode": "mode",
    "data": "data",
    "settings": "settings",
}


def file_digest(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def submission_digest(submission) -> str:
    """The key's part for one submission: the sha256 of its bytes, read at most to its limit (one byte more tells
    a file that grew past it); for a file refused as it came in, of the reason, never of the file (a refused zip
    entry was never written, and a refused file may be a bomb, a link or a FIFO)."""
    if submission.refused:
        return hashlib.sha256(f"refused: {submission.refused}".encode()).hexdigest()
    digest, left = hashlib.sha256(), submission.max_bytes + 1
    try:
        with open(submission.path, "rb") as handle:
            while left > 0 and (block := handle.read(min(left, 1 << 20))):
                digest.update(block)
                left -= len(block)
    except OSError as error:  # gone or unreadable since it was found: grading says so in its row
        return hashlib.sha256(f"unreadable: {error.strerror}".encode()).hexdigest()
    return digest.hexdigest()


def files_digest(paths: list[pathlib.Path], root: pathlib.Path) -> str:
    """One sha256 over the files' names (relative to `root`) and bytes."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + file_digest(path).encode())
    return digest.hexdigest()


def grader_digest() -> str:
    files = [
        path
        for name in CODE_FOLDERS
        for path in (REPO_ROOT / name).rglob("*")
        if path.suffix in CODE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts
    ]
    return files_digest(files, REPO_ROOT)


def data_digest() -> str:
    """The data the kernels read: UNET_DATA_DIR's volumes (and a stand-in's synthetic.json), else the checked pixel
    sha256 of each volume."""
    from data.isbi2012 import PIXEL_SHA256, VOLUMES

    loader = os.environ.get("UNET_DATA_LOADER", "")  # a loader other than the real one, if named
    if os.environ.get("UNET_DATA_DIR"):
        root = pathlib.Path(os.environ["UNET_DATA_DIR"]).resolve()
        names = [f"{name}.tif" for name in VOLUMES] + ["synthetic.json"]
        return loader + files_digest([root / name for name in names if (root / name).is_file()], root)
    return loader + hashlib.sha256(json.dumps(PIXEL_SHA256, sort_keys=True).encode()).hexdigest()


def grading_key(mode: str, mode_settings: dict, settings: dict) -> dict[str, str]:
    """The key entries every submission of a run shares (see the module docstring); ``Batch`` adds the file's."""
    policy = hashlib.sha256(POLICY.read_bytes() + json.dumps(mode_settings, sort_keys=True).encode())
    return {
        "release": files_digest([SOURCE_NOTEBOOK, RELEASE_NOTEBOOK], REPO_ROOT),
        "grader": grader_digest(),
        "policy": policy.hexdigest(),
        "mode": mode,
        "data": data_digest(),
        "settings": json.dumps(settings, sort_keys=True, default=str),
    }
