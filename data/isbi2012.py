"""Load the ISBI 2012 EM segmentation data (Drosophila VNC, ssTEM) as numpy arrays.

Three volumes, each a stack of 30 greyscale slices of 512 x 512 pixels (uint8):

- ``train-volume``: the raw EM images you train on.
- ``train-labels``: their labels, 255 = cell interior, 0 = membrane.
- ``test-volume``: raw images whose labels the challenge kept hidden.

Where the files come from, in this order:

1. ``data_dir=`` if you pass it, else the folder in the environment variable ``UNET_DATA_DIR``:
   the files ``<folder>/train-volume.tif`` etc. are read from there and never changed.
2. Otherwise they are downloaded once (official ImageJ copy first, then pinned GitHub copies;
   the environment variable ``UNET_DATA_MIRRORS`` replaces that list) into a cache folder and
   reused from there.

Either way, every volume is checked against the sha256 of its pixels (``PIXEL_SHA256``), so you
always get exactly the challenge data. Cite: Arganda-Carreras et al., Front. Neuroanat. 9:142 (2015)
and Cardona et al., PLoS Biol. 8(10):e1000502 (2010).
"""

import contextlib
import hashlib
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pooch
import tifffile

VOLUMES = ("train-volume", "train-labels", "test-volume")

# sha256 of np.ascontiguousarray(tifffile.imread(path), dtype=np.uint8).tobytes(),
# arrays of shape (30, 512, 512); see pixel_sha256.
PIXEL_SHA256 = {
    "train-volume": "200da3d452d726e6c9ca1ce04b869d4edb727320d23b516d01cce707dc8c4760",
    "train-labels": "a7cb64000a1a7e542682927e19c91339f58f9f178e0bcce4e207371116f0ca36",
    "test-volume": "1b58fa7ec1d0ff9d39a855622db3ff66a97863036339b0d04be51b2f5a99b0e9",
}

DATA_DIR_ENV = "UNET_DATA_DIR"
MIRRORS_ENV = "UNET_DATA_MIRRORS"

# Tried in order. A URL ending in ".zip" is an archive holding "<name>.tif" somewhere inside;
# any other URL is a template in which "{name}" is replaced by the volume name.
MIRRORS = (
    "https://downloads.imagej.net/ISBI-2012-challenge.zip",
    "https://raw.githubusercontent.com/zhixuhao/unet/b45af4d458437d8281cc218a07fd4380818ece4a/data/membrane/{name}.tif",
    "https://raw.githubusercontent.com/alexklibisz/isbi-2012/238a567ae843f7c03e5cc5d3f233cd3f93f0da17/data/{name}.tif",
)


def mirrors() -> tuple[str, ...]:
    """The mirrors to try, in order: the URLs in the environment variable UNET_DATA_MIRRORS (separated by
    spaces, in the form of MIRRORS) when it is set, else MIRRORS."""
    return tuple(os.environ.get(MIRRORS_ENV, "").split()) or MIRRORS


class DataUnavailableError(RuntimeError):
    """The ISBI 2012 data could not be found, downloaded or verified."""


def pixel_sha256(volume: np.ndarray) -> str:
    """Return the sha256 (hex string) of a uint8 array's pixels, in C order.

    Args:
        volume: numpy uint8 array of any shape, e.g. (S, H, W).

    Returns:
        64 hex characters; equal for equal pixels, whatever file they were read from.
    """
    volume = np.asarray(volume)
    if volume.dtype != np.uint8:
        raise ValueError(f"pixel_sha256 expects a uint8 array, got dtype {volume.dtype}")
    return hashlib.sha256(np.ascontiguousarray(volume).tobytes()).hexdigest()


def read_volume(path: str | os.PathLike) -> np.ndarray:
    """Read a multi-page TIFF as a stack of greyscale slices.

    Args:
        path: path to a .tif file.

    Returns:
        numpy uint8 array of shape (S, H, W).

    Raises:
        ValueError: if the file does not hold a 3-D uint8 stack.
    """
    volume = tifffile.imread(path)
    if volume.ndim != 3 or volume.dtype != np.uint8:
        raise ValueError(
            f"{path} should hold a 3-D uint8 stack (S, H, W), "
            f"but it holds shape {volume.shape} and dtype {volume.dtype}"
        )
    return volume


