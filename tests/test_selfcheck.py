"""The notebook's visible tests (lesson/selfcheck.py): they compare a student's output with the specification's
fingerprints, pass every correct style of the catalogue (either crop offset included) and name the known
mistakes of every bug of the catalogue, without the grader."""

import re

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from autograder import assignment
from autograder.authoring import mistakes
from autograder.judging import fingerprints, verdicts
from autograder.release.course import RELEASE_NOTEBOOK
from lesson import fingerprint, selfcheck
from tests.catalogue import ATTACKS, CATALOGUE, module_code

CORRECT = [variant for variant in CATALOGUE if variant.parts and not variant.fails]
BUGS = [variant for variant in (*CATALOGUE, *ATTACKS) if variant.mistakes]


SELFCHECK_CELLS = (
    "fingerprint-module",
    "trace-module",
    "locate-module",
    "raising-module",
    "stopped-module",
    "selfcheck-module",
    "selfcheck-prints",
)


def release_cells():
    """(the release's carried self-check cells, in notebook order, as one text; {grade_id: source} of the part
    tests)."""
    notebook = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
    cells = {cell.get("id"): cell.source for cell in notebook.cells}
    tests = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") in assignment.PART_TESTS
    }
    return "\n".join(cells[cell_id] for cell_id in SELFCHECK_CELLS), tests


def run_visible_tests(definitions, crop=None):
    """Run the release's self-check cell, `definitions` (code defining the parts) and every visible part test,
    in notebook order, in one namespace as a notebook would: {grade_id: "" if it passed, else its error}."""
    module, tests = release_cells()
    scope = {}
    exec(module, scope)
    exec(definitions, scope)
    if crop is not None:
        scope["crop"] = crop
    outcomes = {}
    for grade_id, source in tests.items():
        try:
            exec(source, scope)
            outcomes[grade_id] = ""
        except Exception as error:  # noqa: BLE001
            outcomes[grade_id] = f"{type(error).__name__}: {error}"
    return outcomes


def test_the_visible_fingerprints_are_current_and_the_release_carries_them_to_the_last_digit():
    assert not fingerprints.stale(), "run `python -m autograder release`"
    module, _ = release_cells()
    scope = {}
    exec(module, scope)
    assert scope["FINGERPRINTS"] == fingerprints.visible()["tests"]
    assert scope["KNOWN_MISTAKES"] == fingerprints.visible()["mistakes"]


def test_the_packed_prints_give_back_every_number_to_the_last_digit_so_every_verdict_is_the_same():
    prints = fingerprints.visible()
    packed = selfcheck.pack(prints)
    assert selfcheck.unpack(packed) == prints  # JSON gives each float back exactly (repr round trip)
    assert max(len(line) for line in packed.splitlines()) == selfcheck.PACKED_WIDTH
    assert len(packed) < len(repr(prints)) / 5


def test_the_prints_cell_keeps_its_packing_while_the_prints_are_the_same_and_is_written_anew_otherwise(monkeypatch):
    current = fingerprints.notebook_text()
    packed = current.split('"""')[3].strip()
    rewrapped = current.replace(packed, packed.replace("\n", "\n\n"))
    assert fingerprints.notebook_text(current) == current and fingerprints.notebook_text(rewrapped) == rewrapped
    assert fingerprints.notebook_text(current.replace("do not edit", "edit")) == current
    changed = {**fingerprints.visible(), "mistakes": {"a new mistake": "the specification"}}
    monkeypatch.setattr(fingerprints, "visible", lambda: changed)
    assert selfcheck.unpack(fingerprints.notebook_text(current).split('"""')[3]) == changed


