"""Tests of data/isbi2012.py (local folders, downloads, checks) and data/synthetic.py (the stand-in volumes,
the project's loader that accepts them, and the cell that lets a notebook accept them)."""

import json
import shutil
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from data import isbi2012
from data.isbi2012 import (
    DATA_DIR_ENV,
    PIXEL_SHA256,
    VOLUMES,
    DataUnavailableError,
    load_isbi2012,
    load_volume,
    pixel_sha256,
    read_volume,
    split_holdout,
)
from data.synthetic import (
    STAND_IN_CELL_ID,
    load_dataset,
    main,
    make_em_volume,
    manifest_sha256,
    with_stand_in,
    write_synthetic_dataset,
    write_volumes,
)
from tests.mirrors import MirrorServer


@pytest.fixture
def dataset_dir(real_data_dir, synthetic_dir):
    """The real data when it is here, else the synthetic folder."""
    return real_data_dir or synthetic_dir


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(isbi2012.MIRRORS_ENV, raising=False)


def manifest_hashes(folder):
    return json.loads((folder / "synthetic.json").read_text())["pixel_sha256"]


def expected_hashes(folder):
    return manifest_hashes(folder) if (folder / "synthetic.json").exists() else PIXEL_SHA256


# ---------------------------------------------------------------- hashes and reading


def test_pixel_hashes_match_the_reference(dataset_dir):
    expected = expected_hashes(dataset_dir)
    for name in VOLUMES:
        assert pixel_sha256(read_volume(dataset_dir / f"{name}.tif")) == expected[name]


def test_pixel_sha256_rejects_other_dtypes():
    assert len(pixel_sha256(np.zeros((2, 3, 4), np.uint8))) == 64
    with pytest.raises(ValueError, match="uint8"):
        pixel_sha256(np.zeros((2, 3, 4), np.float32))


def test_read_volume_rejects_a_single_image(tmp_path):
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"3-D uint8.*\(16, 16\)"):
        read_volume(tmp_path / "one.tif")


def test_read_volume_rejects_16_bit(tmp_path):
    volume = np.zeros((3, 16, 16), np.uint16)
    tifffile.imwrite(tmp_path / "wide.tif", volume, photometric="minisblack")
    with pytest.raises(ValueError, match="uint16"):
        read_volume(tmp_path / "wide.tif")


# ---------------------------------------------------------------- local folders


def check_isbi_arrays(train_images, train_labels, test_images, real):
    for volume in (train_images, train_labels, test_images):
        assert volume.dtype == np.uint8 and volume.ndim == 3
    assert train_images.shape == train_labels.shape
    assert set(np.unique(train_labels)) == {0, 255}
    if real:
        assert train_images.shape == test_images.shape == (30, 512, 512)
        assert 0.21 < np.mean(train_labels == 0) < 0.23
        assert train_images[train_labels == 0].mean() < train_images[train_labels == 255].mean()


def test_load_isbi2012_from_data_dir(dataset_dir, real_data_dir):
    check_isbi_arrays(
        *load_isbi2012(data_dir=dataset_dir, expected_sha256=expected_hashes(dataset_dir)),
        real=real_data_dir is not None,
    )


def test_load_isbi2012_from_environment_variable(dataset_dir, real_data_dir, monkeypatch, capsys):
    monkeypatch.setenv(DATA_DIR_ENV, str(dataset_dir))
    from_env = load_dataset() if real_data_dir is None else load_isbi2012()
    assert ("SYNTHETIC" in capsys.readouterr().out) == (real_data_dir is None)
    from_argument = load_isbi2012(data_dir=dataset_dir, expected_sha256=expected_hashes(dataset_dir))
    for a, b in zip(from_env, from_argument):
        np.testing.assert_array_equal(a, b)


