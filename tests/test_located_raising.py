"""A wrong part that raises is located like one that runs (lesson/raising.py, autograder/judging/located.py): the
layers whose settings differ, the last call that agreed, the call that raised with the shapes it got against the
specification's, by the grader and by the notebook's visible tests alike; a test that cannot run because an earlier
cell stopped says why (lesson/stopped.py).

The raising parts below are on no list: each is an edit of the reference solution as a student could write it,
none of them in autograder/authoring/mistakes.toml."""

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from autograder import assignment
from autograder.grading.plugins import diagnosis
from autograder.judging import fingerprints, located, verdicts
from autograder.release.course import SOURCE_NOTEBOOK
from lesson import stopped
from lesson.trace import PARTS
from tests.test_located import CROP_RETURN, hidden, visible, wrong
from tests.test_verdicts import kernel  # noqa: F401 (a fixture)

CONV2_HALF = wrong(
    "ExpandingBlock",
    "conv2 from C/2 channels",
    "self.conv2 = nn.Conv2d(input_channels,",
    "self.conv2 = nn.Conv2d(input_channels // 2,",
)
EXPAND2_X3 = wrong("UNet", "expand2 given x3", "self.expand2(x5, x2)", "self.expand2(x5, x3)")

# (raising part, test, the category both sides give, words the grader's sentence holds)
RAISING_PARTS = [
    (
        wrong(
            "crop",
            "resized with F.interpolate",
            CROP_RETURN,
            'return F.interpolate(image, size=(new_shape[2], new_shape[3]), mode="bilinear")',
        ),
        "test_crop_centre",
        "computes instead of selecting",
        "your crop raised on an int64 image of shape (3, 2, 60, 60): a crop selects a window of its input whatever",
    ),
    (
        wrong(
            "crop",
            "adaptive average pooling",
            CROP_RETURN,
            "return F.adaptive_avg_pool2d(image, (new_shape[2], new_shape[3]))",
        ),
        "test_crop_centre",
        "computes instead of selecting",
        "your crop raised on an int64 image of shape (3, 2, 60, 60)",
    ),
    (
        wrong(
            "crop",
            "true division",
            "top = (image.shape[2] - new_shape[2]) // 2",
            "top = (image.shape[2] - new_shape[2]) / 2",
        ),
        "test_crop_shape",
        "raises",
        "your crop raised on a float32 image of shape (2, 3, 254, 254)",
    ),
    (
        wrong(
            "ContractingBlock",
            "conv2 from C channels",
            "self.conv2 = nn.Conv2d(input_channels * 2,",
            "self.conv2 = nn.Conv2d(input_channels,",
        ),
        "test_contracting_block_forward",
        "conv2: other settings than the table's",
        "conv2 has in_channels 4; the specification's has in_channels 8; the results agree up to activation; conv2 gets "
        "the specification's input, of shape (2, 8, 18, 18), and raises, where the specification's returns shape "
        "(2, 8, 16, 16)",
    ),
    (
        wrong("ContractingBlock", "conv1 skipped", "x = self.activation(self.conv1(x))", "x = self.activation(x)"),
        "test_contracting_block_forward",
        "conv1: never called",
        "your forward never calls conv1 where the specification's does; the input of activation should have shape "
        "(2, 8, 18, 18), got (2, 4, 20, 20): it is the part's input (shape (2, 4, 20, 20)) where the specification "
        "passes the output of conv1 (shape (2, 8, 18, 18)); then conv2 raised when called on (2, 4, 20, 20), where the "
        "specification's conv2 gets (2, 8, 18, 18)",
    ),
    (
        wrong(
            "ContractingBlock",
            "batch norm of the input's width",
            "self.activation = nn.ReLU()",
            "self.activation = nn.ReLU()\n        self.norm = nn.BatchNorm2d(input_channels)",
            "x = self.activation(self.conv1(x))",
            "x = self.activation(self.norm(self.conv1(x)))",
        ),
        "test_contracting_block_forward",
        "norm: raises",
        "the results agree up to conv1; norm, which the specification's forward never calls, raised when called on "
        "(2, 8, 18, 18)",
    ),
    (
        CONV2_HALF,
        "test_expanding_block_layers",
        "conv2: other settings than the table's",
        "conv2 has in_channels 8; the specification's has in_channels 16; conv2 raised when called on (2, 16, 12, 10)",
    ),
    (
        CONV2_HALF,
        "test_expanding_block_forward",
        "conv2: other settings than the table's",
        "conv2 has in_channels 4; the specification's has in_channels 8; the results agree up to conv1; conv2 gets the "
        "specification's input, of shape (2, 8, 17, 17), and raises",
    ),
    (
        wrong("ExpandingBlock", "the skip not cropped", "\n        skip_con_x = crop(skip_con_x, x.shape)", ""),
        "test_expanding_block_forward",
        "raises after conv1",
        "the results agree up to conv1; then your ExpandingBlock.forward raised, before the specification's next call, "
        "conv2, which gets (2, 8, 17, 17)",
    ),
    (
        wrong("ExpandingBlock", "joined along the height", "axis=1)", "axis=2)"),
        "test_expanding_block_forward",
        "conv2: another input",
        "the results agree up to conv1; the input of conv2 should have shape (2, 8, 17, 17), got (2, 4, 34, 17)",
    ),
    (
        wrong(
            "ExpandingBlock",
            "the skip cropped to the upsampled size",
            "x = self.conv1(self.upsample(x))\n        skip_con_x = crop(skip_con_x, x.shape)",
            "skip_con_x = crop(skip_con_x, self.upsample(x).shape)\n        x = self.conv1(self.upsample(x))",
        ),
        "test_expanding_block_forward",
        "raises after conv1",
        "then your ExpandingBlock.forward raised",
    ),
    (
        wrong(
            "FeatureMapBlock",
            "channels swapped",
            "nn.Conv2d(input_channels, output_channels, kernel_size=1)",
            "nn.Conv2d(output_channels, input_channels, kernel_size=1)",
        ),
        "test_feature_map_block",
        "conv: other settings than the table's",
        "conv has in_channels 60, out_channels 10; the specification's has in_channels 10, out_channels 60",
    ),
    (
        EXPAND2_X3,
        "test_unet_forward",
        "expand2: another input 2",
        "the results agree up to expand1; input 2 of expand2 should have shape (2, 8, 47, 43), got (2, 16, 21, 19): it "
        "is the output of contract3 (shape (2, 16, 21, 19)) where the specification passes the output of contract2 "
        "(shape (2, 8, 47, 43)), and expand2 raised",
    ),
    (
        EXPAND2_X3,
        "test_unet_shape",
        "expand2: another input 2",
        "it is the output of contract3 (shape (1, 32, 28, 28)) where the specification passes the output of contract2 "
        "(shape (1, 16, 61, 61))",
    ),
    (
        wrong("UNet", "expand4 given x1", "self.expand4(x7, x0)", "self.expand4(x7, x1)"),
        "test_unet_forward",
        "expand4: another input 2",
        "it is the output of contract1 (shape (2, 4, 98, 90)) where the specification passes the output of upfeature "
        "(shape (2, 2, 200, 184))",
    ),
    (
        wrong(
            "UNet",
            "each expand given its own input",
            "self.expand1(x4, x3)",
            "self.expand1(x4, x4)",
            "self.expand2(x5, x2)",
            "self.expand2(x5, x5)",
            "self.expand3(x6, x1)",
            "self.expand3(x6, x6)",
            "self.expand4(x7, x0)",
            "self.expand4(x7, x7)",
        ),
        "test_unet_forward",
        "expand1: another input 2",
        "the results agree up to contract4; input 2 of expand1 should have shape (2, 16, 21, 19), got (2, 32, 8, 7): it "
        "is the output of contract4 (shape (2, 32, 8, 7)) where the specification passes the output of contract3",
    ),
    (
        wrong(
            "UNet",
            "contract2 as wide as contract1",
            "self.contract2 = ContractingBlock(hidden_channels * 2)",
            "self.contract2 = ContractingBlock(hidden_channels)",
        ),
        "test_unet_forward",
        "contract2.conv1: other settings than the table's",
        "contract2.conv1 has in_channels 2, out_channels 4; the specification's has in_channels 4, out_channels 8",
    ),
    (
        wrong(
            "UNet",
            "downfeature from twice the width",
            "FeatureMapBlock(hidden_channels, output_channels)",
            "FeatureMapBlock(hidden_channels * 2, output_channels)",
        ),
        "test_unet_forward",
        "downfeature.conv: other settings than the table's",
        "downfeature.conv has in_channels 4; the specification's has in_channels 2; the results agree up to expand4; "
        "downfeature gets the specification's input, of shape (2, 2, 53, 37), and raises",
    ),
]


