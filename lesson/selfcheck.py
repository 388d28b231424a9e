"""The tests' self-checks: your part's output on fixed inputs and weights, compared with the specification's.

Each test cell builds your part, gives it weights and inputs drawn from fixed seeds (``seed_weights`` and
``normal``), and collects what it computed in a ``with compare_with_specification(test) as results:`` block.
At the block's end, each result is reduced to its fingerprint (its shape, its dtype and three sums of its
values, see ``lesson/fingerprint.py``) and compared with the fingerprint of the specification's output: a few
numbers per result, never the solution. When your numbers (or the error your code raised) match those of a known
mistake instead, the message names the mistake and says what the specification asks; when they match none, it
says where the part goes wrong (``lesson/locate.py``, or ``lesson/raising.py`` when it raised). The message says it
all: the traceback shows the test's
line, not this code.

The specification's fingerprints come from ``python -m autograder release`` (the reference solution and the
known mistakes, run through the test cells), packed in the notebook's next cell: ``use_prints(unpack(...))``.
"""

import base64
import json
import linecache
import lzma

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.fingerprint import agree, differences, error_text, fingerprint
from lesson.locate import first_plane, locate_crop, locate_layers
from lesson.raising import locate_crop_raised, locate_raised
from lesson.trace import layer_trace

FINGERPRINTS, KNOWN_MISTAKES = {}, {}  # {test: its prints}, {mistake: what the specification asks instead}
PACKED_WIDTH = 100  # characters per line of packed prints
VERDICT_FILE = "<the self-check>"
VERDICT_LINE = "raise AssertionError(message) from cause   # the message below says what differs and why\n"


def use_prints(prints):
    """Compare with `prints`: {"mistakes": {name: what the specification asks instead}, "tests": {test: {"part",
    "tolerance", "uses", "specification", "traces", "mistakes"}}}, as the release writes them."""
    global FINGERPRINTS, KNOWN_MISTAKES
    FINGERPRINTS, KNOWN_MISTAKES = prints["tests"], prints["mistakes"]


def pack(prints):
    """Plain data as lines of text of PACKED_WIDTH characters: its JSON, compressed (LZMA), in Base85."""
    text = base64.b85encode(lzma.compress(json.dumps(prints, separators=(",", ":")).encode())).decode()
    return "\n".join(text[start : start + PACKED_WIDTH] for start in range(0, len(text), PACKED_WIDTH))


def unpack(text):
    """The data that `pack` gave `text` for (the same numbers, to the last digit)."""
    return json.loads(lzma.decompress(base64.b85decode("".join(text.split()))))


def naming(mistakes):
    """The sentence that names known mistakes: [(name, what the specification asks instead)]."""
    named = "; ".join(f"{name} (the specification asks for {instead})" for name, instead in mistakes)
    return f"Your part's results match {'a known mistake' if len(mistakes) == 1 else 'known mistakes'}: {named}. "


_passed = {}  # test -> whether it passed the last time it ran in this notebook


def compare_with_specification(test):
    """Collect results {description: tensor} in the `with` block, then compare them with the specification's
    fingerprints for the test `test`. Raise AssertionError saying what differs, and which known mistake it looks
    like, when they do not agree; an error raised in the block that a known mistake raises is named too."""
    return _Comparison(test)


class _Comparison:
    """The block of ``with compare_with_specification(test) as results:``: records the part's layers while it
    runs, and judges `results` (or the error raised) at its end."""

    def __init__(self, test):
        self.test, self.entry, self.results = test, FINGERPRINTS[test], {}

    def __enter__(self):
        _passed[self.test] = False
        self.tracing = layer_trace(self.entry["tolerance"] is not None)
        self.trace = self.tracing.__enter__()
        return self.results

    def __exit__(self, kind, error, traceback):
        __tracebackhide__ = True  # noqa: F841 (IPython leaves this frame out of a traceback)
        self.tracing.__exit__(kind, error, traceback)
        if error is not None:  # a part not written yet (NotImplementedError) says so itself
            unwritten = isinstance(error, NotImplementedError) and not str(error)
            message = _raised(self.entry, error, self.trace) if isinstance(error, Exception) and not unwritten else ""
            if message:
                _fail(message, error)
            return False
        message = _what_differs(self.entry, self.results, self.trace)
        if message:
            _fail(message, None)
        _passed[self.test] = True
        return False


