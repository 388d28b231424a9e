"""Where a wrong part goes wrong, when its numbers match no known mistake (the grader says the same words).

* crop: how its result differs in rank, shape and dtype, and where its window sits in a numbered image
  (``locate_crop``);
* the blocks and the U-Net: ``layer_trace`` records, with forward hooks, each layer's settings and the
  fingerprints of the inputs and output of each attribute the part calls; ``locate_layers`` compares that record
  with the specification's and names the first layer whose settings differ and the first result that differs.
  When the part raises, the record is kept up to the error, with what was seen of it (``raised_at``: the call in
  progress and its inputs, the line of your part that raised), for ``lesson/raising.py`` to say where.

In: fingerprints (``lesson/fingerprint.py``), a crop's first plane, ``layer_trace`` records. Out: (category,
sentence) pairs: a short, stable category for the class view to count, and the sentence the student reads.
"""

import contextlib
import re

import numpy as np

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.fingerprint import TOLERANCE, agree, difference, fingerprint, preferred_names


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


SETTINGS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "ceil_mode",
    "scale_factor",
    "size",
    "mode",
    "align_corners",
    "negative_slope",
)  # the settings layers are told by


def describe_layer(module):
    """A layer's type and settings, the same however they were spelled (kernel_size=3 or (3, 3), padding="valid"
    or 0): {"type": "Conv2d", "in_channels": 4, "kernel_size": [3, 3], ..., "bias": True}."""
    found = {"type": type(module).__name__}
    for name in SETTINGS:
        if hasattr(module, name):
            found[name] = _setting(name, getattr(module, name))
    if hasattr(module, "bias"):
        found["bias"] = module.bias is not None
    return found


def _setting(name, value):
    """One setting as plain data: pairs as [a, b], equal pairs of scale factors as one number."""
    if name in ("kernel_size", "stride", "padding", "dilation"):
        value = 0 if value == "valid" else value
        if isinstance(value, int):
            return [value, value]
        return list(value) if isinstance(value, (tuple, list)) else str(value)
    if name == "scale_factor" and isinstance(value, (tuple, list)) and len(set(value)) == 1:
        value = value[0]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return (
        float(value)
        if isinstance(value, (int, float)) and name == "scale_factor"
        else (value if isinstance(value, (int, float)) else str(value))
    )


def _said(value):
    """A setting as the student wrote it: (3, 3) rather than [3, 3]."""
    return str(tuple(value)) if isinstance(value, list) else repr(value)


def _layer_text(layer):
    """Conv2d(in_channels=4, out_channels=8, kernel_size=(3, 3), ...) from describe_layer's record."""
    settings = ", ".join(f"{name}={_said(value)}" for name, value in layer.items() if name != "type")
    return f"{layer.get('type')}({settings})"


@contextlib.contextmanager
def layer_trace(with_values=True):
    """Record the first call of a module that has layers (the part being tested): the settings of each of its
    layers ({name: describe_layer}), the fingerprints of its inputs, and, for each of its attributes called
    (conv1, activation, contract1, ...) in the order the calls return, the fingerprints of its tensor inputs
    (taken before the call) and of its output. Yields the record {"layers", "input", "calls"}, filled as the calls
    happen; only the part's results are recorded, with the hooks removed at the end. When no such call happens,
    the layers are those of the largest module built in the block. When an error stops the block, the record
    keeps what it holds and adds what was seen of the error as "raised" (``raised_at``), unless the error is a
    part not written yet (a NotImplementedError with no message, as the stubs raise)."""
    import torch
    from torch.nn.modules import module as modules

    record = {"layers": {}, "input": [], "calls": []}
    state = {"root": None, "names": {}, "stack": [], "done": False, "pending": []}
    built = {}

    def prints(values):
        return [fingerprint(value, with_values) for value in values if isinstance(value, torch.Tensor)]

    def safely(hook):
        def run(*args):
            try:
                hook(*args)
            except Exception:  # noqa: BLE001 (a record must never break the part's run)
                state["done"] = True

        return run

    def before(module, args):
        state["pending"].append((module, args))  # every call in progress, for the error that may stop it
        if state["done"]:
            return
        if state["root"] is None:
            if next(module.children(), None) is None:
                return
            state["root"] = module
            named = preferred_names(module.named_modules(remove_duplicate=False))
            state["names"] = {key: name for key, (name, _) in named.items() if name and "." not in name}
            record["layers"] = _layers(named)
            record["input"] = prints(args)
        elif id(module) in state["names"]:
            state["stack"].append((module, prints(args)))

    def after(module, args, output):
        pending = state["pending"]
        ended = next((index for index in range(len(pending) - 1, -1, -1) if pending[index][0] is module), None)
        del pending[len(pending) if ended is None else ended :]
        if state["done"] or state["root"] is None:
            return
        if module is state["root"]:
            state["done"] = True
        elif state["stack"] and state["stack"][-1][0] is module:
            inputs = state["stack"].pop()[1]
            result = prints([output])
            record["calls"].append([state["names"][id(module)], inputs, result[0] if result else None])

    def registered(module, name, layer):
        built.setdefault(id(module), module)

    def largest_built():
        record["layers"] = _layers(preferred_names(_largest(built).named_modules(remove_duplicate=False)))

    handles = [
        modules.register_module_forward_pre_hook(safely(before)),
        modules.register_module_forward_hook(safely(after)),
        modules.register_module_module_registration_hook(safely(registered)),
    ]
    try:
        yield record
    except BaseException as error:
        if not (isinstance(error, NotImplementedError) and not str(error)):  # not a part not written yet
            safely(lambda failure: record.update(raised=raised_at(failure, state, built, prints)))(error)
        raise
    finally:
        for handle in handles:
            handle.remove()
        if state["root"] is None and built:
            safely(largest_built)()


