"""Synthetic EM-like volumes for tests and quick runs without the real ISBI 2012 data.

The volumes imitate the look of ssTEM sections: Voronoi-like cells (about 100 per
512 x 512 pixels) with wavy, dark membranes about 4-7 px wide (the real labels measure
about 6-7 px, 22 % membrane), a brighter textured interior with a few dark organelles,
noise and a slight blur. Labels follow the ISBI 2012 convention (255 = cell interior,
0 = membrane). Cells drift slowly from slice to slice, so consecutive slices look alike.
All features have fixed sizes in pixels: a larger ``size`` shows more cells, not bigger ones.

Usage from the command line::

    python -m data.synthetic OUT_DIR [--size 256] [--slices 30] [--seed 0]

This writes ``train-volume.tif``, ``train-labels.tif``, ``test-volume.tif`` and
``synthetic.json`` (their pixel hashes). ``load_dataset`` (the loader of the benchmarks and the tests, and of
the grader and the demo when ``UNET_DATA_LOADER=data.synthetic:load_dataset``: ``data/source.py``) accepts such a
folder as ``data_dir`` or ``UNET_DATA_DIR`` and prints a line saying the data is synthetic; for anything else it is
``data.isbi2012.load_isbi2012``.

The notebook's own loader (``data/isbi2012.py``, carried into the student's notebook) knows only the real
data. To run a notebook on the stand-in, ``with_stand_in`` adds a cell after that loader which checks the
volumes against the hashes of the folder's ``synthetic.json`` (the test suite does this when the real data
is absent).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.segmentation import find_boundaries

from data.isbi2012 import DATA_DIR_ENV, DataUnavailableError, load_isbi2012, pixel_sha256

MANIFEST = "synthetic.json"

CELLS_PER_512_SQUARED = 100
MEMBRANE_MEAN = 85.0
INTERIOR_MEAN = 138.0


def make_em_volume(n_slices: int = 30, size: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Make an EM-like image stack and its membrane labels.

    Args:
        n_slices: number of slices S (>= 1).
        size: height and width H = W of every slice in pixels (>= 32).
        seed: integer seed; the same seed always gives the same volume.

    Returns:
        (images, labels), both numpy uint8 arrays of shape (S, H, W).
        images: grey values, membranes dark (mean about 85), interior brighter (about 138).
        labels: 255 = cell interior, 0 = membrane (about 15-30 % of the pixels).
    """
    return _generate(n_slices, size, np.random.default_rng(seed))


def write_synthetic_dataset(folder: str | os.PathLike, n_slices: int = 30, size: int = 256, seed: int = 0) -> Path:
    """Write a synthetic stand-in for the ISBI 2012 folder and return its path.

    Writes ``train-volume.tif`` and ``train-labels.tif`` (``make_em_volume(n_slices, size,
    seed)``), ``test-volume.tif`` (another volume from the same seed), all as ImageJ
    multi-page TIFFs like the real files, and ``synthetic.json`` with their pixel sha256
    hashes and the generator settings.

    Args:
        folder: where to write (created if needed).
        n_slices, size, seed: as in ``make_em_volume``.

    Returns:
        The folder as a ``pathlib.Path``.
    """
    train_images, train_labels = make_em_volume(n_slices, size, seed)
    test_images, _ = _generate(n_slices, size, np.random.default_rng([seed, 1]))
    volumes = {"train-volume": train_images, "train-labels": train_labels, "test-volume": test_images}
    return write_volumes(
        folder, volumes, generator="data.synthetic.make_em_volume", n_slices=n_slices, size=size, seed=seed
    )