def _fail(message, cause):
    """Raise AssertionError(message) from `cause` in a frame of its own, whose one line of code says to read the
    message: IPython shows a traceback's last frame with its code (it hides the others marked __tracebackhide__),
    so the student sees the test's line, that line and the message, and none of this cell's code."""
    __tracebackhide__ = True  # noqa: F841
    linecache.cache[VERDICT_FILE] = (len(VERDICT_LINE), None, [VERDICT_LINE], VERDICT_FILE)
    exec(compile(VERDICT_LINE, VERDICT_FILE, "exec"), {"message": message, "cause": cause})


def _raised(entry, error, trace):
    """What to say of an error raised in the block: the known mistakes that raise it and the parts to fix first,
    or else where the part goes wrong (`trace`: its `layer_trace`, kept up to the error); "" when there is nothing
    to add to the error itself."""
    matching = [
        name
        for name, answers in entry["mistakes"].items()
        if any(agree(error_text(error), answer) for answer in answers)
    ]
    advice = _advice(entry, matching) or locating(
        locate_crop_raised(trace.get("raised"))
        if entry["part"] == "crop"
        else locate_raised(trace, entry["traces"], entry["tolerance"])
    )
    return f"{error_text(error).rstrip('.')}. {advice}".strip() if advice else ""


def _what_differs(entry, results, trace):
    """What differs between `results` and the closest of the specification's answers, with the known mistakes
    they match and the parts to fix first, or else where the part goes wrong (`trace`: its `layer_trace`); ""
    when they agree with one of the answers."""
    import torch

    not_tensors = [
        f"{key} should be a tensor, got {type(value).__name__} (is a `return` missing?)"
        for key, value in results.items()
        if not isinstance(value, torch.Tensor)
    ]
    if not_tensors:
        return f"{'; '.join(not_tensors[:3])}. {_dependencies_note(entry)}".strip()
    tolerance = entry["tolerance"]  # None: only shapes and dtypes are compared
    mine = {key: fingerprint(value, tolerance is not None) for key, value in results.items()}
    found = [differences(mine, answer, tolerance) for answer in entry["specification"]]
    if not all(found):
        return ""
    matching = [
        name for name, answers in entry["mistakes"].items() if any(agree(mine, answer, tolerance) for answer in answers)
    ]
    advice = _advice(entry, matching) or locating(_located(entry, results, mine, trace))
    return f"{'; '.join(min(found, key=len)[:3])}. {advice}".strip()


def _advice(entry, mistakes):
    """Fix the parts this one calls first, when their tests have not all passed (this part's numbers then say
    little about this part); else the known mistakes of this part that the numbers match."""
    note = _dependencies_note(entry)
    return note or (naming([(name, KNOWN_MISTAKES[name]) for name in mistakes]) if mistakes else "")


def locating(description):
    """The sentence that says where a part goes wrong, from (category, sentence); "" for None."""
    return f"Where it goes wrong: {description[1]}. " if description else ""


def _located(entry, results, mine, trace):
    """(category, sentence) locating the first wrong result of a crop, or the first wrong layer of a block."""
    if entry["part"] != "crop":
        return locate_layers(trace, entry["traces"], entry["tolerance"])
    for key, want in entry["specification"][0].items():
        if key in mine and not any(
            agree({key: mine[key]}, {key: answer[key]}, entry["tolerance"]) for answer in entry["specification"]
        ):
            plane = first_plane(results[key].detach().cpu().numpy()) if entry["tolerance"] is not None else None
            return locate_crop(key, want, mine[key], plane)
    return None


def _dependencies_note(entry):
    """A sentence for each part this one calls whose tests have not all passed in this notebook."""
    return "".join(
        f"This part calls your {part}, whose tests ({', '.join(tests)}) have not all passed yet: make them pass first. "
        for part, tests in entry["uses"].items()
        if not all(_passed.get(other, False) for other in tests)
    )
