"""Release: ``unet-course release [--check]``, the student notebook made from the authored source.

In: ``solutions/UNet_Assignment.ipynb``, the carried modules (``lesson/``, ``data/isbi2012.py``), the
declaration and ``judging/``. Out: ``UNet_Assignment.ipynb`` (``generate.py``, through nbgrader's own
``generate_assignment`` in a throwaway course, ``course.py``), the README's parts table, the hidden checks'
fingerprints (``judging/fingerprints.json``) and the visible tests' (``visible_prints.py``, at the end of
``lesson/selfcheck.py``). Next: students fill in the release; ``grading/`` grades what they hand in.
"""
