"""The notebook's download path end to end, offline: data/isbi2012.py fetches the volumes from local copies of its
mirrors (tests/mirrors.py: the ImageJ zip and the raw TIFFs, laid out as on the real mirrors, served on 127.0.0.1),
named by UNET_DATA_MIRRORS, verifies the pixels, caches, refuses broken files and downloads nothing the second time.

The mirrors hold the real data when it is here (UNET_DATA_DIR or ../shared), else the synthetic stand-in; the
pixel checksums asked for are the real data's or, for the stand-in, those of its synthetic.json.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from data.isbi2012 import (
    DATA_DIR_ENV,
    MIRRORS,
    PIXEL_SHA256,
    VOLUMES,
    DataUnavailableError,
    load_isbi2012,
    load_volume,
    mirrors,
    pixel_sha256,
    read_volume,
)
from data.synthetic import MANIFEST
from tests.mirrors import MirrorServer, build_mirrors, mirror_path

ZIP_PATH = mirror_path(MIRRORS[0])


@pytest.fixture(scope="module")
def source(data_env):
    """(folder the mirrors are built from, {volume: pixel sha256} the loader must ask for)."""
    folder = Path(data_env["UNET_DATA_DIR"])
    manifest = folder / MANIFEST
    return folder, json.loads(manifest.read_text())["pixel_sha256"] if manifest.is_file() else PIXEL_SHA256


@pytest.fixture
def served(source, tmp_path, monkeypatch):
    """The mirrors' files under tmp_path/www, served; UNET_DATA_MIRRORS names them and UNET_DATA_DIR is unset."""
    root = build_mirrors(source[0], tmp_path / "www")
    with MirrorServer(root) as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv(DATA_DIR_ENV, raising=False)
        yield server, root


def check_volumes(volumes, source):
    folder, hashes = source
    for name, volume in zip(VOLUMES, volumes):
        assert pixel_sha256(volume) == hashes[name]
        np.testing.assert_array_equal(volume, read_volume(folder / f"{name}.tif"))


def test_the_mirror_list_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.delenv("UNET_DATA_MIRRORS", raising=False)
    assert mirrors() == MIRRORS
    monkeypatch.setenv("UNET_DATA_MIRRORS", "  http://a.example/{name}.tif\n http://b.example/x.zip ")
    assert mirrors() == ("http://a.example/{name}.tif", "http://b.example/x.zip")
    monkeypatch.setenv("UNET_DATA_MIRRORS", " ")
    assert mirrors() == MIRRORS


def test_first_download_verifies_and_caches_and_the_second_downloads_nothing(served, source, tmp_path, capsys):
    server, _ = served
    cache = tmp_path / "cache"
    check_volumes(load_isbi2012(cache_dir=cache, expected_sha256=source[1]), source)
    assert server.requests == [ZIP_PATH], "the first mirror's zip, once for the three volumes"
    assert f"Downloading train-volume from {server.mirrors()[0]}" in capsys.readouterr().out
    check_volumes(load_isbi2012(cache_dir=cache, expected_sha256=source[1]), source)
    assert server.requests == [ZIP_PATH] and capsys.readouterr().out == ""


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt(path):
    """Flip the bits of 4 kB in the middle of the file (pixels of a TIFF, compressed data of a zip)."""
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 4096] = bytes(byte ^ 0xFF for byte in content[middle : middle + 4096])
    path.write_bytes(bytes(content))


@pytest.mark.parametrize(
    "break_zip, break_tif",
    [(truncate, corrupt), (corrupt, truncate)],
    ids=["truncated zip, corrupted tif", "corrupted zip, truncated tif"],
)
def test_a_broken_file_is_refused_with_a_message_and_the_next_mirror_tried(
    served, source, tmp_path, capsys, break_zip, break_tif
):
    server, root = served
    first, second, third = server.mirrors()
    break_zip(root / ZIP_PATH.lstrip("/"))
    break_tif(root / mirror_path(MIRRORS[1], "train-volume").lstrip("/"))
    cache = tmp_path / "cache"
    check_volumes(load_isbi2012(cache_dir=cache, expected_sha256=source[1]), source)
    out = capsys.readouterr().out
    assert f"Refused train-volume.tif from {first}: " in out
    assert f"Refused train-volume.tif from {second.format(name='train-volume')}: " in out
    assert out.count("Refused") == 4, out  # the zip once per volume, the bad TIFF once
    got = [path for path in server.requests if path != ZIP_PATH]
    assert got == [
        mirror_path(second, "train-volume"),
        mirror_path(third, "train-volume"),
        mirror_path(second, "train-labels"),
        mirror_path(second, "test-volume"),
    ]
    kept = sorted(path.name for path in cache.rglob("*") if path.is_file())
    assert kept == sorted(f"{name}.tif" for name in VOLUMES), "nothing of a refused file stays in the cache"
    asked = len(server.requests)
    check_volumes(load_isbi2012(cache_dir=cache, expected_sha256=source[1]), source)
    assert len(server.requests) == asked and capsys.readouterr().out == ""


def test_when_every_mirror_fails_the_error_names_each_and_the_way_out(served, source, tmp_path):
    server, root = served
    for url in server.mirrors():
        truncate(root / mirror_path(url, "test-volume").lstrip("/"))
    with pytest.raises(DataUnavailableError) as caught:
        load_volume("test-volume", cache_dir=tmp_path / "cache", expected_sha256=source[1])
    message = str(caught.value)
    assert "could not download test-volume.tif from any mirror" in message
    for url in server.mirrors():
        assert url.format(name="test-volume") in message
    assert DATA_DIR_ENV in message and not list((tmp_path / "cache").rglob("*.tif"))