def test_data_dir_argument_wins_over_environment(synthetic_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nowhere"))
    hashes = manifest_hashes(synthetic_dir)
    assert load_volume("train-labels", data_dir=synthetic_dir, expected_sha256=hashes).shape == (8, 64, 64)
    assert load_dataset(data_dir=synthetic_dir)[1].shape == (8, 64, 64)


def test_wrong_local_pixels_raise_and_leave_the_file(synthetic_dir):
    path = synthetic_dir / "train-volume.tif"
    tifffile.imwrite(path, 255 - read_volume(path), imagej=True)
    before = path.read_bytes()
    with pytest.raises(DataUnavailableError, match="train-volume.*left as it is"):
        load_volume("train-volume", data_dir=synthetic_dir, expected_sha256=manifest_hashes(synthetic_dir))
    with pytest.raises(DataUnavailableError, match="train-volume.*left as it is"):
        load_dataset(data_dir=synthetic_dir)
    assert path.read_bytes() == before


def test_the_notebooks_loader_checks_against_isbi_whatever_the_folder_holds(synthetic_dir):
    """data/isbi2012.py (the student's copy) knows only the real data: a synthetic.json changes nothing."""
    with pytest.raises(DataUnavailableError, match=PIXEL_SHA256["train-labels"]):
        load_volume("train-labels", data_dir=synthetic_dir)
    source = Path(isbi2012.__file__).read_text().lower()
    assert "synthetic" not in source and ".json" not in source


def test_local_folder_without_manifest_is_checked_against_isbi(synthetic_dir):
    (synthetic_dir / "synthetic.json").unlink()
    assert manifest_sha256(synthetic_dir) is None
    with pytest.raises(DataUnavailableError, match=PIXEL_SHA256["train-volume"]):
        load_dataset(data_dir=synthetic_dir)


def test_expected_hashes_must_name_the_volume(synthetic_dir):
    with pytest.raises(DataUnavailableError, match="no pixel sha256 to check train-volume against"):
        load_volume("train-volume", data_dir=synthetic_dir, expected_sha256={"test-volume": "0" * 64})


def test_unreadable_local_file_raises(synthetic_dir):
    (synthetic_dir / "test-volume.tif").write_bytes(b"not a tiff")
    with pytest.raises(DataUnavailableError, match="cannot read.*test-volume.tif"):
        load_volume("test-volume", data_dir=synthetic_dir, expected_sha256=manifest_hashes(synthetic_dir))


def test_missing_file_names_the_file_and_where_to_get_it(synthetic_dir):
    (synthetic_dir / "test-volume.tif").unlink()
    with pytest.raises(DataUnavailableError, match="test-volume.tif is missing") as caught:
        load_isbi2012(data_dir=synthetic_dir, expected_sha256=manifest_hashes(synthetic_dir))
    message = str(caught.value)
    assert DATA_DIR_ENV in message and isbi2012.MIRRORS[0] in message


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataUnavailableError, match="not a folder"):
        load_volume("train-volume", data_dir=tmp_path / "nowhere")


def test_manifest_without_the_volume_raises(synthetic_dir):
    (synthetic_dir / "synthetic.json").write_text('{"pixel_sha256": {}}')
    with pytest.raises(DataUnavailableError, match="no pixel_sha256 for train-volume"):
        load_dataset(data_dir=synthetic_dir)
    (synthetic_dir / "synthetic.json").write_text('{"hashes": {}}')
    with pytest.raises(DataUnavailableError, match="has no pixel_sha256"):
        load_dataset(data_dir=synthetic_dir)


def test_unknown_volume_name():
    with pytest.raises(ValueError, match="test-labels"):
        load_volume("test-labels")


def test_labels_must_be_binary(synthetic_dir):
    volumes = {name: read_volume(synthetic_dir / f"{name}.tif") for name in VOLUMES}
    volumes["train-labels"][0, 0, :3] = (1, 128, 254)
    write_volumes(synthetic_dir, volumes)
    with pytest.raises(ValueError, match=r"only 0 and 255.*\[  1 128 254\]"):
        load_isbi2012(data_dir=synthetic_dir, expected_sha256=manifest_hashes(synthetic_dir))


def test_images_and_labels_must_match_in_shape(synthetic_dir):
    volumes = {name: read_volume(synthetic_dir / f"{name}.tif") for name in VOLUMES}
    volumes["train-labels"] = volumes["train-labels"][:-1]
    write_volumes(synthetic_dir, volumes)
    with pytest.raises(ValueError, match="differ in shape"):
        load_isbi2012(data_dir=synthetic_dir, expected_sha256=manifest_hashes(synthetic_dir))


# ---------------------------------------------------------------- downloads


@pytest.fixture
def web(tmp_path, synthetic_dir, monkeypatch):
    """A loopback web server with mirrors of the synthetic data; returns (root folder, base URL).

    good/: right files; wrong/: other pixels; garbage/: not TIFFs; archive.zip: the right files
    nested in a folder; garbage.zip: not a zip. PIXEL_SHA256 is set to the synthetic hashes.
    """
    root = tmp_path / "www"
    shutil.copytree(synthetic_dir, root / "good")
    write_synthetic_dataset(root / "wrong", n_slices=8, size=64, seed=1)
    (root / "garbage").mkdir()
    with zipfile.ZipFile(root / "archive.zip", "w") as archive:
        for name in VOLUMES:
            (root / "garbage" / f"{name}.tif").write_bytes(b"<html>moved</html>")
            archive.write(root / "good" / f"{name}.tif", f"ISBI-2012-challenge/{name}.tif")
            archive.writestr(f"__MACOSX/ISBI-2012-challenge/._{name}.tif", b"resource fork")
    (root / "garbage.zip").write_bytes(b"<html>moved</html>")
    monkeypatch.setattr(isbi2012, "PIXEL_SHA256", manifest_hashes(synthetic_dir))
    with MirrorServer(root) as server:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1")
        yield root, server.url


