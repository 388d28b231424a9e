"""Reports: what grading hands back, for the instructor and for each student.

In: the autograded notebook and the gradebook's scores of each submission. Out: its ``Result``
(``result.py``: ``result.json``, one row of grades.csv), the feedback page a student reads (``feedback.py``:
a score table first, the carried code left out, small figures) and the batch's files (``report.py``:
grades.csv, mistakes.csv, summary.html, feedback/, each written atomically), and each result kept with the key it
was graded under (``kept.py``: ``results/<student>.json``), from which a later run reuses it. Next: ``integrations/`` carries
the grades to a course's own systems.
"""
