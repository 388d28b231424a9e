"""Integrations: the grader's results carried into the systems a course already runs, one module each.

In: the stages below (a release, a graded batch's Results) and what a platform hands over. Out: an nbgrader course's
own folders and gradebook (``nbgrader_course``; its settings and exchange, ``nbgrader_settings``), a Gradescope
autograder bundle (``gradescope``), an LMS's bulk downloads understood (``lms``; its zips extracted within the
limits, ``lms_zip``) and its grade import written. The top layer: it may import from any stage, and only the command
line (``cli.py``) imports it. Next: nothing; this is where a submission's trip ends.
"""