def test_a_failing_test_cell_in_a_kernel_shows_the_message_and_none_of_the_self_checks_code():
    """The release's self-check cells, a crop that cuts the top-left corner and the crop's test cell, run in a real
    IPython kernel: the traceback shows the test's line and the message, and no line of the self-check cells."""
    cells = {cell.get("id"): cell.source for cell in nbformat.read(RELEASE_NOTEBOOK, as_version=4).cells}
    wrong = "import torch\ndef crop(image, new_shape):\n    return image[:, :, :new_shape[2], :new_shape[3]]\n"
    sources = [*(cells[cell_id] for cell_id in SELFCHECK_CELLS), wrong, cells["crop-test-centre"]]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120).execute()
    assert [output.get("ename") for cell in notebook.cells[:-1] for output in cell.outputs] == []
    error = notebook.cells[-1].outputs[-1]
    assert error["ename"] == "AssertionError"
    assert "the top-left corner instead of the centre (the specification asks for" in error["evalue"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert error["evalue"] in shown and 'with compare_with_specification("test_crop_centre")' in shown
    code = {line.strip() for source in sources[: len(SELFCHECK_CELLS)] for line in source.splitlines()}
    assert [line for line in code if len(line) > 12 and line in shown] == [], shown
    assert shown.count("Cell In[") == 1, shown  # the test cell's frame, no other cell's


def test_every_part_test_cell_compares_with_the_specification():
    _, tests = release_cells()
    assert list(tests) == list(assignment.PART_TESTS)
    for grade_id, source in tests.items():
        assert f'compare_with_specification("{grade_id}") as results:' in source, grade_id


def test_sums_of_a_tiny_tensor_by_hand():
    # weights -1, -1/3, 1/3, 1 over the values 1, 2, 3, 4: -1 - 2/3 + 1 + 4 = 10/3
    assert fingerprint.sums([[1.0, 2.0], [3.0, -4.0]]) == pytest.approx([2.0, 10.0, -1 - 2 / 3 + 1 - 4])
    assert fingerprint.sums(np.zeros((0, 3))) == []


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the sums of nan and inf
def test_fingerprints_tell_apart_shape_dtype_and_place():
    image = torch.arange(12.0).reshape(1, 1, 3, 4)
    print_ = fingerprint.fingerprint(image)
    assert print_[:2] == [[1, 1, 3, 4], "float32"] and fingerprint.fingerprint(image, False) == print_[:2]
    assert fingerprint.difference("x", fingerprint.fingerprint(image + 1e-6), print_) == ""
    assert "shape (1, 1, 3, 4), got (1, 3, 4)" in fingerprint.difference("x", fingerprint.fingerprint(image[0]), print_)
    assert "dtype float32 (the input's), got float64" in fingerprint.difference(
        "x", fingerprint.fingerprint(image.double()), print_
    )
    flipped = fingerprint.fingerprint(image.flip(-1))  # the same values elsewhere: only the weighted sum differs
    assert flipped[2][:2] == print_[2][:2] and "other values" in fingerprint.difference("x", flipped, print_)
    assert "not finite" in fingerprint.difference("x", fingerprint.fingerprint(image / 0), print_)


def test_seeded_weights_depend_on_the_names_not_on_the_order_of_creation():
    class Ordered(torch.nn.Module):
        def __init__(self, reverse):
            super().__init__()
            for name in ["b", "a"] if reverse else ["a", "b"]:
                setattr(self, name, torch.nn.Conv2d(2, 3, 3))

    one, other = fingerprint.seed_weights(Ordered(False), 5), fingerprint.seed_weights(Ordered(True), 5)
    assert torch.equal(one.a.weight, other.a.weight) and not torch.equal(one.a.weight, one.b.weight)
    assert torch.equal(fingerprint.normal((2, 3), 7), fingerprint.normal((2, 3), 7))


def test_a_failed_comparison_names_the_difference_the_mistake_and_an_unpassed_dependency(monkeypatch):
    entry = {
        "tolerance": 1e-3,
        "uses": {"crop": ["test_crop_shape"]},
        "specification": [{"y": fingerprint.fingerprint(torch.ones(2, 2))}],
        "mistakes": {"doubled": [{"y": fingerprint.fingerprint(2 * torch.ones(2, 2))}], "raises": ["ValueError: no"]},
    }
    monkeypatch.setattr(selfcheck, "FINGERPRINTS", {"test_x": entry})
    monkeypatch.setattr(selfcheck, "KNOWN_MISTAKES", {"doubled": "ones", "raises": "no error"})
    monkeypatch.setattr(selfcheck, "_passed", {"test_crop_shape": True})
    with selfcheck.compare_with_specification("test_x") as results:
        results["y"] = torch.ones(2, 2)
    with pytest.raises(
        AssertionError,
        match=r"y has the right shape but other values .*a known mistake: doubled "
        r"\(the specification asks for ones\)\.$",
    ):
        with selfcheck.compare_with_specification("test_x") as results:
            results["y"] = 2 * torch.ones(2, 2)
    with pytest.raises(AssertionError, match="ValueError: no. Your part's results match a known mistake: raises"):
        with selfcheck.compare_with_specification("test_x"):
            raise ValueError("no")
    with pytest.raises(KeyError):  # an error no known mistake raises is left as it is
        with selfcheck.compare_with_specification("test_x"):
            raise KeyError("other")
    with pytest.raises(AssertionError, match=r"^y should be a tensor, got NoneType \(is a `return` missing\?\)\.$"):
        with selfcheck.compare_with_specification("test_x") as results:
            results["y"] = None
    monkeypatch.setattr(selfcheck, "_passed", {"test_crop_shape": False})
    with pytest.raises(AssertionError, match="KeyError: 'other'. This part calls your crop"):
        with selfcheck.compare_with_specification("test_x"):
            raise KeyError("other")
    with pytest.raises(
        AssertionError,
        match=r"y should have shape \(2, 2\), got \(3,\)\. This part calls your crop, "
        r"whose tests \(test_crop_shape\) have not all passed yet",
    ):
        with selfcheck.compare_with_specification("test_x") as results:
            results["y"] = torch.ones(3)


def test_the_reference_passes_every_visible_test_with_either_crop_offset():
    for rounding in verdicts.CROP_ROUNDINGS:
        outcomes = run_visible_tests(module_code({}), crop=verdicts.crop_at(*rounding))
        assert outcomes == dict.fromkeys(assignment.PART_TESTS, ""), rounding


@pytest.mark.parametrize("variant", CORRECT, ids=lambda variant: variant.name)
def test_every_correct_style_of_the_catalogue_passes_every_visible_test(variant):
    assert run_visible_tests(module_code(variant.parts)) == dict.fromkeys(assignment.PART_TESTS, "")


@pytest.mark.parametrize("variant", BUGS, ids=lambda variant: variant.name)
def test_every_bug_of_the_catalogue_fails_a_visible_test_that_names_it(variant):
    """Named, or (when it is in a part that calls another broken part) the part's test says to fix that first."""
    outcomes = run_visible_tests(module_code(variant.parts))
    failed = " ".join(outcomes.values())
    by_name = {mistake.name: mistake for mistake in mistakes.MISTAKES}
    for name in variant.mistakes:
        tests = [test.grade_id for test in assignment.part(by_name[name].part).tests]
        assert f"{name} (the specification asks for" in failed or any(
            "This part calls your" in outcomes[test] for test in tests
        ), f"{name} not named in {failed[:600]}"


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda mistake: mistake.name)
def test_every_mistake_of_the_library_is_named_by_a_visible_test_of_its_part(mistake):
    from autograder.judging.fingerprints import solutions_code

    part = assignment.part(mistake.part)
    outcomes = run_visible_tests(solutions_code(mistake))
    named = [grade_id for grade_id, error in outcomes.items() if f"{mistake.name} (the specification asks" in error]
    assert named and {assignment.part_of(grade_id) for grade_id in named} == {part}, outcomes


