"""Metrics for membrane segmentation on ISBI 2012: pixel scores and the challenge's V_rand and V_info.

Conventions (the same as the ISBI labels):
- ``labels`` are uint8 arrays with 255 = cell interior and 0 = membrane.
- ``interior_prob`` is the model's probability of cell interior, ``torch.sigmoid(logits)``, as a
  numpy array of floats in [0, 1]. The membrane probability is ``1 - interior_prob``.
- Every function takes one slice of shape (H, W) or a stack of shape (S, H, W).

Pixel scores (``pixel_accuracy``, ``dice``, ``iou``) judge each pixel on its own. A few wrong pixels
that open a gap in a membrane merge two cells, which these scores barely notice. The challenge
therefore ranked entries by scores that compare *cells*: the predicted map is cut into cells
(``segment_cells``) and the cells are compared with the true ones (``rand_score``, ``info_score``).
"""

from collections.abc import Sequence

import numpy as np

# Whole-module imports: a notebook variable named `label` or `watershed` cannot break these functions.
import skimage.measure
import skimage.metrics
import skimage.segmentation

THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(11))


def _check_same_shape(first, second, first_name, second_name):
    """Raise ValueError unless two arrays have the same shape."""
    if first.shape != second.shape:
        raise ValueError(
            f"{first_name} and {second_name} must have the same shape, "
            f"got {first_name} {first.shape} and {second_name} {second.shape}"
        )


def _check_labels(labels):
    """Return labels as a numpy array; raise ValueError unless 2-D or 3-D with values in {0, 255}."""
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels must have shape (H, W) or (S, H, W), got {labels.shape}")
    if np.any((labels != 0) & (labels != 255)):
        found = np.unique(labels)[:10]
        raise ValueError(f"labels must hold only 0 (membrane) and 255 (interior), found values {found}")
    return labels


def _check_probabilities(interior_prob):
    """Return interior_prob as a float numpy array; raise ValueError unless 2-D or 3-D within [0, 1]."""
    interior_prob = np.asarray(interior_prob, dtype=np.float64)
    if interior_prob.ndim not in (2, 3):
        raise ValueError(f"interior_prob must have shape (H, W) or (S, H, W), got {interior_prob.shape}")
    if np.isnan(interior_prob).any():
        raise ValueError("interior_prob must hold probabilities in [0, 1], found NaN")
    if interior_prob.size and not 0.0 <= interior_prob.min() <= interior_prob.max() <= 1.0:
        raise ValueError(
            "interior_prob must hold probabilities in [0, 1] (apply torch.sigmoid to the logits first), "
            f"found values from {interior_prob.min()} to {interior_prob.max()}"
        )
    return interior_prob


def _check_threshold(threshold):
    """Raise ValueError unless threshold is a number in [0, 1]."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")


def _check_masks(pred_interior, labels):
    """Return (pred_interior, true_interior) as bool arrays after checking dtype, values and shapes."""
    pred_interior = np.asarray(pred_interior)
    if pred_interior.dtype != bool:
        raise ValueError(
            f"pred_interior must be a bool array (for example interior_prob > 0.5), got dtype {pred_interior.dtype}"
        )
    labels = _check_labels(labels)
    _check_same_shape(pred_interior, labels, "pred_interior", "labels")
    return pred_interior, labels == 255


def _per_slice(function, stack_or_slice):
    """Apply function to each (H, W) slice of an (S, H, W) stack, or to a single (H, W) slice."""
    if stack_or_slice.ndim == 2:
        return function(stack_or_slice)
    return np.stack([function(one_slice) for one_slice in stack_or_slice])


def pixel_accuracy(pred_interior: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of pixels whose predicted class (interior or membrane) is right.

    Inputs:
    - pred_interior: bool array of shape (H, W) or (S, H, W), True where the model predicts
      cell interior (for example ``interior_prob > 0.5``).
    - labels: uint8 array of the same shape, 255 = interior and 0 = membrane.

    Returns:
    - accuracy: float in [0, 1], the mean of ``pred_interior == (labels == 255)`` over all pixels.
    """
    pred_interior, true_interior = _check_masks(pred_interior, labels)
    return float(np.mean(pred_interior == true_interior))