def use_mirrors(monkeypatch, *urls):
    monkeypatch.setattr(isbi2012, "MIRRORS", urls)


def cached_tifs(cache_dir):
    return sorted(path.name for path in cache_dir.rglob("*.tif"))


def test_download_falls_back_past_404_and_garbage(web, synthetic_dir, tmp_path, monkeypatch):
    root, url = web
    use_mirrors(monkeypatch, f"{url}/missing/{{name}}.tif", f"{url}/garbage/{{name}}.tif", f"{url}/good/{{name}}.tif")
    cache_dir = tmp_path / "cache"
    for name in VOLUMES:
        expected = read_volume(synthetic_dir / f"{name}.tif")
        np.testing.assert_array_equal(load_volume(name, cache_dir=cache_dir), expected)
    assert cached_tifs(cache_dir) == sorted(f"{name}.tif" for name in VOLUMES)
    shutil.rmtree(root / "good")  # the next load must come from the cache
    check_isbi_arrays(*load_isbi2012(cache_dir=cache_dir), real=False)


def test_download_from_a_zip_mirror(web, tmp_path, monkeypatch):
    _, url = web
    use_mirrors(monkeypatch, f"{url}/garbage.zip", f"{url}/archive.zip")
    cache_dir = tmp_path / "cache"
    check_isbi_arrays(*load_isbi2012(cache_dir=cache_dir), real=False)
    assert len(list(cache_dir.rglob("*.zip"))) == 1  # the garbage zip was deleted


def test_mirror_with_wrong_pixels_is_rejected(web, synthetic_dir, tmp_path, monkeypatch):
    _, url = web
    cache_dir = tmp_path / "cache"
    use_mirrors(monkeypatch, f"{url}/wrong/{{name}}.tif")
    with pytest.raises(DataUnavailableError, match="expected pixels"):
        load_volume("train-volume", cache_dir=cache_dir)
    assert cached_tifs(cache_dir) == []
    use_mirrors(monkeypatch, f"{url}/wrong/{{name}}.tif", f"{url}/good/{{name}}.tif")
    volume = load_volume("train-volume", cache_dir=cache_dir)
    assert pixel_sha256(volume) == manifest_hashes(synthetic_dir)["train-volume"]


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_all_mirrors_unreachable_gives_one_clear_error(tmp_path, monkeypatch):
    mirrors = (f"{closed_port_url()}/ISBI.zip", f"{closed_port_url()}/{{name}}.tif")
    use_mirrors(monkeypatch, *mirrors)
    with pytest.raises(DataUnavailableError) as caught:
        load_isbi2012(cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert "could not download train-volume.tif from any mirror" in message
    assert DATA_DIR_ENV in message and "data_dir=" in message
    assert mirrors[0] in message and mirrors[1].format(name="train-volume") in message
    assert caught.value.__cause__ is None


# ---------------------------------------------------------------- split_holdout


def test_split_holdout_keeps_the_last_slices():
    volume = np.arange(30 * 4 * 4, dtype=np.uint8).reshape(30, 4, 4)
    train, holdout = split_holdout(volume)
    assert train.shape == (25, 4, 4) and holdout.shape == (5, 4, 4)
    np.testing.assert_array_equal(np.concatenate([train, holdout]), volume)
    np.testing.assert_array_equal(holdout, volume[25:])
    assert split_holdout(volume, n_holdout=29)[0].shape == (1, 4, 4)


@pytest.mark.parametrize("n_holdout", [0, -1, 30, 31, 2.5, True, "5"])
def test_split_holdout_rejects_bad_counts(n_holdout):
    with pytest.raises(ValueError, match="n_holdout"):
        split_holdout(np.zeros((30, 4, 4), np.uint8), n_holdout=n_holdout)


# ---------------------------------------------------------------- synthetic data


@pytest.fixture(scope="module")
def synthetic_volume():
    return make_em_volume(n_slices=10, size=128, seed=3)


def test_synthetic_volume_looks_like_em(synthetic_volume):
    images, labels = synthetic_volume
    assert images.shape == labels.shape == (10, 128, 128)
    assert images.dtype == labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 255}
    membrane = labels == 0
    assert 0.15 <= membrane.mean() <= 0.30
    assert abs(images[membrane].mean() - 85) < 5
    assert abs(images[~membrane].mean() - 138) < 5
    assert images.std() > 15  # textured, not flat


