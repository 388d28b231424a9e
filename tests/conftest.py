"""Shared pytest fixtures: a small synthetic dataset, the real ISBI 2012 folder, and the grader's sandbox; the
markers that say which tests depend on the data, and the check of UNET_TEST_DATA.

UNET_TEST_DATA says which data the tests must run on: ``real`` stops the session at its start when the real
ISBI 2012 folder is not found; ``synthetic`` uses the stand-in even where the real data is found (a newcomer's
clone, without UNET_DATA_DIR or ../shared); unset, whichever is there. The header of pytest's output says which.

On the stand-in, the tests name its loader in UNET_DATA_LOADER (``data.synthetic.load_dataset``, which also accepts a
folder with synthetic.json), for themselves and every process they start: the grader and its workers, the demo.
The project's own code knows only the real data's loader (``data/source.py``).
"""

import os

import pytest

from data.source import LOADER_ENV
from data.synthetic import write_synthetic_dataset
from tests.notebook_runner import TEST_DATA, TEST_DATA_ENV, find_real_data_dir

# Markers set from the fixtures a test uses (pytest.ini describes them; .ci/run selects with them).
DATA_FIXTURES = {"data_env", "real_data_dir"}  # their tests depend on the data: real, or the stand-in
# Where a data test's module does not say, which of CI's two runs (.ci/run) gives it its data: the smoke batch on the
# stand-in only; the quick batch, the cluster's batch and the Colab-like runtime on the real data only. Data tests
# marked neither way run in both.
STAND_IN_IN_CI = {"smoke"}
REAL_IN_CI = {"quick", "graded", "client", "colab_run"}
STAND_IN_LOADER = "data.synthetic:load_dataset"  # the loader the tests inject where they use the stand-in

# CI sets this: there, a test that needs the grader's sandbox fails where it cannot run, instead of skipping.
SANDBOX_REQUIRED = os.environ.get("UNET_REQUIRE_SANDBOX") == "1"


def pytest_configure(config):
    if TEST_DATA not in ("", "real", "synthetic"):
        raise pytest.UsageError(f"{TEST_DATA_ENV} must be real, synthetic or unset, not {TEST_DATA!r}")
    if TEST_DATA == "real" and find_real_data_dir() is None:
        raise pytest.UsageError(
            f"{TEST_DATA_ENV}=real, but the real ISBI 2012 data is neither in UNET_DATA_DIR "
            f"nor in ../shared/data/isbi2012 beside the repository"
        )
    if TEST_DATA == "synthetic":
        os.environ.pop("UNET_DATA_DIR", None)  # nothing the tests start may find the real data either
    if find_real_data_dir() is None:
        os.environ[LOADER_ENV] = STAND_IN_LOADER


def pytest_report_header(config):
    folder = find_real_data_dir()
    return [
        f"ISBI 2012 data: the real volumes in {folder}"
        if folder
        else "ISBI 2012 data: the synthetic stand-in ("
        + (f"{TEST_DATA_ENV}=synthetic" if TEST_DATA else "no real data in UNET_DATA_DIR or ../shared")
        + ")"
    ]


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures & DATA_FIXTURES:
            continue
        item.add_marker(pytest.mark.data)
        if not (item.get_closest_marker("stand_in_ci") or item.get_closest_marker("real_ci")):
            if fixtures & STAND_IN_IN_CI:
                item.add_marker(pytest.mark.stand_in_ci)
            elif fixtures & REAL_IN_CI:
                item.add_marker(pytest.mark.real_ci)


@pytest.fixture
def synthetic_dir(tmp_path):
    """A fresh synthetic ISBI-like folder (8 slices of 64 x 64) with its synthetic.json."""
    return write_synthetic_dataset(tmp_path / "synthetic", n_slices=8, size=64, seed=0)


@pytest.fixture(scope="session")
def real_data_dir():
    """The real ISBI 2012 folder (UNET_DATA_DIR, else ../shared/data/isbi2012 beside the repo), or None."""
    return find_real_data_dir()


@pytest.fixture(scope="session")
def data_env(real_data_dir, tmp_path_factory):
    """UNET_DATA_DIR for notebook runs: the real ISBI folder, or else a full-size synthetic stand-in (notebooks run on
    it with the cell of data.synthetic.with_stand_in: see tests/notebook_runner.py and tests/catalogue.py)."""
    folder = real_data_dir or write_synthetic_dataset(
        tmp_path_factory.mktemp("isbi") / "synthetic", n_slices=30, size=256
    )
    return {"UNET_DATA_DIR": str(folder)}


@pytest.fixture(scope="session")
def sandbox_status():
    """Whether the grader's sandbox runs here (autograder.sandbox.kernel.probe), and which limits hold."""
    from autograder.sandbox.kernel import probe

    return probe()


@pytest.fixture(scope="session")
def sandbox(sandbox_status):
    """Skip (with the reason) where the grader's sandbox cannot run, such as macOS or without root; fail
    instead when UNET_REQUIRE_SANDBOX=1 (.ci/run sets it), so that CI never skips the sandbox silently."""
    if not sandbox_status.available:
        message = f"the grader's sandbox cannot run on this machine: {sandbox_status.reason}"
        if SANDBOX_REQUIRED:
            pytest.fail(message + " (UNET_REQUIRE_SANDBOX=1)")
        pytest.skip(message)
    return sandbox_status