def write_volumes(folder: str | os.PathLike, volumes: dict[str, np.ndarray], **settings: object) -> Path:
    """Write volumes as ImageJ TIFFs plus a synthetic.json manifest of their pixel hashes.

    Args:
        folder: where to write (created if needed).
        volumes: dict {name: uint8 array of shape (S, H, W)}, written to "<name>.tif".
        settings: extra JSON-serialisable entries for the manifest (how the data was made).

    Returns:
        The folder as a ``pathlib.Path``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, volume in volumes.items():
        tifffile.imwrite(
            folder / f"{name}.tif", volume, imagej=True, metadata={"axes": "ZYX"}, photometric="minisblack"
        )
    manifest = {"pixel_sha256": {name: pixel_sha256(volume) for name, volume in volumes.items()}, **settings}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def manifest_sha256(folder: str | os.PathLike) -> dict[str, str] | None:
    """The pixel hashes the folder's synthetic.json declares, or None when the folder has none.

    Raises:
        DataUnavailableError: synthetic.json is there but holds no ``pixel_sha256`` mapping.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        hashes = json.loads(path.read_text())["pixel_sha256"]
    except (ValueError, KeyError, TypeError) as error:
        raise DataUnavailableError(f"{path} has no pixel_sha256") from error
    if not isinstance(hashes, dict):
        raise DataUnavailableError(f"{path} has no pixel_sha256")
    return hashes


