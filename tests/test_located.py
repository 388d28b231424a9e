"""The second stage of diagnosis (autograder/judging/located.py, lesson/locate.py, lesson/trace.py): a wrong part
that matches no known mistake is told where it goes wrong, by the grader and by the notebook's visible tests alike;
a correct part is told nothing, and a known mistake keeps its name.

The wrong parts below are NOT in autograder/authoring/mistakes.toml: each is an edit of the reference solution that a
student could make, so that a located description is shown not to depend on the list."""

import pytest

from autograder import assignment
from autograder.authoring import checks, mistakes
from autograder.grading.plugins import diagnosis
from autograder.judging import fingerprints, located, verdicts
from lesson import fingerprint, locate
from lesson.trace import layer_trace
from tests.catalogue import CATALOGUE, module_code
from tests.test_verdicts import kernel  # noqa: F401 (a fixture)

CROP_RETURN = "return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]"


def wrong(part, name, *pairs):
    return mistakes.Mistake(part, name, "", mistakes.replace(*pairs))


# (wrong part, test, the category both sides give, words the grader's sentence holds)
NEW_WRONG_PARTS = [
    (
        wrong(
            "crop",
            "one row low",
            "top = (image.shape[2] - new_shape[2]) // 2",
            "top = (image.shape[2] - new_shape[2]) // 2 + 1",
        ),
        "test_crop_centre",
        "window off by one row",
        "your crop starts at row 13, column 12 of the 125 x 125 input; the centre window starts at row 12, column 12",
    ),
    (
        wrong(
            "crop",
            "the bottom-right corner",
            CROP_RETURN,
            "return image[:, :, image.shape[2] - new_shape[2]:, image.shape[3] - new_shape[3]:]",
        ),
        "test_crop_centre",
        "window off the centre",
        "your crop starts at row 61, column 61 of the 254 x 254 input; the centre window starts at row 30 (or 31), "
        "column 30 (or 31)",
    ),
    (
        wrong("crop", "the full width", CROP_RETURN, "return image[:, :, top:top + new_shape[2], :]"),
        "test_crop_centre",
        "the full width kept",
        "your crop keeps the full width of the 254 x 254 input",
    ),
    (
        wrong(
            "crop",
            "a window of the swapped shape",
            CROP_RETURN,
            "return image[:, :, top:top + new_shape[3], left:left + new_shape[2]]",
        ),
        "test_crop_shape",
        "height and width swapped",
        "your crop's height and width are swapped: shape (3, 2, 30, 20) where (3, 2, 20, 30) was asked",
    ),
    (
        wrong("crop", "float32", CROP_RETURN, CROP_RETURN + ".float()"),
        "test_crop_centre",
        "another dtype",
        "your crop is of dtype float32 where the input's, float64, was asked",
    ),
    (
        wrong("crop", "images and channels flattened", CROP_RETURN, CROP_RETURN + ".flatten(0, 1)"),
        "test_crop_shape",
        "a result of rank 3",
        "your crop has rank 3 (shape (6, 193, 193)) where a result of rank 4",
    ),
    (
        wrong(
            "ContractingBlock",
            "a 2 x 2 conv1",
            "nn.Conv2d(input_channels, input_channels * 2, kernel_size=3)",
            "nn.Conv2d(input_channels, input_channels * 2, kernel_size=2)",
        ),
        "test_contracting_block_forward",
        "conv1: other settings than the table's",
        "conv1 has kernel_size (2, 2); the specification's has kernel_size (3, 3)",
    ),
    (
        wrong("ContractingBlock", "no pooling", "return self.maxpool(x)", "return x"),
        "test_contracting_block_forward",
        "maxpool: never called",
        "it never calls maxpool",
    ),
    (
        wrong(
            "ContractingBlock",
            "conv2 twice",
            "x = self.activation(self.conv2(x))",
            "x = self.activation(self.conv2(self.activation(self.conv2(x))))",
        ),
        "test_contracting_block_forward",
        "maxpool: another input",
        "the results agree up to activation (its call 2); the input of maxpool should have shape (2, 8, 16, 16), "
        "got (2, 8, 14, 14)",
    ),
    (
        wrong(
            "ContractingBlock",
            "pooling 3 x 3",
            "nn.MaxPool2d(kernel_size=2, stride=2)",
            "nn.MaxPool2d(kernel_size=3, stride=2)",
        ),
        "test_contracting_block_layers",
        "maxpool: other settings than the table's",
        "maxpool has kernel_size (3, 3); the specification's has kernel_size (2, 2)",
    ),
    (
        wrong("ExpandingBlock", "no conv3", "return self.activation(self.conv3(x))", "return self.activation(x)"),
        "test_expanding_block_forward",
        "conv3: never called",
        "your forward never calls conv3 where the specification's does",
    ),
    (
        wrong("ExpandingBlock", "bicubic", 'mode="bilinear"', 'mode="bicubic"'),
        "test_expanding_block_forward",
        "upsample: other settings than the table's",
        "upsample has mode 'bicubic'; the specification's has mode 'bilinear'",
    ),
    (
        wrong("FeatureMapBlock", "stride 2", "kernel_size=1)", "kernel_size=1, stride=2)"),
        "test_feature_map_block",
        "conv: other settings than the table's",
        "conv has stride (2, 2); the specification's has stride (1, 1)",
    ),
    (
        wrong("UNet", "downfeature on x0", "return self.downfeature(x8)", "return self.downfeature(x0)"),
        "test_unet_forward",
        "downfeature: another input",
        "the results agree up to expand4; the input of downfeature should have shape (2, 2, 53, 37), got (2, 2, 200, "
        "184): it is the output of upfeature (shape (2, 2, 200, 184)) where the specification passes the output of "
        "expand4 (shape (2, 2, 53, 37))",
    ),
    (
        wrong(
            "UNet",
            "the skips of expand3 and expand4 doubled",
            "self.expand3(x6, x1)",
            "self.expand3(x6, 2 * x1)",
            "self.expand4(x7, x0)",
            "self.expand4(x7, 2 * x0)",
        ),
        "test_unet_forward",
        "expand3: another input 2",
        "the results agree up to expand2; input 2 of expand3",
    ),
    (
        wrong(
            "UNet",
            "the input's channels out",
            "FeatureMapBlock(hidden_channels, output_channels)",
            "FeatureMapBlock(hidden_channels, input_channels)",
        ),
        "test_unet_layers",
        "downfeature.conv: other settings than the table's",
        "downfeature.conv has out_channels 2; the specification's has out_channels 3",
    ),
]


