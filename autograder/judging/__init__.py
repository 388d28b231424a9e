"""Judging: a check's answer compared with the reference solution's, and the known mistake it matches.

In: a check's raw answer, from a student's kernel or from a namespace here (the reference, a known mistake).
Out: a verdict (``verdicts.py``: agrees, or what differs; the training test's held-out judgement) and the
mistakes whose fingerprints the answer matches (``fingerprints.py``, reading ``fingerprints.json``, the one store
of the hidden checks' and the visible tests' fingerprints). Next: ``release/`` writes the fingerprints; ``grading/``
asks for a verdict after each graded test cell.
"""