def load_dataset(
    data_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``load_isbi2012``, or the synthetic stand-in in a folder with synthetic.json, checked against its hashes.

    Args:
        data_dir: the data folder; default the environment variable UNET_DATA_DIR; with neither, the real
            data is downloaded (``load_isbi2012``).
        cache_dir: as in ``load_isbi2012``.

    Returns:
        (train_images, train_labels, test_images), uint8 arrays of shape (S, H, W).
    """
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    hashes = manifest_sha256(folder) if folder is not None else None
    if hashes is not None:
        missing = [name for name in ("train-volume", "train-labels", "test-volume") if name not in hashes]
        if missing:
            raise DataUnavailableError(f"{Path(folder) / MANIFEST} has no pixel_sha256 for {', '.join(missing)}")
        print(f"Using SYNTHETIC data, not ISBI 2012, from {folder} (it has {MANIFEST}).")
    return load_isbi2012(data_dir, cache_dir, expected_sha256=hashes)


# Added after the notebook's loader by with_stand_in(): the notebook then accepts the stand-in folder.
STAND_IN_SOURCE = f"""# Not part of the assignment: the course's tests run this notebook on a synthetic stand-in
# for ISBI 2012 (data/synthetic.py). When UNET_DATA_DIR holds one, its volumes are checked against the
# hashes in its {MANIFEST}.
import json as _json, os as _os, pathlib as _pathlib
_manifest = _pathlib.Path(_os.environ.get("{DATA_DIR_ENV}") or "/nonexistent") / "{MANIFEST}"
if _manifest.is_file():
    PIXEL_SHA256 = _json.loads(_manifest.read_text())["pixel_sha256"]
    print(f"Using SYNTHETIC data, not ISBI 2012, from {{_manifest.parent}}")"""
STAND_IN_CELL_ID = "synthetic-stand-in"


def with_stand_in(notebook: dict, manifest: str | os.PathLike | None = None) -> dict:
    """Add the cell STAND_IN_SOURCE right after the cell that defines ``load_isbi2012``; returns the notebook.

    Works on nbformat notebooks and on their plain JSON form, in any nbformat 4 minor version. With `manifest`
    (a stand-in's synthetic.json), the cell reads that file instead of UNET_DATA_DIR's: the notebook then
    accepts the stand-in's volumes from wherever it gets them, downloads included (tests/test_colab_runtime.py).

    Raises:
        ValueError: no cell of the notebook defines load_isbi2012.
    """
    cells = notebook["cells"]
    index = next((i for i, cell in enumerate(cells) if "def load_isbi2012(" in _text(cell.get("source", ""))), None)
    if index is None:
        raise ValueError("no cell of the notebook defines load_isbi2012")
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": STAND_IN_SOURCE}
    if manifest is not None:
        cell["source"] = STAND_IN_SOURCE.replace(
            f'_pathlib.Path(_os.environ.get("{DATA_DIR_ENV}") or "/nonexistent") / "{MANIFEST}"',
            f"_pathlib.Path({str(Path(manifest).resolve())!r})",
        )
    if notebook.get("nbformat_minor", 0) >= 5:
        cell["id"] = STAND_IN_CELL_ID
    if hasattr(notebook, "cells"):  # an nbformat notebook: a NotebookNode cell
        import nbformat

        cell = nbformat.from_dict(cell)
    cells.insert(index + 1, cell)
    return notebook


def _text(source):
    return "".join(source) if isinstance(source, list) else source


def _generate(n_slices, size, rng):
    _check_int("n_slices", n_slices, minimum=1)
    _check_int("size", size, minimum=32)
    cells = _cell_ids(n_slices, size, rng)
    membrane = _membranes(cells, rng)
    images = _render(cells, membrane, rng)
    labels = np.where(membrane, 0, 255).astype(np.uint8)
    return images, labels


def _check_int(what, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _smooth_noise(rng, n_slices, size, feature_px):
    """Zero-mean, unit-std noise of shape (S, size, size) with blobs about feature_px wide,
    varying smoothly along the slices too (Gaussian-filtered in Fourier space)."""
    spectrum = np.fft.rfftn(rng.standard_normal((n_slices, size, size)))
    spectrum = ndimage.fourier_gaussian(spectrum, (1.5, feature_px / 4, feature_px / 4), n=size)
    noise = np.fft.irfftn(spectrum, s=(n_slices, size, size), axes=(0, 1, 2))
    return (noise - noise.mean()) / (noise.std() + 1e-12)


def _cell_ids(n_slices, size, rng):
    """Voronoi cells of slowly drifting seeds, on wavy coordinates: (S, H, W) int ids."""
    margin = size // 8
    span = size + 2 * margin
    n_cells = max(4, round(CELLS_PER_512_SQUARED * span**2 / 512**2))
    seeds = rng.uniform(-margin, size + margin, (n_cells, 2))
    velocity = rng.normal(0.0, 0.8, (n_cells, 2))  # pixels per slice
    warp = 6.0 * np.stack([_smooth_noise(rng, n_slices, size, 40) for _ in range(2)], axis=-1)
    grid = np.stack(np.mgrid[0:size, 0:size], axis=-1).astype(float)
    cells = np.empty((n_slices, size, size), dtype=np.int64)
    for z in range(n_slices):
        _, cells[z] = cKDTree(seeds + z * velocity).query(grid + warp[z])
    return cells


def _membranes(cells, rng):
    """Cell borders about 4-7 px wide (True = membrane), the width varying smoothly."""
    n_slices, size, _ = cells.shape
    extra_width = np.clip(_smooth_noise(rng, n_slices, size, 32) * 0.8 + 2.2, 1, 3.5)
    membrane = np.empty(cells.shape, dtype=bool)
    for z in range(n_slices):
        border = find_boundaries(cells[z], mode="thick")
        membrane[z] = ndimage.distance_transform_edt(~border) <= extra_width[z]
    return membrane


def _render(cells, membrane, rng):
    """Grey values: textured interior with dark organelles, dark membranes, noise, blur."""
    n_slices, size, _ = cells.shape
    cell_offset = rng.normal(0.0, 0.12, cells.max() + 1)[cells]
    organelles = _smooth_noise(rng, n_slices, size, 10) > 1.6
    shading = 0.08 * _smooth_noise(rng, n_slices, size, 80)
    texture = ndimage.gaussian_filter(rng.standard_normal(cells.shape), (0, 1.0, 1.0))
    raw = np.where(membrane, 0.0, 1.0 + cell_offset - 0.5 * organelles)
    raw = ndimage.gaussian_filter(raw + shading + 1.4 * texture, (0, 0.8, 0.8))
    scale = (INTERIOR_MEAN - MEMBRANE_MEAN) / (raw[~membrane].mean() - raw[membrane].mean())
    images = MEMBRANE_MEAN + scale * (raw - raw[membrane].mean())
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m data.synthetic OUT_DIR [--size N --slices N --seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the TIFFs and synthetic.json")
    parser.add_argument("--size", type=int, default=256, help="height and width in pixels")
    parser.add_argument("--slices", type=int, default=30, help="number of slices per volume")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    folder = write_synthetic_dataset(args.out_dir, args.slices, args.size, args.seed)
    shape = f"{args.slices} x {args.size} x {args.size}"
    print(f"Wrote a synthetic ISBI-like dataset ({shape}) to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