def hidden(namespace: dict, grade_id: str) -> tuple[str, list, tuple | None]:
    """(what the grader's check finds wrong, the known mistakes it names, where it locates the part) for the
    parts in `namespace`: the check's kernel side run here, with the notebook's layer trace."""
    test = assignment.tests()[grade_id]
    names = list(verdicts.dependencies(grade_id))
    message = checks.answer(
        namespace, test.check, verdicts._dependency_code(names), names, test.kind == "shape", layer_trace
    )
    outputs = [{"output_type": "display_data", "data": {verdicts.MIME: message}}]
    try:
        answer = verdicts.read_message(outputs)
        problem = verdicts.compare(grade_id, answer, verdicts.expected(grade_id))
    except verdicts.KernelRaised as error:
        answer, problem = error.error, str(error)
    if not problem:
        return "", [], None
    found = fingerprints.diagnose(grade_id, answer)
    return problem, found, None if found else located.describe(grade_id, answer, verdicts.read_trace(outputs))


def visible(scope: dict, grade_id: str) -> str:
    """The message of the notebook's visible test `grade_id` run in `scope` ("" when it passes), as a student
    whose other parts passed their tests sees it."""
    scope["_passed"].update(dict.fromkeys(assignment.PART_TESTS, True))
    try:
        exec(fingerprints.part_test_cells()[grade_id], scope)
    except AssertionError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 (a wrong part may raise: the student sees it)
        return f"raised {fingerprint.error_text(error)}"
    return ""


