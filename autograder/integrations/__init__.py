"""Integrations: the grader's results carried into the systems a course already runs.

In: the stages below (a release, a graded batch's Results). Out: an nbgrader course's own folders and
gradebook, a Gradescope autograder and an LMS's grade export, one module each. The top layer: it may import
from any stage, and only ``__main__`` imports it. Next: nothing; this is where a submission's trip ends.
"""