def test_a_wrong_crop_fails_the_parts_that_call_it_and_says_so():
    outcomes = run_visible_tests(
        module_code({}), crop=lambda image, new_shape: image[:, :, : new_shape[2], : new_shape[3]]
    )
    assert "the top-left corner instead of the centre" in outcomes["test_crop_centre"]
    expanding = outcomes["test_expanding_block_forward"]
    assert (
        "This part calls your crop, whose tests (test_crop_shape, test_crop_centre) have not all passed yet"
        in expanding
    )
    assert "known mistake" not in expanding, "its numbers come from the broken crop: no mistake of its own is named"


def test_no_mistake_looks_like_the_specification_or_like_another_in_the_visible_tests():
    assert [collision for collision in fingerprints.collisions() if collision[0] == "visible"] == []


@pytest.mark.slow
def test_the_stored_visible_fingerprints_are_what_the_test_cells_give_now():
    fresh = fingerprints.compute_visible()
    assert fresh["mistakes"] == fingerprints.visible()["mistakes"]
    for grade_id, entry in fresh["tests"].items():
        stored = fingerprints.visible()["tests"][grade_id]
        assert entry["uses"] == stored["uses"] and entry["tolerance"] == stored["tolerance"]
        for fresh_answers, stored_answers in [
            (entry["specification"], stored["specification"]),
            *[(answers, stored["mistakes"][name]) for name, answers in entry["mistakes"].items()],
        ]:
            assert len(fresh_answers) == len(stored_answers), grade_id
            assert all(
                fingerprint.agree(one, other, entry["tolerance"]) for one, other in zip(fresh_answers, stored_answers)
            ), grade_id
        assert [trace["layers"] for trace in entry["traces"]] == [trace["layers"] for trace in stored["traces"]]
        for fresh_trace, stored_trace in zip(entry["traces"], stored["traces"], strict=True):
            assert [call[0] for call in fresh_trace["calls"]] == [call[0] for call in stored_trace["calls"]]
            assert all(
                fingerprint.agree({"output": one[2]}, {"output": other[2]}, entry["tolerance"])
                for one, other in zip(fresh_trace["calls"], stored_trace["calls"])
            ), grade_id


def test_a_block_kept_in_a_list_and_as_an_attribute_gets_the_weights_of_its_attribute_name():
    class Listed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Conv2d(1, 1, 1)])
            self.conv = self.blocks[0]

    plain = torch.nn.Module()
    plain.conv = torch.nn.Conv2d(1, 1, 1)
    assert torch.equal(
        fingerprint.seed_weights(Listed(), 3).conv.weight, fingerprint.seed_weights(plain, 3).conv.weight
    )


def test_an_unsolved_part_raises_its_own_error_in_its_tests_and_in_those_of_the_parts_that_call_it():
    unsolved_crop = "def crop(image, new_shape):\n    raise NotImplementedError()\n"
    outcomes = run_visible_tests(module_code({}) + "\n" + unsolved_crop)
    assert outcomes["test_crop_shape"] == outcomes["test_expanding_block_shape"] == "NotImplementedError: "
    broken_crop = "def crop(image, new_shape):\n    raise ValueError('no crop')\n"
    outcomes = run_visible_tests(module_code({}) + "\n" + broken_crop)
    assert outcomes["test_crop_shape"] == (
        "AssertionError: ValueError: no crop. Where it goes wrong: your crop raised on "
        "a float32 image of shape (10, 4, 16, 20)."
    )  # its own error, located
    assert outcomes["test_expanding_block_shape"].startswith(
        "AssertionError: ValueError: no crop. This part calls your crop, whose tests"
    )
