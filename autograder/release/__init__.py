"""Release: ``python -m autograder release [--check]``, the student notebook made from the authored source.

In: ``solutions/UNet_Assignment.ipynb``, the carried modules (``lesson/``, ``data/isbi2012.py``), the
declaration and ``judging/``. Out: ``UNet_Assignment.ipynb`` (``generate.py``, through nbgrader's own
``generate_assignment`` in a throwaway course, ``course.py``), the README's parts table, the fingerprints of
the hidden checks and of the visible tests (``judging/fingerprints.json``, the visible ones packed in a cell).
Next: students fill in the release; ``grading/`` grades what they hand in.
"""
