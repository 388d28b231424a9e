"""A Colab-like Python runtime for the notebook: a virtual environment with only tests/colab_requirements.txt
(what a Colab GPU runtime preinstalls, among the notebook's needs), and a kernel of it for nbclient.

The environment is built once per set of pins in that file and version of Python, under
``~/.cache/unet-isbi2012/colab-runtime-<digest>`` (``$XDG_CACHE_HOME`` when set), and reused; it is built in a
folder of its own and renamed into place when complete, so that an interrupted build is never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

REQUIREMENTS = pathlib.Path(__file__).with_name("colab_requirements.txt")
KERNEL_NAME = "colab-like"


def runtime_folder() -> pathlib.Path:
    """Where the environment for the current requirements and Python lives."""
    pins = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    key = "\n".join([*filter(None, pins), sys.version.split()[0]])  # the pins and Python, not the comments
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return cache / "unet-isbi2012" / f"colab-runtime-{digest}"


def colab_python() -> tuple[pathlib.Path, float]:
    """The Colab-like environment's python (built first when absent) and the seconds spent building it (0 when
    it was there)."""
    folder = runtime_folder()
    python = folder / "bin" / "python"
    if python.is_file():
        return python, 0.0
    started = time.monotonic()
    building = folder.with_name(f"{folder.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    install = subprocess.run(
        [
            str(building / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise RuntimeError(f"pip could not build the Colab-like runtime:\n{install.stderr[-3000:]}")
    try:
        building.rename(folder)
    except OSError:  # another run built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return python, time.monotonic() - started


def kernel_manager(python: pathlib.Path, folder: pathlib.Path) -> KernelManager:
    """A kernel manager whose kernel is ipykernel under `python`, its kernelspec written in `folder`."""
    spec = folder / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab-like Python",
                "language": "python",
            }
        )
    )
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder)]))
