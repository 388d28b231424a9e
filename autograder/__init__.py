"""Instructor and grader tools for the U-Net assignment: release generation and grading, built on nbgrader.

The assignment is declared once, in ``assignment.py`` at this package's root; every stage derives from it.
A test's points travel down the left of this picture once per ``release``; a submission travels down the right
once per ``grade``:

    solutions/UNet_Assignment.ipynb  +  assignment.py         the authored source and the one declaration
                    |
    authoring/      the hidden checks, the known mistakes, the grader's policy (what an instructor writes)
                    |
    judging/        a check's answer judged against the reference, and the known mistake it matches
                    |
    release/        unet-course release: the student notebook, fingerprints.json, the visible
                    |   tests' fingerprints in lesson/selfcheck.py
                    v
            UNet_Assignment.ipynb  ->  students  ->  submissions
                    |
    grading/        unet-course grade: each submission rebuilt on the release, run by nbgrader's
                    |   autograde, each test judged (judging/), on this machine or a Dask cluster
    sandbox/        the walls around each submission's kernel (bubblewrap, its own user, cgroup, rlimits)
                    |
    reports/        result.json per submission, grades.csv, mistakes.csv, summary.html, feedback pages
                    |
    integrations/   nbgrader courses, Gradescope and LMS exports, built on the stages above

A module imports only from its own layer and the layers listed before it here; the project's own
packages outside ``autograder/`` come first. Grading runs the batch, so it sits above the stages it calls
(it makes the release's template course, runs kernels in the sandbox and writes through reports/); reports/
sits low because release and grading both write through it. ``tests/test_layers.py`` reads this list and
fails on an import that goes up it, or on a circle between modules.

LAYER ORDER (lowest first):
    data
    solutions
    lesson
    autograder.options
    autograder.assignment autograder.authoring
    autograder.judging
    autograder.reports
    autograder.release
    autograder.sandbox
    autograder.grading
    autograder.integrations
    autograder.cli
    autograder.__main__
"""