def seen_by_the_notebook(part, test):
    """(the visible test's message, what it located) for the part with its mistake made."""
    scope, located_there = fingerprints.namespace(part), []
    for name in ("locate_raised", "locate_crop_raised"):
        locate = scope[name]
        scope[name] = lambda *args, locate=locate: located_there.append(locate(*args)) or located_there[-1]
    return visible(scope, test), located_there


@pytest.mark.parametrize(
    "part, test, category, words",
    RAISING_PARTS,
    ids=lambda item: getattr(item, "name", None) if not isinstance(item, str) else None,
)
def test_a_raising_part_not_on_the_list_is_located_by_the_grader_and_the_notebook_alike(part, test, category, words):
    problem, found, where = hidden(fingerprints.mistaken_namespace(part), test)
    assert problem.startswith("it raised") and not found, (problem, found)
    assert where is not None and where[0] == category, where
    assert words in where[1], where[1]
    assert f"Where it goes wrong: {where[1]}. " in diagnosis(test, found, where)
    seen, located_there = seen_by_the_notebook(part, test)
    assert located_there and located_there[0] is not None, seen
    assert seen.endswith(f"Where it goes wrong: {located_there[0][1]}.") and "known mistake" not in seen, seen
    assert located_there[0][0] == category, (located_there, where)