PARTS = ("crop", "ContractingBlock", "ExpandingBlock", "FeatureMapBlock", "UNet")  # the parts you write


def _largest(built):
    """The module with the most submodules among those built {id: module}."""
    return max(built.values(), key=lambda module: len(list(module.modules())))


def raised_at(error, state, built, prints):
    """What `layer_trace` saw of the error that stopped the part: the innermost call in progress of one of its
    layers ("call", and the fingerprints of its "inputs"), whether it came in a later call of the part than the one
    recorded ("again"), the frame of your part's code it came through ("part", "line"), the tensors that frame was
    given (for a crop), and whether it came from a function that computes (interpolation, pooling)."""
    import torch

    root = state["root"] or (_largest(built) if built else None)
    names = (
        state["names"]
        if state["root"] is not None
        else {}
        if root is None
        else {
            key: name for key, (name, _) in preferred_names(root.named_modules(remove_duplicate=False)).items() if name
        }
    )
    call = next(((names[id(module)], args) for module, args in reversed(state["pending"]) if id(module) in names), None)
    frames = part_frames(error, with_frames=True)
    arguments = {}
    if frames:
        frame = frames[0][2]
        code = frame.f_code
        arguments = {
            name: fingerprint(frame.f_locals[name], False)
            for name in code.co_varnames[: code.co_argcount]
            if isinstance(frame.f_locals.get(name), torch.Tensor)
        }
    files = [tb.tb_frame.f_code.co_filename.replace("\\", "/") for tb in tracebacks(error)]
    computing = any("torch/nn/functional" in file or "torchvision" in file for file in files)
    return {
        "call": call and call[0],
        "inputs": prints(call[1]) if call else [],
        "again": state["done"],
        "part": frames[0][0] if frames else None,
        "line": frames[0][1] if frames else "",
        "arguments": arguments,
        "computing": computing or "not implemented for '" in str(error),
    }


def part_frames(error, with_frames=False):
    """[(qualified name, line)] of the frames of your parts' code the error came through, outermost first:
    ("UNet.forward", "x6 = self.expand2(x5, x3)"); the line is "" where its source is not known."""
    import linecache

    found = []
    for tb in tracebacks(error):
        code = tb.tb_frame.f_code
        qualname = getattr(code, "co_qualname", code.co_name)
        if qualname.split(".")[0] in PARTS:
            line = linecache.getline(code.co_filename, tb.tb_lineno, tb.tb_frame.f_globals).strip()
            found.append((qualname, line, tb.tb_frame) if with_frames else (qualname, line))
    return found


def tracebacks(error):
    """The traceback entries of `error`, outermost first (each with its frame and line number)."""
    tb = error.__traceback__
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _layers(named):
    """{name: describe_layer} of the layers (modules without submodules) among `preferred_names`' answer."""
    return {
        name: describe_layer(layer) for name, layer in named.values() if name and next(layer.children(), None) is None
    }


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
