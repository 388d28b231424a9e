"""Reports: what grading hands back, for the instructor and for each student.

In: the autograded notebook and the gradebook's scores of each submission. Out: its ``Result``
(``result.py``: ``result.json``, one row of grades.csv), the feedback page a student reads (``feedback.py``:
the grader's report and a score table first, the carried code left out, small figures) and the batch's files
(``report.py``: grades.csv, mistakes.csv, summary.html with the charts of ``charts.py``, feedback/, each written
atomically). The pages are Jinja2 templates in ``templates/`` (package data), rendered through ``templating.py``;
the feedback page's own, ``templates/feedback/``, extends nbgrader's. Next: ``integrations/`` carries the grades
to a course's own systems.
"""