def test_a_raising_layer_is_found_by_its_settings_even_in_the_layers_test():
    seen, _ = seen_by_the_notebook(CONV2_HALF, "test_expanding_block_layers")
    assert seen.startswith("RuntimeError: Given groups=1"), seen
    assert "Where it goes wrong: conv2 has in_channels 8; the specification's has in_channels 16" in seen, seen


def test_the_trace_travels_from_the_kernel_with_the_error(kernel):  # noqa: F811
    outputs = kernel(fingerprints.mistaken_namespace(CONV2_HALF), "test_expanding_block_forward")
    with pytest.raises(verdicts.KernelRaised) as raised:
        verdicts.read_message(outputs)
    trace = verdicts.read_trace(outputs)
    assert [call[0] for call in trace["calls"]] == ["upsample", "conv1"], trace["calls"]
    assert trace["raised"]["call"] == "conv2" and trace["raised"]["inputs"][0][0] == [2, 8, 17, 17]
    assert trace["raised"]["part"] == "ExpandingBlock.forward"
    where = located.describe("test_expanding_block_forward", raised.value.error, trace)
    assert where[0] == "conv2: other settings than the table's"


def test_a_part_not_written_yet_is_not_located():
    stub = wrong("ExpandingBlock", "not written", "x = self.conv1(self.upsample(x))", "raise NotImplementedError()")
    problem, found, where = hidden(fingerprints.mistaken_namespace(stub), "test_expanding_block_forward")
    assert problem == "it raised NotImplementedError: " and where is None
    with pytest.raises(NotImplementedError):
        exec(fingerprints.part_test_cells()["test_expanding_block_forward"], fingerprints.namespace(stub))


def test_a_crop_that_computes_and_runs_is_told_that_a_crop_selects():
    blurred = wrong(
        "crop",
        "a blurred window",
        CROP_RETURN,
        CROP_RETURN.replace("return ", "window = ") + "\n    return (window + window.roll(1, -1)) // 2",
    )
    where = hidden(fingerprints.mistaken_namespace(blurred), "test_crop_centre")[2]
    assert where[0] == "not one window of the input" and "a crop selects a window of its input whatever" in where[1]


def training_test_cell():
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    return next(
        cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == assignment.TRAINING.grade_id
    )


@pytest.fixture
def notebook():
    """run(source) -> IPython's result of running `source` as a notebook cell, in a shell whose stopped cells are
    explained (lesson/stopped.py), with the self-checks' helpers defined as the notebook's cells define them."""
    shell = InteractiveShell.instance()
    shell.user_ns.clear()
    shell.user_ns.update(fingerprints.namespace())
    shell.user_ns["_passed"].update(dict.fromkeys(assignment.PART_TESTS, False))
    for part in assignment.PARTS:  # the parts are the cells' to define
        shell.user_ns.pop(part.name)
    stopped._stopped.clear()
    stopped.explain_stopped_cells(shell)
    yield lambda source: shell.run_cell(source, store_history=True)
    shell.events.unregister("post_run_cell", stopped.remember)
    shell.set_custom_exc((), None)
    shell.user_ns.clear()


def test_the_training_test_after_a_raising_part_names_the_cell_and_the_part(notebook):
    assert notebook(fingerprints.solutions_code(EXPAND2_X3)).success
    assert notebook(
        "from lesson.config import read_config\nconfig = read_config()\nfit_images = np.zeros((25, 8, 8))"
    ).success
    stand_in = "model = UNet(1, 1, hidden_channels=2)\nlosses = [float(model(normal((1, 1, 192, 176), seed=0)).mean())]"
    count = notebook(stand_in).execution_count  # the training cell stops
    error = notebook(training_test_cell()).error_in_exec
    said = str(error)
    assert isinstance(error, NameError) and said.startswith("name 'losses' is not defined, because"), said
    assert (
        f"the cell In [{count}] stopped at `losses = [float(model(normal((1, 1, 192, 176), seed=0)).mean())]`" in said
    )
    assert (
        "raised in your ExpandingBlock.forward at `x = torch.cat([x, skip_con_x], axis=1)`, called from your "
        "UNet.forward at `x6 = self.expand2(x5, x3)`" in said
    ), said


