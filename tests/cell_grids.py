"""Hand-made label maps for the metric and policy tests."""

import numpy as np


def cell_grid(size=64, spacing=16):
    """Labels (1, size, size): square cells (255) between 2 px membranes (0) every `spacing` pixels."""
    labels = np.full((1, size, size), 255, dtype=np.uint8)
    for start in range(0, size, spacing):
        labels[:, start : start + 2, :] = 0
        labels[:, :, start : start + 2] = 0
    return labels