def test_synthetic_slices_change_smoothly(synthetic_volume):
    images, labels = synthetic_volume

    def mean_correlation(step):
        pairs = zip(images[:-step].astype(float), images[step:].astype(float))
        return np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in pairs])

    assert mean_correlation(1) > mean_correlation(5) + 0.1
    assert np.mean(labels[1:] == labels[:-1]) > 0.8


def test_synthetic_volume_is_deterministic(synthetic_volume):
    images, labels = make_em_volume(n_slices=10, size=128, seed=3)
    np.testing.assert_array_equal(images, synthetic_volume[0])
    np.testing.assert_array_equal(labels, synthetic_volume[1])
    assert not np.array_equal(make_em_volume(2, 64, seed=4)[0], make_em_volume(2, 64, seed=5)[0])


@pytest.mark.parametrize("kwargs", [{"n_slices": 0}, {"size": 16}, {"size": 64.0}])
def test_synthetic_volume_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        make_em_volume(**kwargs)


def test_synthetic_dataset_round_trip(synthetic_dir, capsys):
    images, labels = make_em_volume(n_slices=8, size=64, seed=0)
    manifest = json.loads((synthetic_dir / "synthetic.json").read_text())
    assert manifest["size"] == 64 and manifest["seed"] == 0
    with tifffile.TiffFile(synthetic_dir / "train-volume.tif") as tif:
        assert tif.is_imagej and len(tif.pages) == 8
    train_images, train_labels, test_images = load_dataset(data_dir=synthetic_dir)
    np.testing.assert_array_equal(train_images, images)
    np.testing.assert_array_equal(train_labels, labels)
    assert test_images.shape == images.shape and not np.array_equal(test_images, images)
    assert capsys.readouterr().out.count("Using SYNTHETIC data, not ISBI 2012") == 1


def test_synthetic_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--size", "48", "--slices", "3", "--seed", "2"]) == 0
    assert "Wrote a synthetic" in capsys.readouterr().out
    train_images, _, _ = load_dataset(data_dir=tmp_path / "out")
    np.testing.assert_array_equal(train_images, make_em_volume(3, 48, seed=2)[0])


# ---------------------------------------------------------------- a notebook on the stand-in


def notebook_with_the_loader():
    """The cells of the release up to its load-data cell, as plain JSON (an nbformat 4.4 copy: no cell ids)."""
    from autograder.release.course import RELEASE_NOTEBOOK

    notebook = json.loads(RELEASE_NOTEBOOK.read_text())
    ids = [cell["id"] for cell in notebook["cells"]]
    return notebook, ids.index("data-module")


def test_with_stand_in_adds_its_cell_right_after_the_loader():
    notebook, loader = notebook_with_the_loader()
    count = len(notebook["cells"])
    with_stand_in(notebook)
    assert len(notebook["cells"]) == count + 1 and notebook["cells"][loader + 1]["id"] == STAND_IN_CELL_ID
    for cell in notebook["cells"]:
        cell.pop("id")
    notebook["nbformat_minor"] = 4
    with_stand_in(notebook)
    assert "id" not in notebook["cells"][loader + 1]
    with pytest.raises(ValueError, match="load_isbi2012"):
        with_stand_in({"cells": [], "nbformat_minor": 5})


def test_the_notebooks_loader_with_the_stand_in_cell_accepts_the_stand_in_and_only_that(
    synthetic_dir, monkeypatch, capsys
):
    notebook, loader = notebook_with_the_loader()
    with_stand_in(notebook)
    code = ["".join(cell["source"]) for cell in notebook["cells"][loader : loader + 2]]
    monkeypatch.setenv(DATA_DIR_ENV, str(synthetic_dir))
    namespace = {}
    for source in code:
        exec(compile(source, "cell", "exec"), namespace)
    train_images = namespace["load_isbi2012"]()[0]
    np.testing.assert_array_equal(train_images, read_volume(synthetic_dir / "train-volume.tif"))
    assert "Using SYNTHETIC data, not ISBI 2012" in capsys.readouterr().out
    (synthetic_dir / "synthetic.json").unlink()  # without its manifest: the real data's hashes
    namespace = {}
    for source in code:
        exec(compile(source, "cell", "exec"), namespace)
    with pytest.raises(namespace["DataUnavailableError"], match=PIXEL_SHA256["train-volume"]):
        namespace["load_isbi2012"]()
