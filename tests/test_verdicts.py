"""The grader's own checks (autograder/judging/verdicts.py), without a Jupyter kernel: the kernel's side runs in an
IPython shell in this process, its display message is captured, and the grader's side judges it."""

import base64
import json

import IPython.display
import numpy as np
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

from autograder import assignment
from autograder.judging import verdicts
from solutions.reference import load_reference
from tests.catalogue import CROP_CORNER, CROP_FLOAT64, EXPANDING_KEYWORDS, UNET_KEYWORDS, _code, module_code

PART_CHECKS = list(assignment.PART_TESTS)


@pytest.fixture
def kernel(monkeypatch):
    """run(namespace, grade_id) -> the display outputs of the check's kernel code, run in an IPython shell."""
    shell = InteractiveShell.instance()
    sent = []
    monkeypatch.setattr(
        IPython.display,
        "publish_display_data",
        lambda data, **kwargs: sent.append({"output_type": "display_data", "data": data}),
    )

    def run(namespace, grade_id, code=None, definitions=""):
        """`definitions`: code run in the shell first, so that what it defines has the shell's globals."""
        sent.clear()
        shell.user_ns.clear()
        shell.user_ns.update(namespace)
        assert shell.run_cell(definitions, store_history=False).success
        result = shell.run_cell(code or verdicts.kernel_code(grade_id), store_history=False)
        assert result.success, result.error_in_exec
        return list(sent)

    run.shell = shell
    yield run
    shell.user_ns.clear()


def reference_namespace():
    return dict(vars(load_reference()))


def judge(grade_id, outputs):
    return verdicts.compare(grade_id, verdicts.read_message(outputs), verdicts.expected(grade_id))


@pytest.mark.parametrize("grade_id", PART_CHECKS)
def test_the_reference_solution_passes_every_check(kernel, grade_id):
    assert judge(grade_id, kernel(reference_namespace(), grade_id)) == ""


@pytest.mark.parametrize(
    "rounding", ["(image.shape[2] - new_shape[2] + 1) // 2", "image.shape[2] // 2 - round(new_shape[2] / 2)"]
)
def test_either_rounding_of_an_odd_crop_margin_passes(kernel, rounding):
    namespace = reference_namespace()
    exec(
        _code(f"""
        def crop(image, new_shape):
            top = {rounding}
            left = {rounding.replace("[2]", "[3]")}
            return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]
    """),
        namespace,
    )
    assert judge("test_crop_centre", kernel(namespace, "test_crop_centre")) == ""


def test_a_wrong_part_fails_even_when_the_kernels_comparisons_are_patched(kernel, monkeypatch):
    namespace = reference_namespace()
    exec("def crop(image, new_shape):\n" + "\n".join("    " + line for line in CROP_CORNER[0].splitlines()), namespace)
    monkeypatch.setattr(torch, "allclose", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch, "equal", lambda *args, **kwargs: True)
    problem = judge("test_crop_centre", kernel(namespace, "test_crop_centre"))
    assert "a different window of the image than the centre" in problem
    assert judge("test_crop_shape", kernel(namespace, "test_crop_shape")) == ""  # its shapes are right


def test_a_block_computing_something_else_fails_with_the_size_of_the_difference(kernel):
    namespace = reference_namespace()
    source = load_reference().__dict__["ContractingBlock"]
    namespace["ContractingBlock"] = type(
        "AvgPoolBlock",
        (source,),
        {
            "forward": lambda self, x: torch.nn.functional.avg_pool2d(
                self.activation(self.conv2(self.activation(self.conv1(x)))), 2
            )
        },
    )
    problem = judge("test_contracting_block_forward", kernel(namespace, "test_contracting_block_forward"))
    assert problem.startswith("forward on (2, 4, 20, 20): values differ from the specification's by up to")


def test_dependencies_are_the_references_during_the_check_and_the_students_afterwards(kernel):
    namespace = reference_namespace()
    broken = namespace["crop"] = lambda image, new_shape: image  # the expanding block's dependency
    outputs = kernel(namespace, "test_expanding_block_forward")
    assert judge("test_expanding_block_forward", outputs) == ""
    assert InteractiveShell.instance().user_ns["crop"] is broken


def test_an_object_that_only_pretends_to_be_a_tensor_fails(kernel):
    namespace = reference_namespace()

    class AnyShape(tuple):
        def __eq__(self, other):
            return True

    class Fake:
        shape = AnyShape((0,))

    namespace["FeatureMapBlock"] = lambda c_in, c_out: type(
        "F", (torch.nn.Module,), {"forward": lambda self, x: Fake()}
    )()
    with pytest.raises(ValueError, match="it raised"):
        verdicts.read_message(kernel(namespace, "test_feature_map_block"))


def _raw(payload):
    return [{"output_type": "display_data", "data": {verdicts.MIME: json.dumps(payload)}}]


def _message(arrays):
    return _raw(
        {
            "arrays": {
                key: {"shape": list(value.shape), "data": base64.b64encode(value.astype(np.float32).tobytes()).decode()}
                for key, value in arrays.items()
            }
        }
    )


def test_read_message_round_trip_and_shape_only_answers():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(verdicts.read_message(_message({"x": array}))["x"], array)
    shape_only = verdicts.read_message(_raw({"arrays": {"x": {"shape": [4, 5], "data": ""}}}))
    assert shape_only["x"].shape == (4, 5)