def catalogue_scope(parts: dict) -> dict:
    scope = fingerprints.namespace()
    exec(module_code(parts), scope)
    return scope


@pytest.mark.parametrize("part, test, category, words", NEW_WRONG_PARTS, ids=lambda item: getattr(item, "name", None))
def test_a_wrong_part_not_on_the_list_is_located_by_the_grader_and_the_notebook_alike(part, test, category, words):
    problem, found, where = hidden(fingerprints.mistaken_namespace(part), test)
    assert problem and not found, "the wrong part must fail the check and match no known mistake"
    assert where is not None and where[0] == category, where
    assert words in where[1], where[1]
    assert f"Where it goes wrong: {where[1]}. " in diagnosis(test, found, where)
    scope, located_there = fingerprints.namespace(part), []
    locate = scope["_located"]  # what the notebook's test locates, caught on its way
    scope["_located"] = lambda *args: located_there.append(locate(*args)) or located_there[-1]
    seen = visible(scope, test)
    assert seen.endswith(f"Where it goes wrong: {located_there[0][1]}.") and "known mistake" not in seen, seen
    assert located_there[0][0] == category, (located_there, where)


def test_two_wrong_layers_name_the_first_and_count_the_other():
    part = wrong("ContractingBlock", "2 x 2 kernels", "kernel_size=3)", "kernel_size=2)")  # conv1 and conv2
    where = hidden(fingerprints.mistaken_namespace(part), "test_contracting_block_forward")[2]
    assert (
        where[1].startswith("conv1 has kernel_size (2, 2); the specification's has kernel_size (3, 3)")
        and "(1 more layer differs too)" in where[1]
    )
    assert "conv2" not in where[1]  # only the first is named; its output is the first that differs


def test_the_trace_travels_from_the_kernel_with_the_answer(kernel):  # noqa: F811
    scope = fingerprints.mistaken_namespace(NEW_WRONG_PARTS[7][0])  # no pooling
    outputs = kernel(scope, "test_contracting_block_forward")
    trace = verdicts.read_trace(outputs)
    assert [call[0] for call in trace["calls"]] == ["conv1", "activation", "conv2", "activation"]
    assert trace["layers"]["maxpool"]["kernel_size"] == [2, 2]
    where = located.describe("test_contracting_block_forward", verdicts.read_message(outputs), trace)
    assert where[0] == "maxpool: never called"


def test_a_garbled_trace_locates_nothing_and_breaks_nothing():
    scope = fingerprints.mistaken_namespace(NEW_WRONG_PARTS[6][0])
    answer = verdicts.answer_of("test_contracting_block_forward", scope)
    for trace in (None, {}, {"layers": "x", "calls": 3}, {"layers": {"conv1": 1}, "calls": [[1, 2]]}, [1]):
        where = located.describe("test_contracting_block_forward", answer, trace)  # never raises
        assert where is None or isinstance(where, tuple)
    assert located.describe("test_contracting_block_forward", answer, {"layers": {}, "calls": []}) is None


def test_a_hook_that_fails_stops_the_record_not_the_part():
    import torch

    class Odd(torch.nn.Module):
        @property
        def kernel_size(self):
            raise RuntimeError("a layer that cannot describe itself")

        def forward(self, x):
            return 2 * x

    with layer_trace() as trace:
        result = torch.nn.Sequential(Odd())(torch.ones(1, 1, 2, 2))
    assert torch.equal(result, torch.full((1, 1, 2, 2), 2.0)) and trace["calls"] == []


