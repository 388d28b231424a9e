"""Recording a part's run, for saying where a wrong part goes wrong (``lesson/locate.py``, ``lesson/raising.py``).

* the blocks and the U-Net: ``layer_trace`` records, with forward hooks, each layer's settings and the
  fingerprints of the inputs and output of each attribute the part calls; ``locate_layers`` (``lesson/locate.py``)
  compares that record with the specification's.
  When the part raises, the record is kept up to the error, with what was seen of it (``raised_at``: the call in
  progress and its inputs, the line of your part that raised), for ``lesson/raising.py`` to say where.
* ``part_frames`` and ``tracebacks``: the frames of your parts' code an error came through (``lesson/stopped.py``
  reads them too).

In: a part's run (fingerprints: ``lesson/fingerprint.py``). Out: ``layer_trace`` records {"layers", "input",
"calls"} (and "raised", when the part raised).
"""

import contextlib

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.fingerprint import fingerprint, preferred_names

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