def test_a_test_whose_part_did_not_run_says_why(notebook):
    broken = fingerprints.solutions_code().replace(
        "class ContractingBlock(nn.Module):", "class ContractingBlock(nn.Module:"
    )
    assert not notebook(broken).success
    error = notebook(fingerprints.part_test_cells()["test_contracting_block_forward"]).error_in_exec
    assert "name 'ContractingBlock' is not defined, because the cell In [" in str(error), error
    assert "did not run: SyntaxError" in str(error), error


def test_a_visible_test_in_a_notebook_names_the_line_that_raised(notebook):
    assert notebook(fingerprints.solutions_code(EXPAND2_X3)).success
    assert notebook("_passed.update(dict.fromkeys(_passed, True))").success  # as if the other parts' tests passed
    error = notebook(fingerprints.part_test_cells()["test_unet_forward"]).error_in_exec
    assert "(the line `x6 = self.expand2(x5, x3)` of your UNet.forward)." in str(error), error


def test_names_a_cell_sets():
    assert stopped.assigned_names(
        "a, (b, c) = 1, (2, 3)\nd += 1\nimport numpy as np\nfrom torch import nn\n"
        "def f():\n    e = 1\nclass G:\n    h = 2\nfor i in []:\n    pass"
    ) == {"a", "b", "c", "d", "np", "nn", "f", "G", "i"}
    assert stopped.assigned_names("x = 1\nclass Broken(:\n    y = 2") == {"x", "Broken"}


def test_the_notebook_knows_the_parts_students_write():
    assert PARTS == tuple(part.name for part in assignment.PARTS)


def test_a_cell_stopped_for_want_of_a_name_passes_the_first_cause_on(notebook):
    first = notebook("losses = [1 / 0]").execution_count
    second = notebook("scores = sum(losses)").execution_count
    said = str(notebook("print(scores)").error_in_exec)
    assert said == (
        f"name 'scores' is not defined, because the cell In [{second}] stopped for want of losses: the cell "
        f"In [{first}] stopped at `losses = [1 / 0]` with ZeroDivisionError: division by zero. Fix that "
        f"cell, then run the cells from there again"
    ), said
    assert notebook("losses = [1.0]").success and notebook("scores = sum(losses)").success
    assert notebook("print(scores)").success  # set again: nothing to explain


def test_the_check_of_a_part_the_notebook_does_not_define_says_so():
    from autograder.grading.plugins import _not_run

    scope = fingerprints.mistaken_namespace(CONV2_HALF)
    del scope["ExpandingBlock"]  # its cell stopped: a SyntaxError, say
    problem, found, where = hidden(scope, "test_expanding_block_forward")
    assert problem == "it raised KeyError: 'ExpandingBlock'" and where is None
    said = _not_run("test_expanding_block_forward", verdicts.KernelRaised("KeyError: 'ExpandingBlock'"))
    assert said.startswith("it could not run your code: your notebook defines no ExpandingBlock (the cell"), said
    assert (
        _not_run("test_crop_shape", verdicts.KernelRaised("KeyError: 'x'"))
        == "it could not run your code: it raised KeyError: 'x'"
    )


def test_a_garbled_record_of_the_error_locates_nothing_and_breaks_nothing():
    for trace in (
        None,
        {},
        {"raised": "x"},
        {"raised": {"call": 3, "inputs": "zz"}, "calls": [], "layers": {}},
        {"raised": {"part": "UNet.forward", "call": "expand2", "inputs": [[1]]}, "calls": [[1]], "layers": 2},
    ):
        for grade_id in ("test_expanding_block_forward", "test_crop_centre"):
            where = located.describe(grade_id, "RuntimeError: x", trace)  # never raises
            assert where is None or isinstance(where, tuple)


def test_the_grader_counts_the_parts_it_swaps_in_as_passed_while_they_are_in():
    from autograder.authoring import checks

    ns = {"_passed": {"test_crop_shape": False}, "crop": "yours"}
    swapped = checks.swap_in(ns, verdicts._dependency_code(["crop"]), ["crop"], ["test_crop_shape", "test_crop_centre"])
    assert ns["_passed"] == {"test_crop_shape": True, "test_crop_centre": True} and ns["crop"] != "yours"
    checks.restore(ns, swapped)
    assert ns["_passed"] == {"test_crop_shape": False} and ns["crop"] == "yours"
    assert "'test_expanding_block_forward'" in verdicts.swap_code("test_unet_shape")
