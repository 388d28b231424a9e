"""Where the grader meets a course's platform: an nbgrader course graded in place (``nbgrader_course``), a
Gradescope autograder bundle (``gradescope``), and an LMS's bulk downloads in and grade imports out (``lms``).

The top layer of the package: these modules may use any other module of ``autograder``; only ``__main__``
imports them.
"""
