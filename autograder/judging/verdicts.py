"""The grader's verdicts: each test's hidden check, run in the kernel and judged outside the student's process.

A submission's kernel runs the student's code, and that code can change anything in that process: patch
``torch.allclose`` or ``isinstance``, return tensors whose ``.shape`` equals anything, swallow a test's
``AssertionError`` with ``sys.excepthook`` or ``get_ipython().set_custom_exc``, fake a test's printed output.
So no verdict the kernel reports is trusted on its own. After each graded test cell, ``GradingExecute`` runs
the test's check (a function of ``autograder/authoring/checks.py``, declared in ``autograder/assignment.py``) in the
kernel (``kernel_code``): it builds the student's part with weights and inputs drawn from fixed seeds, runs it,
and sends back only raw numbers (float32 arrays with their dtype and device, as base64 in a display message).
The grader runs the same function on the reference solution in its own process (``expected``) and compares
(``compare``). A part that does not compute what the specification says cannot produce those numbers, however
the kernel is patched; tampering with the check can only make it fail. A test passes only when its own
asserts passed in the kernel *and* the grader's check agrees.

A part that depends on others has its test cell and its check run with the reference versions of its
dependencies (``swap_code`` before the cell, ``restore_code`` after the check: the one way they are swapped),
so one broken part costs only its own points. The training test's check puts the trained weights into the
reference U-Net, here in the grader, and asks the held-out slices for the mode's quality
(``autograder.authoring.policy.training_shortfall``). That stands for the student's run only when the reference U-Net
computes what the student's does, that is when every part passed its check; otherwise the training test
fails too, with a message saying why (the one place where a broken part costs more than its own tests: the
alternative, trusting the kernel's word on training, would let any submission take those points).
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import pathlib
import pickle
from typing import TYPE_CHECKING

import nbformat
import numpy as np

from autograder import assignment
from lesson.carried import carried_text
from solutions.reference import PRELUDE, SOURCE_NOTEBOOK, load_reference, solution_cells

if TYPE_CHECKING:  # annotations only
    from lesson.config import TrainingConfig

MIME = "application/x-unet-grader-check+json"
CHECKS_FILE = assignment.checks_file()
CHECK_FAILED = "GraderCheckFailed"
CHECK_PREAMBLE = (
    "the hidden tests failed: the grader's own check of this part (run after the test, with its own "
    "weights and inputs, judged outside your notebook) says: "
)
ATOL = RTOL = 1e-4  # the one tolerance of every check that compares values

# Kernel side: this module's source, executed in a scope of its own, answers the check. Its globals are the
# checks module's; nothing is left in the student's namespace.
KERNEL_TEMPLATE = """
def _grader_check():
    from IPython import get_ipython
    from IPython.display import publish_display_data
    scope, tracing = {{"__name__": "unet_grader_checks"}}, {{"__name__": "unet_grader_trace"}}
    exec({source!r}, scope)
    exec({tracer!r}, tracing)
    message = scope["answer"](get_ipython().user_ns, {check!r}, {dependencies!r}, {names!r}, {shapes_only!r},
                              tracing["layer_trace"])
    publish_display_data({{{mime!r}: message}})
_grader_check()
del _grader_check
"""
SWAP_TEMPLATE = """
def _grader_swap():
    from IPython import get_ipython
    scope = {{"__name__": "unet_grader_checks"}}
    exec({source!r}, scope)
    ns = get_ipython().user_ns
    {action}
