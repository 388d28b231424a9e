"""The grader's own checks: verdicts computed outside the student's Python process.

A submission's kernel runs the student's code, and that code can change anything in that process: patch
``torch.allclose`` or ``isinstance``, return tensors whose ``.shape`` equals anything, swallow a test's
``AssertionError`` with ``sys.excepthook`` or ``get_ipython().set_custom_exc``, fake a test's printed output.
So no verdict the kernel reports is trusted on its own. After each graded test cell, ``GradingExecute`` runs a
probe in the kernel (``kernel_code``): it builds the student's part with weights and inputs drawn from fixed
seeds, runs it, and sends back only the raw numbers (float32 arrays, as base64 in a display message). The
grader runs the same probe on the reference solution in its own process (``expected``) and compares
(``compare``). A part that does not compute what the specification says cannot produce those numbers, however
the kernel is patched; tampering with the probe can only make it fail. A test passes only when its own
asserts passed in the kernel *and* the grader's check agrees.

Parts that depend on others are probed with correct dependencies (the reference ``crop`` and blocks), as the
hidden tests do, so one broken part costs only its own points. The training test's check puts the trained
weights into the reference U-Net, here in the grader, and asks the held-out slices for the mode's quality
(``autograder.policy.training_shortfall``). That stands for the student's run only when the reference U-Net
computes what the student's does, that is when every part passed its check; otherwise the training test
fails too, with a message saying why (the one place where a broken part costs more than its own tests: the
alternative, trusting the kernel's word on training, would let any submission take those points).
"""
import base64
import binascii
import functools
import itertools
import json

import nbformat
import numpy as np

from solutions.reference import PRELUDE, SOURCE_NOTEBOOK, load_reference, solution_cells

MIME = "application/x-unet-grader-check+json"
CHECK_FAILED = "GraderCheckFailed"
ATOL = RTOL = 1e-4

# Kernel side: the probe's helpers, the seeded weights and inputs. The same code runs in the grader.
HELPERS = '''
import torch

def randn(shape, seed):
    """A standard-normal tensor drawn from its own seed (the global generator is left alone)."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))

def seeded(module, names, seed):
    """Set the named parameters of `module` ("conv1.weight", ...) to seeded values; returns them."""
    values = {}
    for number, name in enumerate(names):
        parameter = module.get_parameter(name)
        parameter.copy_(0.3 * randn(parameter.shape, seed * 1000 + number))
        values[name] = parameter
    return values

def conv_names(*convs):
    return [f"{conv}.{kind}" for conv in convs for kind in ("weight", "bias")]

UNET_CONVS = ["upfeature.conv", *[f"contract{i}.conv{j}" for i in range(1, 5) for j in (1, 2)],
              *[f"expand{i}.conv{j}" for i in range(1, 5) for j in (1, 2, 3)], "downfeature.conv"]
'''

