"""The second stage of diagnosis: where a wrong part goes wrong, when its numbers match no known mistake.

Computed here, outside the student's process, from what the hidden check sends back
(``autograder/authoring/checks.py``):
* crop: the result's shape, rank and dtype, and, for the check whose input is a numbered image (pixel (r, c)
  holds 1000 r + c), where its window sits in that image (``locate.locate_crop``);
* the blocks and the U-Net: the trace the kernel recorded with forward hooks while the check ran the part
  (``trace.layer_trace``: each layer's settings, and the fingerprints of the inputs and output of each
  attribute called), compared with the same trace of the reference solution, run here: the first layer whose
  settings differ from the table's and the first recorded result that differs (``locate.locate_layers``);
* a part that raised: the same trace, kept up to the error, with the call in progress and the line of the part
  that raised: the layers whose settings differ, the last call that agreed and the call that raised, with the
  shapes it got against the specification's (``raising.locate_raised``); for a crop, on which input, and whether it
  computes where it should select (``raising.locate_crop_raised``).

The sentences are ``lesson/locate.py``'s, so the notebook's visible tests say the same in the same words. A
description is (category, sentence): the category is short and stable ("crop: window off by one row"), for the
class view to count; the sentence is the detail the student reads.
"""

from __future__ import annotations

import functools

import numpy as np

from autograder import assignment
from autograder.judging import fingerprints, verdicts
from lesson import fingerprint, locate, raising
from lesson.trace import layer_trace


def describe(grade_id: str, answer: dict | str | None, trace: dict | None) -> tuple[str, str] | None:
    """(category, sentence) saying where the part of the failed check `grade_id` goes wrong, from its answer
    ({key: Answer}, or the error it raised, "Type: message") and the kernel's layer trace; None when they locate
    nothing."""
    part = assignment.part_of(grade_id)
    if part is None or answer is None:
        return None
    try:
        tolerance = fingerprint.TOLERANCE if assignment.tests()[grade_id].kind != "shape" else None
        if isinstance(answer, str):  # it raised: the trace says where, up to the error
            if part.name == "crop":
                return raising.locate_crop_raised(trace.get("raised") if trace else None)
            return raising.locate_raised(trace, reference_traces(grade_id), tolerance)
        if part.name == "crop":
            return _crop(grade_id, answer)
        return locate.locate_layers(trace, reference_traces(grade_id), tolerance)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):  # a trace the student's code garbled
        return None


def _crop(grade_id, answer):
    """The first of the crop's results that no correct crop gives, located."""
    candidates, kind = verdicts.expected(grade_id), assignment.tests()[grade_id].kind
    for key, want in candidates[0].items():
        got = answer.get(key)
        if got is not None and all(verdicts._difference(kind, got, one[key]) for one in candidates):
            plane = locate.first_plane(np.asarray(got)) if kind != "shape" else None
            return locate.locate_crop(
                key, fingerprints.of_result(want, False), fingerprints.of_result(got, False), plane
            )
    return None


@functools.lru_cache(maxsize=None)
def reference_traces(grade_id: str) -> list[dict]:
    """The reference solution's layer trace for the check `grade_id`, computed once per process."""
    import torch

    test = assignment.tests()[grade_id]
    with torch.no_grad(), layer_trace(test.kind != "shape") as trace:
        test.function(dict(vars(verdicts._reference())))
    return [trace]
