"""Which loader the project's own tools (the grader, the demo) read the ISBI 2012 volumes with.

In: the environment variable ``UNET_DATA_LOADER``, ``module:function``, when it is set, else
``data.isbi2012:load_isbi2012``: the real data, each volume checked against its published pixel hashes. The test
suite sets ``data.synthetic:load_dataset`` (tests/conftest.py), which also accepts a folder holding the synthetic
stand-in; the variable reaches every process the tools start (the grader passes it to its workers), so that they
read the data the same way. Out: ``load_dataset(data_dir=None, cache_dir=None)`` -> (train_images, train_labels,
test_images), uint8 arrays of shape (S, H, W), from the chosen loader.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

LOADER_ENV = "UNET_DATA_LOADER"
DEFAULT_LOADER = "data.isbi2012:load_isbi2012"


def loader_name() -> str:
    """The loader in use, as ``module:function``."""
    return os.environ.get(LOADER_ENV) or DEFAULT_LOADER


def load_dataset(
    data_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three volumes from the loader in use, called with (data_dir, cache_dir).

    Raises:
        ValueError: UNET_DATA_LOADER does not name a function as ``module:function``.
    """
    name = loader_name()
    module, _, function = name.partition(":")
    try:
        loader = getattr(importlib.import_module(module), function) if module and function else None
    except (ImportError, AttributeError):
        loader = None
    if not callable(loader):
        raise ValueError(f"{LOADER_ENV}={name!r} names no loader: give module:function, as {DEFAULT_LOADER}")
    return loader(data_dir, cache_dir)
