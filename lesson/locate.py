"""Where a wrong part goes wrong, when its numbers match no known mistake (the grader says the same words).

* crop: how its result differs in rank, shape and dtype, and where its window sits in a numbered image
  (``locate_crop``);
* the blocks and the U-Net: ``locate_layers`` compares a ``layer_trace`` record (``lesson/trace.py``: each layer's
  settings and the fingerprints of the inputs and output of each attribute the part calls) with the
  specification's and names the first layer whose settings differ and the first result that differs.

In: fingerprints (``lesson/fingerprint.py``), a crop's first plane, ``layer_trace`` records. Out: (category,
sentence) pairs: a short, stable category for the class view to count, and the sentence the student reads.
"""

import re

import numpy as np

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.fingerprint import TOLERANCE, agree, difference


def middles(size, window):
    """The offsets of a centred window of `window` pixels in `size`: one on an even margin, either middle on an
    odd one."""
    return sorted({(size - window) // 2, (size - window + 1) // 2})


def window_of(plane):
    """(row, column) where `plane`, the first 2-D plane of a crop of a numbered image (pixel (r, c) holds
    scale * r + c, or its negative), starts in that image, when it is one whole window of it; else None."""
    plane = np.abs(np.asarray(plane, dtype=np.float64))
    if plane.ndim != 2 or min(plane.shape) < 2:
        return None
    scale = plane[1, 0] - plane[0, 0]
    steps = scale * np.arange(plane.shape[0])[:, None] + np.arange(plane.shape[1])
    if scale < plane.shape[1] or not np.array_equal(plane, plane[0, 0] + steps):
        return None
    row, column = divmod(plane[0, 0], scale)
    return int(row), int(column)


def first_plane(values):
    """The first 2-D plane (image 0, channel 0) of a result of rank 2 or more, as a NumPy array; else None."""
    values = np.asarray(values)
    return values.reshape(-1, *values.shape[-2:])[0] if values.ndim >= 2 and values.size else None


def locate_crop(key, want, got, plane=None):
    """(category, sentence): how the crop's result `key` differs in rank, shape, dtype and place from what was
    asked. `want` and `got` are fingerprints ([shape, dtype, ...]); `plane` is the result's first 2-D plane, whose
    values say where its window sits when the key names a numbered "(N, C, H, W) image". None if none of these
    differs."""
    (asked, wanted_type), (shape, dtype) = want[:2], got[:2]
    asked, shape = tuple(asked), tuple(shape)
    named = re.search(r"\((\d+), (\d+), (\d+), (\d+)\) image", key)
    image = (int(named[3]), int(named[4])) if named else None
    found = []
    if len(shape) != len(asked):
        found.append(
            (
                f"a result of rank {len(shape)}",
                f"your crop has rank {len(shape)} (shape {shape}) where a result of rank {len(asked)}, "
                f"{asked}, was asked",
            )
        )
    elif shape != asked:
        if shape[:-2] == asked[:-2] and shape[-2:] == asked[-2:][::-1]:
            found.append(
                (
                    "height and width swapped",
                    f"your crop's height and width are swapped: shape {shape} where {asked} was asked",
                )
            )
        elif image and shape[-1] == image[1] != asked[-1]:
            found.append(
                (
                    "the full width kept",
                    f"your crop keeps the full width of the {image[0]} x "
                    f"{image[1]} input: shape {shape} where {asked} was asked",
                )
            )
        elif image and shape[-2] == image[0] != asked[-2]:
            found.append(
                (
                    "the full height kept",
                    f"your crop keeps the full height of the {image[0]} x "
                    f"{image[1]} input: shape {shape} where {asked} was asked",
                )
            )
        else:
            found.append(("another shape", f"your crop has shape {shape} where {asked} was asked"))
    if dtype.replace("torch.", "") != wanted_type.replace("torch.", ""):
        found.append(
            (
                "another dtype",
                f"your crop is of dtype {dtype.replace('torch.', '')} where the "
                f"input's, {wanted_type.replace('torch.', '')}, was asked",
            )
        )
    if image and plane is not None:
        found += _window_place(window_of(plane), image, asked[-2:])
    return (found[0][0], "; ".join(sentence for _, sentence in found)) if found else None


SELECTS = (
    "a crop selects a window of its input whatever the input's dtype: slicing (image[:, :, top:top + h, "
    "left:left + w]) copies the values, where interpolation, pooling or arithmetic compute new ones"
)


def _window_place(corner, image, size):
    """[(category, sentence)] saying where the crop's window sits in the image, when it is not in the centre."""
    if corner is None:
        return [("not one window of the input", f"your crop's values are not one window of the input's: {SELECTS}")]
    tops, lefts = middles(image[0], size[0]), middles(image[1], size[1])
    if corner[0] in tops and corner[1] in lefts:
        return []
    rows, columns = min(abs(corner[0] - top) for top in tops), min(abs(corner[1] - left) for left in lefts)
    category = (
        "the top-left corner"
        if corner == (0, 0)
        else "window off by one row"
        if (rows, columns) == (1, 0)
        else "window off by one column"
        if (rows, columns) == (0, 1)
        else "window off the centre"
    )

    def either(offsets):
        return " (or ".join(str(offset) for offset in offsets) + ")" * (len(offsets) - 1)

    return [
        (
            category,
            f"your crop starts at row {corner[0]}, column {corner[1]} of the {image[0]} x {image[1]} "
            f"input; the centre window starts at row {either(tops)}, column {either(lefts)}",
        )
    ]


def _said(value):
    """A setting as the student wrote it: (3, 3) rather than [3, 3]."""
    return str(tuple(value)) if isinstance(value, list) else repr(value)


def _layer_text(layer):
    """Conv2d(in_channels=4, out_channels=8, kernel_size=(3, 3), ...) from describe_layer's record."""
    settings = ", ".join(f"{name}={_said(value)}" for name, value in layer.items() if name != "type")
    return f"{layer.get('type')}({settings})"


def locate_layers(mine, references, tolerance=TOLERANCE):
    """(category, sentence): which layer's settings differ from the specification's, and the first recorded
    result (a layer's input or output, in the order the specification's forward calls them) that differs, from
    `layer_trace` records of your part (`mine`) and of the specification's (`references`: one per correct
    answer, the closest is used). None when nothing recorded differs."""
    if not mine or not mine.get("layers") or not references:
        return None
    found = settings_differences(mine, references[0])
    located = [first_difference(mine, theirs, tolerance) for theirs in references]
    found += max(located, key=lambda item: item[0])[1]
    return (found[0][0], "; ".join(sentence for _, sentence in found)) if found else None


def settings_differences(mine, theirs):
    """[(category, sentence)] for the first layer whose settings differ from the table's, counting the others."""
    wrong = [name for name, layer in theirs["layers"].items() if mine["layers"].get(name) != layer]
    if not wrong:
        return []
    name, more = (
        wrong[0],
        (
            " (1 more layer differs too)"
            if len(wrong) == 2
            else f" ({len(wrong) - 1} more layers differ too)"
            if len(wrong) > 2
            else ""
        ),
    )
    mine_, theirs_ = mine["layers"].get(name), theirs["layers"][name]
    if mine_ is None:
        said = f"your part has no layer {name}; the specification's is {_layer_text(theirs_)}"
    elif mine_.get("type") != theirs_["type"]:
        said = f"{name} is {_layer_text(mine_)}; the specification's is {_layer_text(theirs_)}"
    else:
        keys = [key for key in theirs_ if mine_.get(key) != theirs_[key]]
        said = (
            f"{name} has {', '.join(f'{key} {_said(mine_.get(key))}' for key in keys)}; the specification's "
            f"has {', '.join(f'{key} {_said(theirs_[key])}' for key in keys)}"
        )
    return [(f"{name}: other settings than the table's", said + more)]


def first_difference(mine, theirs, tolerance, pending=None, stopped=False):
    """(how many of the specification's calls agree, [(category, sentence)], whether it is the call `pending`) for
    the first call that differs. When your part raised (`stopped`), `pending` is the call it raised in (the last of
    yours, with no output; None when it raised between calls): it differs in its inputs, or it "gets the
    specification's inputs and raises"; when no call before it differs and the specification's forward never
    calls it, nothing is found."""
    seen, agreed, skipped = {}, "", []
    for index, (name, inputs, output) in enumerate(theirs["calls"]):
        seen[name] = occurrence = seen.get(name, -1) + 1
        calls = [call for call in mine["calls"] if call[0] == name]
        if occurrence >= len(calls):
            skipped.append(name)  # not called: said with the first difference, if any
            continue
        where = name + (f" (its call {occurrence + 1})" if occurrence else "")
        before = f"the results agree up to {agreed}; " if agreed else ""
        if skipped:
            before += f"your forward never calls {', '.join(dict.fromkeys(skipped))} where the specification's does; "
        for position, their_input in enumerate(inputs):
            my_input = calls[occurrence][1][position] if position < len(calls[occurrence][1]) else None
            what = f"input {position + 1} of {where}" if len(inputs) > 1 else f"the input of {where}"
            text = difference(what, my_input, their_input, tolerance) if my_input else f"{what} is missing"
            if text:
                category = (
                    f"{skipped[0]}: never called"
                    if skipped
                    else f"{name}: another input {position + 1}"
                    if len(inputs) > 1
                    else f"{name}: another input"
                )
                raised = f", and {where} raised" if calls[occurrence] is pending else ""
                return (
                    index,
                    [(category, f"{before}{text}{_source(my_input, their_input, theirs, tolerance)}{raised}")],
                    calls[occurrence] is pending,
                )
        if calls[occurrence] is pending:
            shapes = " and ".join(str(tuple(one[0])) for one in inputs)
            returns = f", where the specification's returns shape {tuple(output[0])}" if output else ""
            return (
                index,
                [
                    (
                        f"{skipped[0]}: never called" if skipped else f"{name}: raises",
                        f"{before}{where} gets the specification's input{'s' * (len(inputs) > 1)}, of shape "
                        f"{shapes}, and raises{returns}",
                    )
                ],
                True,
            )
        text = difference(f"the output of {where}", calls[occurrence][2], output, tolerance) if output else ""
        if text:
            category = f"{skipped[0]}: never called" if skipped else f"{name}: another output"
            return index, [(category, f"{before}{where} gets the specification's inputs; {text}")], False
        agreed = where
    return len(theirs["calls"]), [] if stopped else _not_called(mine, theirs), False


def _source(mine, theirs, record, tolerance):
    """ ", the output of contract1 where the specification passes contract2's" when both inputs are results the
    specification's forward computes (or its input); "" otherwise."""
    sources = [("the part's input", print_) for print_ in record["input"]]
    sources += [(f"the output of {name}", output) for name, _, output in record["calls"] if output]

    def which(print_):
        found = [label for label, source in sources if print_ and agree({"x": print_}, {"x": source}, tolerance)]
        return found[0] if len(found) == 1 or found and len(print_) > 2 else None  # shapes alone: if only one fits

    if not mine:
        return ""
    mine_from, theirs_from = which(mine), which(theirs)
    if mine_from and theirs_from:
        return (
            f": it is {mine_from} (shape {tuple(mine[0])}) where the specification passes {theirs_from} "
            f"(shape {tuple(theirs[0])})"
        )
    return ""


def _not_called(mine, theirs):
    """[(category, sentence)] when every call recorded agrees: the layers yours never calls, or else where to look."""
    called = {call[0] for call in mine["calls"]}
    missing = [name for name in dict.fromkeys(call[0] for call in theirs["calls"]) if name not in called]
    if missing:
        return [
            (
                f"{missing[0]}: never called",
                f"the sums of the results of every layer your forward calls agree "
                f"with the specification's, but it never calls {', '.join(missing)}, which the specification's "
                f"forward calls",
            )
        ]
    if mine["calls"]:
        return [
            (
                "between or after the layers",
                f"the sums of every layer's inputs and outputs agree with the "
                f"specification's, up to {mine['calls'][-1][0]}: look at what forward passes between its layers "
                f"and what it returns",
            )
        ]
    return []
