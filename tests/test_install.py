"""The kit as a package: scripts/setup.sh's editable install gives a fresh environment the `unet-course` command,
and the wheel carries the packages, their data files and requirements.txt's dependencies. Offline: pip builds with
the setuptools at hand and installs nothing from an index (the dependencies are this environment's)."""

import pathlib
import subprocess
import sys
import sysconfig
import venv
import zipfile

from packaging.requirements import Requirement

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
PIP_OFFLINE = ["--quiet", "--no-deps", "--no-build-isolation", "--no-index"]


def requirements(path: pathlib.Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_a_fresh_environment_gets_the_command_from_setup(tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # requirements.txt's and requirements-dev.txt's: this environment's (setup.sh's setuptools too: the fresh
    # environment's own may be older than requirements-dev.txt asks)
    subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"], check=True, timeout=120)
    pathlib.Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    setup_line = next(
        line
        for line in (REPO_ROOT / "scripts" / "setup.sh").read_text().splitlines()
        if " -e ." in line and not line.startswith("#")
    )
    assert "--no-build-isolation" in setup_line and "--no-deps" in setup_line, setup_line
    subprocess.run(
        [python, "-m", "pip", "install", *PIP_OFFLINE, "-e", str(REPO_ROOT)], check=True, cwd=tmp_path, timeout=300
    )
    command = tmp_path / "venv" / "bin" / "unet-course"
    run = subprocess.run([command, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: unet-course") and "{release,grade,gradescope}" in run.stdout
    where = subprocess.run(
        [python, "-c", "import autograder; print(autograder.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert pathlib.Path(where) == REPO_ROOT / "autograder" / "__init__.py", "editable: the clone's own code"
    same = subprocess.run([python, "-m", "autograder", "gradescope"], capture_output=True, text=True, cwd=tmp_path)
    assert (
        same.returncode == 2
        and "unet-course gradescope: error: the following arguments are required: --out" in same.stderr
    )


def test_the_wheel_holds_the_packages_their_files_and_the_requirements(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *PIP_OFFLINE, "--wheel-dir", str(tmp_path), str(REPO_ROOT)],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("unet_course-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(name for name in names if name.endswith(".dist-info/entry_points.txt")))
    assert "unet-course = autograder.cli:main" in entry_points.decode()
    assert {name.split("/")[0] for name in names if "dist-info" not in name} == {
        "autograder",
        "lesson",
        "data",
        "solutions",
    }
    data_files = [
        path.relative_to(REPO_ROOT).as_posix()
        for pattern in (
            "autograder/**/templates/**/*",
            "autograder/**/*.json",
            "autograder/**/*.toml",
            "solutions/*.ipynb",
        )
        for path in REPO_ROOT.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert "autograder/judging/fingerprints.json" in data_files
    assert set(data_files) <= names, sorted(set(data_files) - names)
    required = [
        Requirement(line.removeprefix("Requires-Dist:"))
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert required == [Requirement(line) for line in requirements(REPO_ROOT / "requirements.txt")]
    assert "ruff==" in metadata and "Provides-Extra: dev" in metadata