PROBES = {
    "test_crop_shape": ("shape", '''
def probe(ns):
    cases = [((2, 3, 254, 254), (2, 3, 193, 193)), ((3, 2, 40, 64), (3, 2, 20, 30)),
             ((1, 1, 64, 40), (1, 1, 31, 25)), ((1, 1, 125, 125), (1, 1, 101, 101))]
    return {f"crop of {big} to {small}": ns["crop"](randn(big, i), torch.Size(small))
            for i, (big, small) in enumerate(cases)}
'''),
    "test_crop_centre": ("crop", '''
def probe(ns):
    out = {}
    for height, width, h, w in [(254, 254, 193, 193), (60, 60, 55, 55), (40, 64, 20, 30), (64, 40, 31, 25),
                                (30, 18, 2, 18)]:
        rows, columns = torch.meshgrid(torch.arange(float(height)), torch.arange(float(width)), indexing="ij")
        image = torch.stack([1000 * rows + columns, -(1000 * rows + columns)]).expand(3, 2, height, width)
        out[f"crop of {(3, 2, height, width)} to {(3, 2, h, w)}"] = ns["crop"](image.clone(), (3, 2, h, w))
    return out
'''),
    "test_contracting_block_shape": ("shape", '''
def probe(ns):
    cases = [(10, (5, 10, 50, 50)), (3, (2, 3, 61, 40)), (1, (1, 1, 13, 13))]
    return {f"ContractingBlock({c}) on {shape}": ns["ContractingBlock"](c)(randn(shape, i))
            for i, (c, shape) in enumerate(cases)}
'''),
    "test_contracting_block_layers": ("values", '''
def probe(ns):
    block = ns["ContractingBlock"](8)
    out = seeded(block, conv_names("conv1", "conv2"), 1)
    x = randn((2, 8, 11, 10), 2)
    out.update({"conv1(x)": block.conv1(x), "conv2(conv1(x))": block.conv2(block.conv1(x)),
                "activation(x)": block.activation(x.clone()), "maxpool(x)": block.maxpool(x)})
    return out
'''),
    "test_contracting_block_forward": ("values", '''
def probe(ns):
    block = ns["ContractingBlock"](4)
    seeded(block, conv_names("conv1", "conv2"), 3)
    return {f"forward on {shape}": block(randn(shape, i)) for i, shape in enumerate([(2, 4, 20, 20), (1, 4, 33, 26)])}
'''),
    "test_expanding_block_shape": ("shape", '''
def probe(ns):
    cases = [(16, (2, 16, 12, 12), (2, 8, 30, 30)), (8, (3, 8, 10, 7), (3, 4, 25, 20)), (4, (1, 4, 5, 5), (1, 2, 9, 9))]
    return {f"ExpandingBlock({c}) on x {x} and skip {skip}": ns["ExpandingBlock"](c)(randn(x, i), randn(skip, i + 9))
            for i, (c, x, skip) in enumerate(cases)}
'''),
    "test_expanding_block_layers": ("values", '''
def probe(ns):
    block = ns["ExpandingBlock"](16)
    out = seeded(block, conv_names("conv1", "conv2", "conv3"), 4)
    x, joined = randn((2, 16, 7, 9), 5), randn((2, 16, 12, 10), 6)
    out.update({"upsample(x)": block.upsample(x), "conv1(x)": block.conv1(x), "conv2(x)": block.conv2(joined),
                "conv3(conv2(x))": block.conv3(block.conv2(joined)), "activation(x)": block.activation(x.clone())})
    return out
'''),
    "test_expanding_block_forward": ("values", '''
def probe(ns):
    block = ns["ExpandingBlock"](8)
    seeded(block, conv_names("conv1", "conv2", "conv3"), 7)
    cases = [((2, 8, 9, 9), (2, 4, 21, 21)), ((1, 8, 7, 11), (1, 4, 16, 24))]
    return {f"forward on x {x} and skip {skip}": block(randn(x, i), randn(skip, i + 9)) for i, (x, skip) in enumerate(cases)}
'''),
    "test_feature_map_block": ("values", '''
def probe(ns):
    out = {}
    for i, (c_in, c_out, shape) in enumerate([(10, 60, (1, 10, 5, 5)), (1, 64, (2, 1, 17, 9))]):
        block = ns["FeatureMapBlock"](c_in, c_out)
        seeded(block, conv_names("conv"), 8 + i)
        out[f"FeatureMapBlock({c_in}, {c_out}) on {shape}"] = block(randn(shape, i))
    return out
'''),
    "test_unet_shape": ("shape", '''
def probe(ns):
    cases = [((1, 3, 4), (1, 1, 256, 256)), ((2, 5, 4), (2, 2, 208, 208)), ((1, 1, 2), (1, 1, 300, 256))]
    return {f"UNet{args} on {shape}": ns["UNet"](*args)(randn(shape, i)) for i, (args, shape) in enumerate(cases)}
'''),
    "test_unet_layers": ("shape", '''
def probe(ns):
    out = {}
    for hidden in (4, 5):
        values = seeded(ns["UNet"](2, 3, hidden_channels=hidden), conv_names(*UNET_CONVS), hidden)
        out.update({f"UNet(2, 3, hidden_channels={hidden}): {name}": value for name, value in values.items()})
    return out
'''),
    "test_unet_forward": ("values", '''
def probe(ns):
    model = ns["UNet"](2, 3, hidden_channels=2)
    seeded(model, conv_names(*UNET_CONVS), 11)
    return {"UNet(2, 3, hidden_channels=2) on (2, 2, 200, 184)": model(randn((2, 2, 200, 184), 12))}
'''),
    "test_training": ("training", '''
def probe(ns):
    model = ns["model"]
    return {name: model.get_parameter(name) for name in conv_names(*UNET_CONVS)}
'''),
}

