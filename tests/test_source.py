"""data/source.py: the loader the tools read the data with, the real one unless UNET_DATA_LOADER names another; the
grader passes that setting on to its workers."""

import numpy as np
import pytest

from autograder.grading import grade
from data import isbi2012, source
from data.synthetic import manifest_sha256


def test_without_the_setting_the_tools_read_the_real_data_checked(synthetic_dir, monkeypatch):
    monkeypatch.delenv(source.LOADER_ENV, raising=False)
    assert source.loader_name() == "data.isbi2012:load_isbi2012"
    with pytest.raises(isbi2012.DataUnavailableError, match="are not the expected"):  # not ISBI 2012
        source.load_dataset(synthetic_dir)


def test_the_setting_names_the_loader_the_tests_inject(synthetic_dir, monkeypatch, capsys):
    monkeypatch.setenv(source.LOADER_ENV, "data.synthetic:load_dataset")
    images, labels, test = source.load_dataset(synthetic_dir)
    assert images.shape == labels.shape == test.shape == (8, 64, 64) and images.dtype == np.uint8
    assert isbi2012.pixel_sha256(labels) == manifest_sha256(synthetic_dir)["train-labels"]
    assert "SYNTHETIC" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", ["data.synthetic", "data.synthetic:nothing", "no_such_module:load", ":load"])
def test_a_setting_that_names_no_loader_says_so(wrong, monkeypatch):
    monkeypatch.setenv(source.LOADER_ENV, wrong)
    with pytest.raises(ValueError, match=f"UNET_DATA_LOADER={wrong!r} names no loader: give module:function"):
        source.load_dataset()


def test_the_grader_hands_the_setting_to_its_workers(tmp_path, monkeypatch):
    monkeypatch.setenv(source.LOADER_ENV, "data.synthetic:load_dataset")
    monkeypatch.setenv("UNET_PRECISION", "fp32")
    assert grade.Session("smoke").kernel_environment(tmp_path)[source.LOADER_ENV] == "data.synthetic:load_dataset"
    monkeypatch.delenv(source.LOADER_ENV)
    assert source.LOADER_ENV not in grade.Session("smoke").kernel_environment(tmp_path)
