"""Grading: ``unet-course grade PATH... --out DIR``, a batch of submissions graded by nbgrader.

In: notebook files (``submissions.py`` finds them and names their students). Each is rebuilt on the release
(``normalise.py``), graded in a throwaway nbgrader course by a worker process of its own (``grade.py`` ->
``python -m autograder.grading.worker``), with nbgrader's autograde configured by ``plugins.py`` (time limits,
output caps, each test judged by ``judging/``) and its kernel in ``sandbox/``; or one Dask task per
submission (``cluster.py``). Out: one ``Result`` per submission. Next: ``reports/`` writes grades.csv and
the feedback pages.
"""