# What each check needs correct versions of (from the reference solution), so it grades one part alone.
DEPENDENCIES = {"test_expanding_block_shape": ("crop",), "test_expanding_block_layers": ("crop",),
                "test_expanding_block_forward": ("crop",),
                **{test: ("crop", "ContractingBlock", "ExpandingBlock", "FeatureMapBlock")
                   for test in ("test_unet_shape", "test_unet_layers", "test_unet_forward")}}
SOLUTION_OF = {"crop": "crop", "ContractingBlock": "contracting_block", "ExpandingBlock": "expanding_block",
               "FeatureMapBlock": "feature_map_block"}    # the solution cell (grade_id) defining each name
# The checks that must have passed before the reference U-Net can stand in for the student's: all the parts'.
ARCHITECTURE = tuple(test for test in PROBES if test != "test_training")

KERNEL_TEMPLATE = '''
def _grader_check():
    import base64, json
    from IPython import get_ipython
    from IPython.display import publish_display_data
    code = {code!r}
    ns, scope, dependencies = get_ipython().user_ns, {{}}, {{}}
    exec(code, scope)
    exec({dependencies!r}, dependencies)
    swapped = {{name: ns[name] for name in {names!r} if name in ns}}
    ns.update({{name: dependencies[name] for name in {names!r}}})
    try:
        with scope["torch"].no_grad():
            arrays = {{str(key): scope["torch"].as_tensor(value).detach().to("cpu", scope["torch"].float32).numpy()
                      for key, value in scope["probe"](ns).items()}}
        message = {{"arrays": {{key: {{"shape": list(array.shape),
                                     "data": "" if {shapes_only!r} else base64.b64encode(array.tobytes()).decode()}}
                               for key, array in arrays.items()}}}}
    except BaseException as error:
        message = {{"error": f"{{type(error).__name__}}: {{error}}"[:500]}}
    finally:
        for name in {names!r}:
            ns.pop(name, None)
        ns.update(swapped)
    publish_display_data({{{mime!r}: json.dumps(message)}})
_grader_check()
del _grader_check
'''


def has_check(grade_id):
    return grade_id in PROBES


def kernel_code(grade_id):
    """The code GradingExecute runs in the kernel after the test cell `grade_id`."""
    kind, probe = PROBES[grade_id]
    names = DEPENDENCIES.get(grade_id, ())
    solutions = _solutions()                  # only the parts named: their tests ran before this check
    dependencies = "\n\n".join(solutions[SOLUTION_OF[name]] for name in names)
    return KERNEL_TEMPLATE.format(code=HELPERS + probe, dependencies=PRELUDE + dependencies, names=list(names),
                                  shapes_only=kind == "shape", mime=MIME)


def read_message(outputs):
    """The probe's arrays {key: float32 array} from the probe cell's outputs; raises ValueError if unreadable."""
    for output in outputs:
        text = output.get("data", {}).get(MIME) if output.get("output_type") == "display_data" else None
        if text is None:
            continue
        try:
            message = json.loads(text)
            error = message.get("error")
            arrays = None if error else {key: _array(entry) for key, entry in message["arrays"].items()}
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as error:
            raise ValueError(f"its answer could not be read ({type(error).__name__})") from None
        if error:
            raise ValueError(f"it raised {error}")
        return arrays
    raise ValueError("it sent no answer (was the kernel's output changed?)")


