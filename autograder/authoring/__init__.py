"""Authoring: what an instructor writes beside the declaration (``autograder/assignment.py``).

In: the declaration's parts and tests. Out: the hidden checks (``checks.py``, one function per graded test,
whose text is also sent into the student's kernel), the known mistakes of each part (``mistakes.toml``, read
by ``mistakes.py``) and the grader's policy (``policy.py``: the runs of quick and smoke mode and the held-out
quality asked of each). Next: ``judging/``, which runs the checks and names the mistakes.
"""
