"""The mistake library (autograder/authoring/mistakes.py) and its fingerprints: each mistake is a real edit of the
reference, tells itself apart from the specification, and is named when a submission makes it."""

import pytest

from autograder import assignment
from autograder.authoring import mistakes
from autograder.grading.plugins import diagnosis
from autograder.judging import fingerprints, verdicts
from tests.catalogue import CATALOGUE, module_code
from tests.test_verdicts import kernel, reference_namespace  # noqa: F401 (a fixture)

BUGS = [variant for variant in CATALOGUE if variant.mistakes]
NAMES = {mistake.name for mistake in mistakes.MISTAKES}


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda mistake: mistake.name)
def test_each_mistake_edits_the_reference_and_differs_from_the_specification_somewhere(mistake):
    solution = verdicts.solutions()[assignment.part(mistake.part).solution_id]
    assert mistake.edit(solution) != solution
    stored = fingerprints.hidden()
    tests = [test.grade_id for test in assignment.part(mistake.part).tests]
    assert any(
        not any(
            fingerprints.same(stored[test]["mistakes"][mistake.name], spec) for spec in stored[test]["specification"]
        )
        for test in tests
    ), f"{mistake.name}: the checks cannot tell it from the specification"


def test_an_edit_that_no_longer_applies_says_so():
    with pytest.raises(ValueError, match="no longer contains"):
        mistakes.replace("a line the reference does not have", "x")("def crop(image, new_shape): ...")


def test_the_committed_fingerprints_are_current():
    assert not fingerprints.stale(), "run `python -m autograder release`"


def test_fingerprints_tell_apart_shapes_dtypes_values_and_errors():
    base = verdicts.typed([[1.0, 2.0], [3.0, 4.0]], "torch.float32", "cpu")
    one = fingerprints.of_answer("test_crop_centre", {"x": base})
    assert fingerprints.same(one, fingerprints.of_answer("test_crop_centre", {"x": base + 1e-6}))
    assert not fingerprints.same(one, fingerprints.of_answer("test_crop_centre", {"x": base[::-1].copy()}))
    assert not fingerprints.same(
        one, fingerprints.of_answer("test_crop_centre", {"x": verdicts.typed(base, "torch.float64")})
    )
    assert not fingerprints.same(one, fingerprints.of_answer("test_crop_centre", {"x": base.reshape(4, 1)}))
    assert fingerprints.same({"error": "E: m"}, {"error": "E: m"}) and not fingerprints.same({"error": "E: m"}, one)


@pytest.mark.parametrize("variant", BUGS, ids=lambda variant: variant.name)
def test_every_bug_of_the_catalogue_is_named_by_a_failed_check_of_its_part(kernel, variant):  # noqa: F811
    assert set(variant.mistakes) <= NAMES
    named = set()
    for grade_id in assignment.PART_TESTS:
        try:
            answer = verdicts.read_message(kernel({}, grade_id, definitions=module_code(variant.parts)))
        except verdicts.KernelRaised as error:
            answer = error.error
        if isinstance(answer, str) or verdicts.compare(grade_id, answer, verdicts.expected(grade_id)):
            named |= {mistake.name for mistake in fingerprints.diagnose(grade_id, answer)}
    assert set(variant.mistakes) <= named, f"named {sorted(named)}"


def test_a_failed_check_says_which_mistake_or_that_none_matches():
    found = [mistakes.MISTAKES[0]]
    assert diagnosis("test_crop_centre", found).startswith(
        f"Your part's results match a known mistake: {found[0].name}"
    )
    assert "none of the known mistakes" in diagnosis("test_crop_centre", [])
    assert diagnosis("test_training", []) == ""


@pytest.mark.slow
def test_the_committed_fingerprints_are_what_the_checks_give_now():
    fresh, stored = fingerprints.compute_hidden(), fingerprints.hidden()
    assert set(fresh) == set(stored)
    for test, entry in fresh.items():
        for name, print_ in entry["mistakes"].items():
            assert fingerprints.same(print_, stored[test]["mistakes"][name]), (test, name)


def test_no_two_mistakes_of_a_part_and_no_mistake_and_the_specification_look_alike():
    assert fingerprints.collisions() == []