_grader_swap()
del _grader_swap
"""
SWAPPED = "_grader_swapped_dependencies"  # what swap_in replaced, kept in the kernel until the check is done


def has_check(grade_id: str) -> bool:
    return grade_id in assignment.tests()


def asks(grade_id: str) -> str:
    """What the specification asks of the test `grade_id`, in words."""
    return assignment.tests()[grade_id].asks


def dependencies(grade_id: str) -> tuple[str, ...]:
    """The names of the parts whose reference versions the test `grade_id` runs with."""
    part = assignment.part_of(grade_id)
    return part.depends_on if part else ()


def _dependency_code(names):
    """The reference solutions of the parts `names` (only those: their tests ran before this check)."""
    code = solutions()
    return PRELUDE + "\n\n".join(code[assignment.part(name).solution_id] for name in names)


def kernel_code(grade_id: str) -> str:
    """The code GradingExecute runs in the kernel after the test cell `grade_id`."""
    test = assignment.tests()[grade_id]
    names = list(dependencies(grade_id))
    return KERNEL_TEMPLATE.format(
        source=_checks_source(),
        tracer=_tracer_source(),
        check=test.check,
        dependencies=_dependency_code(names),
        names=names,
        shapes_only=test.kind == "shape",
        mime=MIME,
    )


def swap_code(grade_id: str) -> str:
    """Kernel code that puts the references of the test's dependencies in place, for its test cell; "" if none."""
    names = list(dependencies(grade_id))
    if not names:
        return ""
    tests = [test.grade_id for name in names for test in assignment.part(name).tests]
    action = f"ns[{SWAPPED!r}] = scope['swap_in'](ns, {_dependency_code(names)!r}, {names!r}, {tests!r})"
    return SWAP_TEMPLATE.format(source=_checks_source(), action=action)


def restore_code(grade_id: str) -> str:
    """Kernel code that gives the student's own versions back after the test cell and its check; "" if none."""
    if not dependencies(grade_id):
        return ""
    action = f"swapped = ns.pop({SWAPPED!r}, None)\n    if swapped: scope['restore'](ns, swapped)"
    return SWAP_TEMPLATE.format(source=_checks_source(), action=action)


def _message_texts(outputs: list) -> list[str]:
    """The texts of the check's messages among the probe cell's outputs."""
    return [
        output["data"][MIME]
        for output in outputs
        if output.get("output_type") == "display_data" and MIME in output.get("data", {})
    ]


def read_trace(outputs: list) -> dict | None:
    """The layer trace (``selfcheck.layer_trace``) the check sent with its answer; None if none was readable."""
    for text in _message_texts(outputs):
        try:
            trace = json.loads(text).get("trace")
        except (ValueError, AttributeError):
            return None
        return trace if isinstance(trace, dict) else None
    return None


def read_message(outputs: list) -> dict[str, np.ndarray]:
    """The probe's arrays {key: float32 array} from the probe cell's outputs; raises ValueError if unreadable."""
    for text in _message_texts(outputs):
        try:
            message = json.loads(text)
            error = message.get("error")
            arrays = None if error else {key: _array(entry) for key, entry in message["arrays"].items()}
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as error:
            raise ValueError(f"its answer could not be read ({type(error).__name__})") from None
        if error:
            raise KernelRaised(error)
        return arrays
    raise ValueError("it sent no answer (was the kernel's output changed?)")


class KernelRaised(ValueError):
    """The student's code raised while the check ran in the kernel; `error` is "Type: message"."""

    def __init__(self, error: str):
        super().__init__(f"it raised {error}")
        self.error = error


class Answer(np.ndarray):
    """A check's result as a float32 array that remembers the tensor's dtype and device ("torch.float32", "cpu")."""

    dtype_name: str = ""
    device: str = ""

    def __array_finalize__(self, source):
        self.dtype_name = getattr(source, "dtype_name", "")
        self.device = getattr(source, "device", "")


def typed(array: np.ndarray, dtype_name: str = "", device: str = "") -> Answer:
    answer = np.asarray(array, dtype=np.float32).view(Answer)
    answer.dtype_name, answer.device = dtype_name, device
    return answer