def dice(pred_interior: np.ndarray, labels: np.ndarray) -> float:
    """Dice score of the interior class: 2 |P and T| / (|P| + |T|), over all pixels of the input.

    Inputs: as ``pixel_accuracy``. P = predicted interior pixels, T = true interior pixels.

    Returns:
    - dice: float in [0, 1]. 1.0 when both masks are empty (nothing to find, nothing found);
      0.0 when exactly one of them is empty.
    """
    pred_interior, true_interior = _check_masks(pred_interior, labels)
    total = np.count_nonzero(pred_interior) + np.count_nonzero(true_interior)
    if total == 0:
        return 1.0
    return float(2.0 * np.count_nonzero(pred_interior & true_interior) / total)


def iou(pred_interior: np.ndarray, labels: np.ndarray) -> float:
    """Intersection over union (Jaccard index) of the interior class: |P and T| / |P or T|.

    Inputs: as ``pixel_accuracy``. P = predicted interior pixels, T = true interior pixels.

    Returns:
    - iou: float in [0, 1]. 1.0 when both masks are empty; 0.0 when exactly one of them is empty.
    """
    pred_interior, true_interior = _check_masks(pred_interior, labels)
    union = np.count_nonzero(pred_interior | true_interior)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred_interior & true_interior) / union)


def cells_from_labels(labels: np.ndarray) -> np.ndarray:
    """Number the true cells: the 4-connected regions of interior pixels, slice by slice.

    Inputs:
    - labels: uint8 array of shape (H, W) or (S, H, W), 255 = interior and 0 = membrane.

    Returns:
    - cells: int array of the same shape. 0 on membrane pixels; 1, 2, 3, ... for the cells of
      each slice (the numbering starts again at 1 in every slice).
    """
    labels = _check_labels(labels)
    return _per_slice(lambda one_slice: skimage.measure.label(one_slice == 255, connectivity=1), labels)


def _segment_slice(interior_prob, threshold):
    """Watershed segmentation of one (H, W) probability map; see segment_cells."""
    markers = skimage.measure.label(interior_prob > threshold, connectivity=1)
    if markers.all():  # one seed covers the whole slice (say, an all-interior map): nothing is left to flood
        return markers
    return skimage.segmentation.watershed(1.0 - interior_prob, markers, connectivity=1, watershed_line=True)


def segment_cells(interior_prob: np.ndarray, threshold: float) -> np.ndarray:
    """Cut a predicted probability map into numbered cells, slice by slice, as the challenge did.

    Each 4-connected region of ``interior_prob > threshold`` seeds one cell. A watershed of the
    membrane map ``1 - interior_prob`` then grows the seeds until they meet, leaving 1-pixel lines
    between the cells (the "border thinning" of the challenge). With no seed at all (for example
    threshold 1.0) the whole slice is 0.

    Inputs:
    - interior_prob: float array of shape (H, W) or (S, H, W), values in [0, 1].
    - threshold: float in [0, 1].

    Returns:
    - cells: int array of the same shape. 0 on the boundary lines, 1, 2, 3, ... for the cells of
      each slice.
    """
    interior_prob = _check_probabilities(interior_prob)
    _check_threshold(threshold)
    return _per_slice(lambda one_slice: _segment_slice(one_slice, threshold), interior_prob)