def test_every_crop_rounding_is_the_centre():
    image = checks.numbered_image(1, 2, 125, 64)
    want = [[1, 2, 100, 31], "torch.float32"]
    for round_top, round_left in verdicts.CROP_ROUNDINGS:
        plane = locate.first_plane(verdicts.crop_at(round_top, round_left)(image, (1, 2, 100, 31)).numpy())
        assert locate.window_of(plane) == ((125 - 100 + round_top) // 2, (64 - 31 + round_left) // 2)
        assert locate.locate_crop("crop of a float32 (1, 2, 125, 64) image", want, want, plane) is None


def test_a_crop_whose_values_are_no_window_says_so():
    plane = checks.numbered_image(1, 1, 12, 16)[0, 0, 3:9, 4:12].flip(1).numpy()
    want = [[1, 1, 6, 8], "float32"]
    assert (
        locate.locate_crop("crop of a float32 (1, 1, 12, 16) image", want, want, plane)[0]
        == "not one window of the input"
    )


CORRECT = [variant for variant in CATALOGUE if variant.parts and not variant.fails and not variant.mistakes]
BUGS = [variant for variant in CATALOGUE if variant.mistakes]  # the attacks included


@pytest.mark.slow
@pytest.mark.parametrize("variant", CORRECT, ids=lambda variant: variant.name)
def test_no_correct_style_of_the_catalogue_gets_a_description(variant):
    scope = catalogue_scope(variant.parts)
    for grade_id in assignment.PART_TESTS:
        assert hidden(scope, grade_id) == ("", [], None), grade_id
        assert visible(scope, grade_id) == "", grade_id


@pytest.mark.slow
@pytest.mark.parametrize("variant", BUGS, ids=lambda variant: variant.name)
def test_every_failed_check_of_a_catalogue_bug_is_named_or_located(variant):
    scope = catalogue_scope(variant.parts)
    named = set()
    for grade_id in assignment.PART_TESTS:
        problem, found, where = hidden(scope, grade_id)
        if problem:
            assert found or where or problem.startswith("it raised"), (grade_id, problem)
            named |= {mistake.name for mistake in found}
    assert set(variant.mistakes) <= named


@pytest.mark.slow
@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda mistake: mistake.name)
def test_a_listed_mistake_keeps_its_name_and_every_failed_check_of_it_is_explained(mistake):
    tests = [test.grade_id for test in assignment.part(mistake.part).tests]
    results = {grade_id: hidden(fingerprints.mistaken_namespace(mistake), grade_id) for grade_id in tests}
    assert any(mistake in found for _, found, _ in results.values())
    for grade_id, (problem, found, where) in results.items():
        assert not problem or found or where or problem.startswith("it raised"), (grade_id, problem)
        assert not (found and where)
        seen = visible(fingerprints.namespace(mistake), grade_id)
        assert not seen or "known mistake" in seen or "Where it goes wrong" in seen or seen.startswith("raised"), seen


def test_the_class_files_get_each_located_description_by_its_category():
    import json

    import nbformat

    from autograder.grading.plugins import DIAGNOSIS_MIME, mistakes_found

    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                DIAGNOSIS_MIME: json.dumps(
                    {"test": "test_crop_centre", "mistakes": [], "located": ["window off by one row"]}
                )
            },
        ),
        nbformat.v4.new_output(
            "display_data",
            data={
                DIAGNOSIS_MIME: json.dumps({"test": "test_contracting_block_forward", "mistakes": ["average pooling"]})
            },
        ),
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert mistakes_found(notebook) == [
        ("test_crop_centre", "window off by one row", "located"),
        ("test_contracting_block_forward", "average pooling", "named"),
    ]


@pytest.mark.parametrize(
    "variant", [variant for variant in CATALOGUE if variant.located], ids=lambda variant: variant.name
)
def test_the_catalogues_bugs_off_the_list_are_located_as_the_catalogue_says(variant):
    scope = catalogue_scope(variant.parts)
    found = {hidden(scope, grade_id)[2] for grade_id in assignment.PART_TESTS} - {None}
    assert {category for category, _ in found} == set(variant.located)