@pytest.mark.parametrize(
    "outputs, reason",
    [
        ([], "sent no answer"),
        ([{"output_type": "stream", "text": "test passed"}], "sent no answer"),
        (_raw({"error": "NotImplementedError: "}), "it raised NotImplementedError"),
        (_raw({"arrays": {"x": {"shape": [3], "data": "AAAA"}}}), "could not be read"),  # 3 bytes for 3 floats
        (_raw({"arrays": {"x": {"shape": [1], "data": "not base64!"}}}), "could not be read"),
        ([{"output_type": "display_data", "data": {verdicts.MIME: "{not json"}}], "could not be read"),
    ],
)
def test_unreadable_or_missing_answers_fail_with_a_reason(outputs, reason):
    with pytest.raises(ValueError, match=reason):
        verdicts.read_message(outputs)


def test_compare_names_wrong_shapes_and_values_that_are_not_finite():
    want = [{"out": np.zeros((2, 3), dtype=np.float32)}]
    assert (
        verdicts.compare("test_feature_map_block", {"out": np.zeros((3, 2), np.float32)}, want)
        == "out: shape (3, 2), expected (2, 3)"
    )
    assert (
        verdicts.compare("test_feature_map_block", {"out": np.full((2, 3), np.nan, np.float32)}, want)
        == "out: values that are not finite"
    )
    assert verdicts.compare("test_feature_map_block", {}, want) == "out: no result"
    assert verdicts.compare("test_unet_shape", {"out": np.ones((2, 3), np.float32)}, want) == ""


PART_ORDER = [*assignment.SOLUTION_IDS, "training"]


def part_of(grade_id):
    part = assignment.part_of(grade_id)
    return part.solution_id if part else "training"


@pytest.mark.parametrize("grade_id", list(assignment.tests()))
def test_a_check_sends_the_kernel_no_solution_of_a_part_not_yet_graded(grade_id):
    """Student code can read what the kernel runs: a check carries only solutions of parts graded before it."""
    part = part_of(grade_id)
    for code in (verdicts.kernel_code(grade_id), verdicts.swap_code(grade_id)):
        for other, source in verdicts.solutions().items():
            first_line = source.splitlines()[0]
            if PART_ORDER.index(other) >= PART_ORDER.index(part):
                assert first_line not in code, f"{grade_id}'s check carries the solution of {other}"


@pytest.mark.parametrize("grade_id", list(assignment.tests()))
def test_every_test_has_a_check_and_says_what_it_asks(grade_id):
    assert verdicts.has_check(grade_id) and len(verdicts.asks(grade_id)) > 40


@pytest.mark.parametrize("grade_id", [test for test in PART_CHECKS if verdicts.dependencies(test)])
def test_dependencies_called_by_keyword_pass_every_check(kernel, grade_id):
    """The references swapped in take the signatures the notebook gives, keywords included."""
    code = module_code({"crop": CROP_FLOAT64, "expanding_block": EXPANDING_KEYWORDS, "unet": UNET_KEYWORDS})
    assert "crop(image=skip_con_x" in EXPANDING_KEYWORDS[1] and "FeatureMapBlock(input_channels=" in UNET_KEYWORDS[0]
    assert judge(grade_id, kernel({}, grade_id, definitions=code)) == ""  # with a broken crop of its own


def test_a_crop_that_changes_the_dtype_fails_and_says_so(kernel):
    namespace = reference_namespace()
    exec(module_code({"crop": CROP_FLOAT64}), namespace)
    problem = judge("test_crop_centre", kernel(namespace, "test_crop_centre"))
    assert "dtype torch.float64, expected torch.float32 (the input's)" in problem
    assert judge("test_crop_shape", kernel(namespace, "test_crop_shape")).count("dtype torch.float64") >= 1


def test_a_test_cell_runs_with_the_references_and_the_students_versions_come_back(kernel):
    namespace = reference_namespace()
    broken = namespace["crop"] = lambda image, new_shape: image
    kernel(namespace, None, code=verdicts.swap_code("test_expanding_block_shape"))
    shell = kernel.shell
    assert shell.user_ns["crop"] is not broken
    assert shell.run_cell("import torch\nshape = tuple(crop(torch.zeros(1, 1, 5, 5), (1, 1, 3, 3)).shape)").success
    assert shell.user_ns["shape"] == (1, 1, 3, 3)
    shell.run_cell(verdicts.restore_code("test_expanding_block_shape"), store_history=False)
    assert shell.user_ns["crop"] is broken and verdicts.SWAPPED not in shell.user_ns
    assert verdicts.swap_code("test_crop_shape") == verdicts.restore_code("test_crop_shape") == ""


def test_the_reference_answers_saved_once_per_batch_are_those_computed_here(tmp_path):
    verdicts.save_expected(tmp_path / "expected.pickle")
    computed = {grade_id: verdicts.expected(grade_id) for grade_id in PART_CHECKS}
    verdicts._expected.clear()
    try:
        verdicts.load_expected(tmp_path / "expected.pickle")
        for grade_id, answers in computed.items():
            loaded = verdicts.expected(grade_id)
            assert [list(answer) for answer in loaded] == [list(answer) for answer in answers]
            for mine, theirs in zip(loaded, answers):
                assert all(
                    np.array_equal(mine[key], theirs[key]) and mine[key].dtype_name == theirs[key].dtype_name
                    for key in theirs
                )
    finally:
        verdicts._expected.clear()