def _rand_of_slice(true_cells, pred_cells):
    """V_rand of one slice: 1 - skimage's adapted Rand error (only the error: its precision and
    recall come back swapped, scikit-image issue #6485).

    skimage ignores the true label 0 (membrane), so only true cell pixels are scored. When neither
    segmentation has a pair of pixels in one region (only 1-pixel cells) skimage divides 0 by 0;
    the two then agree on every pair and the score is 1.0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        error = skimage.metrics.adapted_rand_error(true_cells, pred_cells)[0]
    return 1.0 if np.isnan(error) else 1.0 - float(error)


def _info_of_slice(true_cells, pred_cells):
    """V_info of one slice: 2 I(A;B) / (H(A) + H(B)) on the true cell pixels, in [0, 1].

    A = true cells, B = predicted cells (its 0 lines count as one more region). skimage gives the
    conditional entropies H(B|A) and H(A|B) with the true label 0 ignored; H(A) is H(A|one region),
    from the same function. Both partitions a single region (H(A) + H(B) = 0) agree fully: 1.0.
    """
    split_entropy, merge_entropy = skimage.metrics.variation_of_information(true_cells, pred_cells, ignore_labels=(0,))
    one_region = np.zeros_like(true_cells)
    true_entropy = skimage.metrics.variation_of_information(true_cells, one_region, ignore_labels=(0,))[1]
    mutual_info = true_entropy - merge_entropy
    pred_entropy = mutual_info + split_entropy
    if true_entropy + pred_entropy <= 0.0:
        return 1.0
    return float(np.clip(2.0 * mutual_info / (true_entropy + pred_entropy), 0.0, 1.0))


def _scores_by_threshold(labels, interior_prob, thresholds, slice_scores):
    """Mean over the slices with true cells of each slice score, for each threshold.

    Returns a list (one entry per threshold) of lists (one mean per function in slice_scores).
    Slices whose labels hold no interior pixel are left out; with none left every mean is 1.0.
    """
    labels = _check_labels(labels)
    interior_prob = _check_probabilities(interior_prob)
    _check_same_shape(interior_prob, labels, "interior_prob", "labels")
    true_cells = cells_from_labels(labels).reshape((-1,) + labels.shape[-2:])
    interior_prob = interior_prob.reshape(true_cells.shape)
    scored = [i for i in range(len(true_cells)) if true_cells[i].any()]
    for threshold in thresholds:
        _check_threshold(threshold)
    results = []
    for threshold in thresholds:
        per_slice = np.ones((max(len(scored), 1), len(slice_scores)))
        for row, i in enumerate(scored):
            pred_cells = _segment_slice(interior_prob[i], threshold)
            per_slice[row] = [score(true_cells[i], pred_cells) for score in slice_scores]
        results.append(per_slice.mean(axis=0).tolist())
    return results


def rand_score(labels: np.ndarray, interior_prob: np.ndarray, threshold: float) -> float:
    """Foreground-restricted Rand score V_rand of the ISBI 2012 challenge, at one threshold.

    The true cells (``cells_from_labels``) are compared with the predicted cells
    (``segment_cells``) by counting pairs of true cell pixels: the score is the F-score of "this
    pair lies in one cell" (1.0 = the same cells; merges and splits both lower it). Membrane
    pixels of the labels are not scored. Computed per slice and averaged over slices.

    Inputs:
    - labels: uint8 array of shape (H, W) or (S, H, W), 255 = interior and 0 = membrane.
    - interior_prob: float array of the same shape, values in [0, 1].
    - threshold: float in [0, 1], used by ``segment_cells``.

    Returns:
    - v_rand: float in [0, 1], higher is better. Slices whose labels have no interior pixel have
      nothing to score and are left out of the mean; if all slices are like that, 1.0.
    """
    return _scores_by_threshold(labels, interior_prob, (threshold,), (_rand_of_slice,))[0][0]


def info_score(labels: np.ndarray, interior_prob: np.ndarray, threshold: float) -> float:
    """Information-theoretic score V_info of the ISBI 2012 challenge, at one threshold.

    V_info = 2 I(A;B) / (H(A) + H(B)) over the true cell pixels, where A = true cells,
    B = predicted cells (``segment_cells``), H = entropy and I = mutual information, all in bits.
    1.0 = the same cells. Computed per slice and averaged over slices.

    Inputs and the handling of slices without interior pixels: as ``rand_score``.

    Returns:
    - v_info: float in [0, 1], higher is better.
    """
    return _scores_by_threshold(labels, interior_prob, (threshold,), (_info_of_slice,))[0][0]


def best_rand_and_info(
    labels: np.ndarray, interior_prob: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> dict[str, float]:
    """Best V_rand and best V_info over a set of thresholds, as the challenge reported them.

    Each score is maximized on its own, so the two best thresholds may differ. On ties the
    smaller threshold wins.

    Inputs:
    - labels: uint8 array of shape (H, W) or (S, H, W), 255 = interior and 0 = membrane.
    - interior_prob: float array of the same shape, values in [0, 1].
    - thresholds: sequence of floats in [0, 1]; by default 0.0, 0.1, ..., 1.0.

    Returns a dict with float values:
    - "v_rand", "v_rand_threshold": the best V_rand and the threshold that gave it.
    - "v_info", "v_info_threshold": the best V_info and the threshold that gave it.
    """
    thresholds = list(thresholds)
    if not thresholds:
        raise ValueError("thresholds must hold at least one threshold")
    scores = _scores_by_threshold(labels, interior_prob, thresholds, (_rand_of_slice, _info_of_slice))
    best_rand = int(np.argmax([rand for rand, _ in scores]))
    best_info = int(np.argmax([info for _, info in scores]))
    return {
        "v_rand": scores[best_rand][0],
        "v_rand_threshold": float(thresholds[best_rand]),
        "v_info": scores[best_info][1],
        "v_info_threshold": float(thresholds[best_info]),
    }


def evaluate(
    interior_prob: np.ndarray, labels: np.ndarray, threshold: float = 0.5, thresholds: Sequence[float] = THRESHOLDS
) -> dict[str, float]:
    """All the metrics of this lesson for one prediction.

    Inputs:
    - interior_prob: float array of shape (H, W) or (S, H, W), the predicted probability of cell
      interior (``torch.sigmoid(logits)``), values in [0, 1].
    - labels: uint8 array of the same shape, 255 = interior and 0 = membrane.
    - threshold: float in [0, 1]; pixels with ``interior_prob > threshold`` count as interior
      for the pixel scores.
    - thresholds: the thresholds V_rand and V_info are best over (default 0.0, 0.1, ..., 1.0). For a
      map that is the same everywhere, one threshold below 1 gives them all: ``thresholds=[0.5]``.

    Returns a dict with float values:
    - "pixel_accuracy", "dice", "iou": pixel scores of ``interior_prob > threshold``.
    - "v_rand", "v_rand_threshold", "v_info", "v_info_threshold": see ``best_rand_and_info``.

    Raises ValueError when the shapes differ, a probability lies outside [0, 1] or a label is
    neither 0 nor 255.
    """
    interior_prob = _check_probabilities(interior_prob)
    labels = _check_labels(labels)
    _check_same_shape(interior_prob, labels, "interior_prob", "labels")
    _check_threshold(threshold)
    pred_interior = interior_prob > threshold
    results = {
        "pixel_accuracy": pixel_accuracy(pred_interior, labels),
        "dice": dice(pred_interior, labels),
        "iou": iou(pred_interior, labels),
    }
    results.update(best_rand_and_info(labels, interior_prob, thresholds))
    return results


def cross_entropy(labels: np.ndarray, interior_prob: np.ndarray) -> float:
    """Mean binary cross-entropy (nats per pixel) of interior probabilities against the labels.

    Inputs: labels uint8 (H, W) or (S, H, W), 255 = interior; interior_prob float, same shape, in [0, 1]
    (clipped to [1e-6, 1 - 1e-6]). Returns a float >= 0: 0.69 for 0.5 everywhere, 0 for a perfect certain map.
    """
    labels, interior_prob = _check_labels(labels), _check_probabilities(interior_prob)
    _check_same_shape(interior_prob, labels, "interior_prob", "labels")
    interior, prob = labels > 0, np.clip(interior_prob, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(interior, np.log(prob), np.log1p(-prob))))