def load_volume(
    name: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    expected_sha256: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Load one ISBI 2012 volume, checked against its pixel sha256.

    Args:
        name: one of VOLUMES: "train-volume", "train-labels" or "test-volume".
        data_dir: folder holding "<name>.tif". If None, the folder in the environment
            variable UNET_DATA_DIR is used; if that is unset too, the file is downloaded.
        cache_dir: where downloads are kept (default: pooch.os_cache("unet-isbi2012")).
        expected_sha256: {name: pixel sha256} the volume must have; default PIXEL_SHA256,
            the real data's.

    Returns:
        numpy uint8 array of shape (S, H, W); (30, 512, 512) for the real data.

    Raises:
        DataUnavailableError: the file is missing or has the wrong pixels, or no mirror
            could deliver it.
    """
    if name not in VOLUMES:
        raise ValueError(f"name must be one of {VOLUMES}, got {name!r}")
    expected = (PIXEL_SHA256 if expected_sha256 is None else expected_sha256).get(name)
    if expected is None:
        raise DataUnavailableError(f"no pixel sha256 to check {name} against")
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or None
    if data_dir is not None:
        return _load_local(name, Path(data_dir), expected)
    if cache_dir is None:
        cache_dir = pooch.os_cache("unet-isbi2012")
    return _download(name, Path(cache_dir), expected)


def load_isbi2012(
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    expected_sha256: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the training images, training labels and test images of ISBI 2012.

    Args:
        data_dir, cache_dir, expected_sha256: as in load_volume.

    Returns:
        (train_images, train_labels, test_images), numpy uint8 arrays of shape (S, H, W),
        (30, 512, 512) for the real data. Labels: 255 = cell interior, 0 = membrane.
    """
    train_images, train_labels, test_images = (
        load_volume(name, data_dir, cache_dir, expected_sha256) for name in VOLUMES
    )
    if train_images.shape != train_labels.shape:
        raise ValueError(f"train images {train_images.shape} and labels {train_labels.shape} differ in shape")
    not_binary = (train_labels != 0) & (train_labels != 255)
    if not_binary.any():
        raise ValueError(f"labels must be only 0 and 255, found also {np.unique(train_labels[not_binary])[:10]}")
    return train_images, train_labels, test_images


def split_holdout(volume: np.ndarray, n_holdout: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Split a stack into training slices and the last n_holdout slices.

    Args:
        volume: array of shape (S, H, W).
        n_holdout: how many slices to hold out, 1 <= n_holdout <= S - 1.

    Returns:
        (train, holdout): views of shape (S - n_holdout, H, W) and (n_holdout, H, W).
    """
    n_slices = len(volume)
    if isinstance(n_holdout, bool) or not isinstance(n_holdout, (int, np.integer)):
        raise ValueError(f"n_holdout must be an integer, got {n_holdout!r}")
    if not 1 <= n_holdout <= n_slices - 1:
        raise ValueError(f"n_holdout must be between 1 and {n_slices - 1} for {n_slices} slices, got {n_holdout}")
    return volume[:-n_holdout], volume[-n_holdout:]


def _where_to_get_it():
    sources = "\n".join(f"    {url.format(name='<name>')}" for url in mirrors())
    return (
        f"Download train-volume.tif, train-labels.tif and test-volume.tif from one of\n{sources}\n"
        f"(<name> is the file's name without .tif; unzip a .zip), put the three files in one "
        f"folder, and set the environment variable {DATA_DIR_ENV} to that folder "
        f"(or pass data_dir=...)."
    )


def _load_local(name, folder, expected):
    path = folder / f"{name}.tif"
    if not path.is_file():
        where = f"folder {folder}" if folder.is_dir() else f"{folder}, which is not a folder"
        raise DataUnavailableError(f"{path.name} is missing from {where}.\n{_where_to_get_it()}")
    try:
        volume = read_volume(path)
    except ValueError as error:
        raise DataUnavailableError(f"cannot read {path}: {error}\n{_where_to_get_it()}") from error
    actual = pixel_sha256(volume)
    if actual != expected:
        raise DataUnavailableError(
            f"the pixels of {path} are not the expected {name} (pixel sha256 "
            f"{actual}, expected {expected}). The file was left as it is; "
            f"replace it with a good copy.\n{_where_to_get_it()}"
        )
    return volume


def _download(name, cache_dir, expected):
    """The volume from the first mirror that delivers the expected pixels; mirrors already in the cache first,
    so that a volume downloaded once is never downloaded again."""
    folders = {url: cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16] for url in mirrors()}
    cached = [url for url, folder in folders.items() if _target(name, url, folder).exists()]
    failures = []
    for url in cached + [url for url in folders if url not in cached]:
        try:
            return _fetch_verified(name, url, folders[url], expected)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            failures.append(f"  {url.format(name=name)}: {type(error).__name__}: {error}")
            print(f"Refused {name}.tif from {failures[-1].strip()} (nothing of it is kept).")
    raise DataUnavailableError(
        f"could not download {name}.tif from any mirror:\n" + "\n".join(failures) + f"\n{_where_to_get_it()}"
    )


def _fetch_verified(name, url, folder, expected):
    """Download from one mirror into folder (if not there yet), read and verify.
    Anything downloaded that fails is deleted, so that a later call fetches it again."""
    is_zip = url.endswith(".zip")
    download = folder if is_zip else folder / f"{name}.tif"
    try:
        for path in _fetch(name, url, folder, is_zip):
            volume = read_volume(path)
            if pixel_sha256(volume) == expected:
                return volume
        raise ValueError(f"no {name}.tif with the expected pixels (pixel sha256 {expected})")
    except Exception:
        _delete(download)
        raise


def _fetch(name, url, folder, is_zip):
    """Return the paths of the candidate <name>.tif files from one mirror."""
    target = _target(name, url, folder)
    if not target.exists():
        print(f"Downloading {name} from {url.format(name=name)} to {folder} ...")
    with _quiet_pooch():
        if not is_zip:
            path = pooch.retrieve(url.format(name=name), None, fname=target.name, path=folder)
            return [Path(path)]
        members = pooch.retrieve(url, None, fname=target.name, path=folder, processor=pooch.Unzip())
    return sorted(Path(member) for member in members if Path(member).name == f"{name}.tif")


def _target(name, url, folder):
    """Where one mirror's download of the volume is kept: its zip, or its <name>.tif."""
    return folder / ("archive.zip" if url.endswith(".zip") else f"{name}.tif")


@contextlib.contextmanager
def _quiet_pooch():
    """Hide pooch's log lines (they go to stderr) for the duration of a download."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _delete(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