def _array(entry):
    shape = tuple(int(side) for side in entry["shape"])
    if entry["data"] == "":  # a shape-only answer
        array = np.broadcast_to(np.float32(0), shape)
    else:
        array = np.frombuffer(base64.b64decode(entry["data"], validate=True), dtype=np.float32)
        if array.size != int(np.prod(shape)):
            raise TypeError("size does not match shape")
        array = array.reshape(shape)
    return typed(array, str(entry.get("dtype", "")), str(entry.get("device", "")))


def expected(grade_id: str) -> list[dict[str, Answer]]:
    """The reference's answers to the check: a list of candidates {key: Answer} (crop has 4 correct roundings).
    Computed once per process, or read from a batch's file of them (``save_expected`` / ``load_expected``)."""
    if grade_id not in _expected:
        _expected[grade_id] = _compute_expected(grade_id)
    return _expected[grade_id]


_expected = {}  # grade_id -> the reference's answers, in this process


def save_expected(path: pathlib.Path) -> None:
    """Compute the reference's answers to every check once (a batch's grader does) and save them to `path`."""
    plain = {
        grade_id: [
            {key: (np.asarray(value), value.dtype_name, value.device) for key, value in answer.items()}
            for answer in expected(grade_id)
        ]
        for grade_id in assignment.PART_TESTS
    }
    with open(path, "wb") as handle:
        pickle.dump(plain, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_expected(path: pathlib.Path) -> None:
    """Use the answers `save_expected` wrote (each grading worker does, instead of computing them again)."""
    with open(path, "rb") as handle:
        plain = pickle.load(handle)
    _expected.update(
        {
            grade_id: [{key: typed(*value) for key, value in answer.items()} for answer in answers]
            for grade_id, answers in plain.items()
        }
    )


def _compute_expected(grade_id: str) -> list[dict[str, Answer]]:
    reference = vars(_reference())
    namespaces = [reference]
    if assignment.part_of(grade_id) is assignment.part("crop"):
        namespaces = [{**reference, "crop": crop_at(*rounding)} for rounding in CROP_ROUNDINGS]
    answers = [answer_of(grade_id, namespace) for namespace in namespaces]
    errors = [answer for answer in answers if isinstance(answer, str)]
    if errors:
        raise RuntimeError(f"the reference solution fails the check of {grade_id}: {errors[0]}")
    return answers


def answer_of(grade_id: str, namespace: dict) -> dict[str, Answer] | str:
    """The check's answer on `namespace`, computed here: {key: Answer}, or the error it raised ("Type: message",
    as the kernel reports it)."""
    import torch  # here, not above: the worker imports it while the kernel starts

    test = assignment.tests()[grade_id]
    try:
        with torch.no_grad():
            results = {str(key): torch.as_tensor(value) for key, value in test.function(namespace).items()}
    except Exception as error:  # noqa: BLE001 (a mistaken part may raise anything)
        return f"{type(error).__name__}: {error}"[:500]
    return {
        key: typed(value.detach().float().numpy(), str(value.dtype), value.device.type)
        for key, value in results.items()
    }


CROP_ROUNDINGS = tuple(itertools.product((0, 1), repeat=2))  # (top, left): every correct crop's middle offsets


def crop_at(round_top: int, round_left: int):
    """A correct crop taking the lower (0) or upper (1) middle offset when a margin is odd."""

    def crop(image, new_shape):
        top = (image.shape[2] - new_shape[2] + round_top) // 2
        left = (image.shape[3] - new_shape[3] + round_left) // 2
        return image[:, :, top : top + new_shape[2], left : left + new_shape[3]]

    return crop


def compare(grade_id: str, actual: dict, candidates: list[dict]) -> str:
    """ "" when `actual` agrees with one of the candidates for every key, else what differs (for the student)."""
    kind = assignment.tests()[grade_id].kind
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
    wanted_type = getattr(want, "dtype_name", "")
    if wanted_type and getattr(got, "dtype_name", wanted_type) != wanted_type:
        return f"dtype {got.dtype_name}, expected {wanted_type} (the input's)"
    wanted_device = getattr(want, "device", "")
    if wanted_device and getattr(got, "device", wanted_device) != wanted_device:
        return f"on the device {got.device}, expected {wanted_device} (the input's)"
    if kind == "shape":
        return ""
    if not np.all(np.isfinite(got)):
        return "values that are not finite"
    if kind == "crop":
        return "" if np.array_equal(got, want) else "a different window of the image than the centre"
    if np.allclose(got, want, atol=ATOL, rtol=RTOL):
        return ""
    return f"values differ from the specification's by up to {float(np.max(np.abs(got - want))):.4g}"


def training_shortfall(weights: dict, config: TrainingConfig, mode: str) -> str:
    """The trained weights {name: array} in the reference U-Net, judged on the held-out slices here."""
    import torch

    from autograder.authoring.policy import MODES_WITH_A_BAR
    from autograder.authoring.policy import training_shortfall as shortfall
    from data.isbi2012 import split_holdout
    from data.source import load_dataset as load_isbi2012  # the real data (data/source.py: which loader)
    from lesson.training import pick_device, predict_slices

    settings = {
        name: int(weights.pop(f"config.{name}"))
        for name in ("epochs", "hidden_channels", "input_size")
        if f"config.{name}" in weights
    }
    changed = {name: value for name, value in settings.items() if value != getattr(config, name)}
    if changed:
        return (
            f"the run's settings (config) were changed after the settings cell: {changed}, where the grading "
            f"mode sets { ({name: getattr(config, name) for name in changed}) }; they must stay as they were set"
        )
    model = _reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    state = model.state_dict()
    if set(weights) != set(state) or any(tuple(weights[name].shape) != tuple(state[name].shape) for name in state):
        return "the trained model's weights do not fit the U-Net of the specification"
    if mode not in MODES_WITH_A_BAR:
        return ""  # nothing to ask of the run: skip the prediction
    model.load_state_dict({name: torch.from_numpy(np.array(weights[name], dtype=np.float32)) for name in state})
    device = pick_device(config.device)
    model.to(device)
    images, labels, _ = load_isbi2012()
    holdout_images = split_holdout(images, config.holdout_slices)[1]
    holdout_labels = split_holdout(labels, config.holdout_slices)[1]
    prediction = predict_slices(model, holdout_images, device=device, precision=config.precision, layout=config.layout)
    return shortfall(holdout_labels, prediction, mode)


@functools.lru_cache(maxsize=1)
def _checks_source():
    """The text of autograder/authoring/checks.py, which the kernel executes to answer a check."""
    return CHECKS_FILE.read_text(encoding="utf-8")


LESSON = pathlib.Path(__file__).resolve().parents[2] / "lesson"
TRACER_MODULES = (LESSON / "fingerprint.py", LESSON / "trace.py")  # the kernel's layer_trace and what it calls
SELFCHECK_MODULES = (
    *TRACER_MODULES,
    LESSON / "locate.py",
    LESSON / "raising.py",
    LESSON / "selfcheck.py",
)  # the notebook's self-checks


def selfcheck_text() -> str:
    """The text of the self-checks' modules (their arithmetic, the locating and compare_with_specification)."""
    return "".join(path.read_text(encoding="utf-8") for path in SELFCHECK_MODULES)


@functools.lru_cache(maxsize=1)
def _tracer_source():
    """lesson/fingerprint.py and lesson/trace.py, one after the other: the kernel records a part's layers with
    their ``layer_trace``, as the notebook's own tests do."""
    return "\n\n".join(carried_text(path) for path in TRACER_MODULES)


@functools.lru_cache(maxsize=1)
def solutions():
    """{grade_id: solution code} of the source notebook, read once per process (every check needs it)."""
    return solution_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4))


@functools.lru_cache(maxsize=1)
def _reference():
    """The reference solution as a module, built once per process."""
    return load_reference()
