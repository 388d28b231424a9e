"""Imported once, by the fork server the grading workers are forked from (``forked.py``): what every worker would
otherwise import for itself, about 2 s of CPU each time.

Nothing here starts PyTorch's thread pool or CUDA, which a forked child must not inherit started: the imports
below only load modules, and the one call is scikit-image's on a 4 x 4 slice.
"""

import numpy as np
import torch  # noqa: F401  the training check's prediction

import autograder.grading.worker  # noqa: F401  nbgrader, nbconvert, the gradebook, the feedback page
import autograder.judging.verdicts  # noqa: F401
import data.isbi2012  # noqa: F401  the held-out slices
import lesson.training  # noqa: F401
import solutions.reference  # noqa: F401
from lesson.metrics import best_rand_and_info

# scikit-image loads its functions on first use: one tiny call loads those the training check uses
best_rand_and_info(np.full((1, 4, 4), 255, dtype=np.uint8), np.full((1, 4, 4), 0.5))
