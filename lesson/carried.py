"""The lesson's modules as the notebook carries them, each in a collapsed cell of its own.

In: the path of a carried module (``lesson/*.py``, ``data/isbi2012.py``). Out: its text without its imports of the
project's own packages (``from lesson.fingerprint import ...``): in the notebook the cells above define those names,
and Colab has only the notebook. The release writes these texts into the cells; the grader runs the self-checks'
``layer_trace`` in a submission's kernel from the same texts.
"""

import pathlib
import re

PROJECT_IMPORT = re.compile(r"^from (?:data|lesson)\.\w+ import (?:\([^)]*\)|[^\n]*)\n", re.M)


def carried_text(path):
    """The module at `path` as its notebook cell carries it."""
    return PROJECT_IMPORT.sub("", pathlib.Path(path).read_text(encoding="utf-8"))
