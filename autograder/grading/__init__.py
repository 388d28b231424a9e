"""Grading: ``unet-course grade PATH... --out DIR``, a batch of submissions graded by nbgrader.

In: notebook files (``submissions.py`` finds them, checks them against the limits of ``limits.py`` and names their
students; a file past a limit gets a row with the reason). Each is rebuilt on the release (``normalise.py``), graded
in a throwaway nbgrader course by a worker process of its own (``grade.py`` ->
``worker.py``, forked from a process that has imported what it uses: ``forked.py``, ``warm.py``; the code each
kernel runs first, ``preamble.py``), with nbgrader's autograde
configured by ``plugins.py`` (time limits, output caps, each test judged by ``judging/``) and its kernel in
``sandbox/``; or one Dask task per submission (``cluster.py``). A batch (``batch.py``) grades only the submissions
without a kept result under the same key (``keys.py``), keeps each result as it finishes, holds the output folder's
lock (``lock.py``) and stops cleanly on Ctrl-C or SIGTERM (``stopping.py``); its torch work (the reference's answers,
the precision measurement, the reference's quick runs: ``calibration.py``) runs in a child process
(``preparation.py``). Out: one ``Result`` per submission.
Next: ``reports/`` writes grades.csv and the feedback pages.
"""
