"""Shared pytest fixtures: a small synthetic dataset and the real ISBI 2012 folder."""

import pytest

from data.synthetic import write_synthetic_dataset
from tests.notebook_runner import find_real_data_dir


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
    folder = real_data_dir or write_synthetic_dataset(tmp_path_factory.mktemp("isbi") / "synthetic", n_slices=30, size=256)
    return {"UNET_DATA_DIR": str(folder)}