def _array(entry):
    shape = tuple(int(side) for side in entry["shape"])
    if entry["data"] == "":                          # a shape-only answer
        return np.broadcast_to(np.float32(0), shape)
    data = np.frombuffer(base64.b64decode(entry["data"], validate=True), dtype=np.float32)
    if data.size != int(np.prod(shape)):
        raise TypeError("size does not match shape")
    return data.reshape(shape)


def expected(grade_id):
    """The reference's answers to the probe: a list of candidates {key: array} (crop has 4 correct roundings)."""
    _, probe = PROBES[grade_id]
    reference = vars(_reference())
    namespaces = [reference]
    if grade_id.startswith("test_crop"):
        namespaces = [{**reference, "crop": _crop_at(top, left)} for top, left in itertools.product((0, 1), repeat=2)]
    import torch                                     # here, not above: the worker imports it while the kernel starts
    answers = []
    for namespace in namespaces:
        scope = {}
        exec(HELPERS + probe, scope)
        with torch.no_grad():
            answers.append({str(key): torch.as_tensor(value).detach().float().numpy()
                            for key, value in scope["probe"](namespace).items()})
    return answers


def _crop_at(round_top, round_left):
    """A correct crop taking the lower (0) or upper (1) middle offset when a margin is odd."""
    def crop(image, new_shape):
        top = (image.shape[2] - new_shape[2] + round_top) // 2
        left = (image.shape[3] - new_shape[3] + round_left) // 2
        return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]
    return crop


def compare(grade_id, actual, candidates):
    """"" when `actual` agrees with one of the candidates for every key, else what differs (for the student)."""
    kind, _ = PROBES[grade_id]
    problems = []
    for key in candidates[0]:
        found = [_difference(kind, actual.get(key), answer[key]) for answer in candidates]
        if all(found):
            problems.append(f"{key}: {found[0]}")
    return "; ".join(problems[:3])


def _difference(kind, got, want):
    if got is None:
        return "no result"
    if got.shape != want.shape:
        return f"shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    if kind == "shape":
        return ""
    if not np.all(np.isfinite(got)):
        return "values that are not finite"
    if kind == "crop":
        return "" if np.array_equal(got, want) else "a different window of the image than the centre"
    if np.allclose(got, want, atol=ATOL, rtol=RTOL):
        return ""
    return f"values differ from the specification's by up to {float(np.max(np.abs(got - want))):.4g}"


def training_shortfall(weights, config, mode):
    """The trained weights {name: array} in the reference U-Net, judged on the held-out slices here."""
    import torch
    from data.isbi2012 import split_holdout
    from data.synthetic import load_dataset as load_isbi2012       # the real data, or a synthetic stand-in (tests)
    from autograder.policy import MODES_WITH_A_BAR, training_shortfall as shortfall
    from lesson.training import pick_device, predict_slices
    model = _reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    state = model.state_dict()
    if set(weights) != set(state) or any(tuple(weights[name].shape) != tuple(state[name].shape) for name in state):
        return "the trained model's weights do not fit the U-Net of the specification"
    if mode not in MODES_WITH_A_BAR:
        return ""                                    # nothing to ask of the run: skip the prediction
    model.load_state_dict({name: torch.from_numpy(weights[name].copy()) for name in state})
    device = pick_device(config.device)
    model.to(device)
    images, labels, _ = load_isbi2012()
    holdout_images = split_holdout(images, config.holdout_slices)[1]
    holdout_labels = split_holdout(labels, config.holdout_slices)[1]
    return shortfall(holdout_labels, predict_slices(model, holdout_images, device=device), mode)


@functools.lru_cache(maxsize=1)
def _solutions():
    """{grade_id: solution code} of the source notebook, read once per process (every check needs it)."""
    return solution_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4))


@functools.lru_cache(maxsize=1)
def _reference():
    """The reference solution as a module, built once per process."""
    return load_reference()
