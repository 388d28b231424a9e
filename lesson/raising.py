"""Where a part that raised goes wrong (the grader says the same words): most often a RuntimeError deep inside
PyTorch, when channels or sizes do not fit.

``layer_trace`` (``lesson/trace.py``) keeps its record up to the failure and adds what it saw of it, as
"raised": the call of a layer in progress when the error came (its name and the fingerprints of its inputs), the
line of your part's code that raised, and, for a crop, the tensors it was given. From that record:

* ``locate_raised`` (the blocks and the U-Net): the layers whose settings differ from the table's (found without
  running forward), the last call that agreed with the specification's, and the call that raised, with the shapes
  it got against those the specification's gets at that point (for a wrong skip: which result it is, and which
  one the specification passes);
* ``locate_crop_raised``: on which input the crop raised, and, when it computes (interpolation, pooling), that a
  crop selects a window of its input whatever the dtype.

In: ``layer_trace`` records, yours and the specification's. Out: (category, sentence), or None.
"""

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.fingerprint import TOLERANCE
from lesson.locate import SELECTS, first_difference, settings_differences


def locate_raised(mine, references, tolerance=TOLERANCE):
    """(category, sentence) for a block or U-Net whose forward raised (`mine`: its ``layer_trace`` record, with
    "raised"; `references`: the specification's records, one per correct answer); None without a "raised" entry, or
    when the error came from outside the part (neither a layer's call nor the part's code was under way)."""
    raised = mine.get("raised") if isinstance(mine, dict) else None
    if not raised or not (raised.get("part") or raised.get("call")):  # not raised in the part: nothing to say
        return None
    found = settings_differences(mine, references[0]) if references and mine.get("layers") else []
    found += _raising_call(mine, raised, [theirs for theirs in references if theirs.get("calls")], tolerance)
    return (found[0][0], "; ".join(sentence for _, sentence in found)) if found else None


def _raising_call(mine, raised, references, tolerance):
    """[(category, sentence)]: the first call that differs up to the one that raised, and the one that raised."""
    name, inputs, line = raised.get("call"), raised.get("inputs") or [], _line(raised)
    if raised.get("again") or not references:  # nothing recorded to compare with: the call alone
        what = (
            f"{name} raised when called on {_shapes(inputs)}" if name else f"your {raised.get('part') or 'part'} raised"
        )
        return [(f"{name or raised.get('part')}: raises", what + line)]
    pending = [name, inputs, None] if name else None
    done = list(mine.get("calls") or [])
    calls = {**mine, "calls": done + ([pending] if pending else [])}
    _, found, at_pending, theirs = max(
        ((*first_difference(calls, theirs, tolerance, pending, True), theirs) for theirs in references),
        key=lambda item: item[0],
    )
    if at_pending:  # the call that raised: other inputs, or the specification's
        return [(found[0][0], found[0][1] + line)]
    before = found or ([(None, f"the results agree up to {_where(done)}")] if done else [])
    category = (
        found[0][0]
        if found
        else (f"{name}: raises" if name else f"raises after {_where(done)}" if done else "raises before any layer")
    )
    return [(category, "; ".join([sentence for _, sentence in before] + [_the_raise(raised, done, theirs)]))]


def _the_raise(raised, done, theirs):
    """The sentence on the call that raised, where the calls before it did not say it: a layer the specification's
    forward never calls, a layer called after an earlier difference, or your forward's own code between layers."""
    name, inputs = raised.get("call"), raised.get("inputs") or []
    if name and name not in {call[0] for call in theirs["calls"]}:
        return (
            f"{name}, which the specification's forward never calls, raised when called on {_shapes(inputs)}"
            f"{_line(raised)}"
        )
    if name:
        their = _next_call(done, theirs, name)
        return (
            f"then {name} raised when called on {_shapes(inputs)}"
            + (f", where the specification's {name} gets {_shapes(their[1])}" if their else "")
            + _line(raised)
        )
    their = _next_call(done, theirs)
    return (
        f"then your {raised.get('part') or 'forward'} raised"
        + (f" in the line `{raised['line']}`" if raised.get("line") else "")
        + (f", before the specification's next call, {their[0]}, which gets {_shapes(their[1])}" if their else "")
    )


def _next_call(done, theirs, name=None):
    """The specification's first call (named `name`, if given) that yours did not make before raising."""
    made = {}
    for call in done:
        made[call[0]] = made.get(call[0], 0) + 1
    seen = {}
    for call in theirs["calls"]:
        seen[call[0]] = seen.get(call[0], 0) + 1
        if seen[call[0]] > made.get(call[0], 0) and (name is None or call[0] == name):
            return call
    return None


def _where(calls):
    """The last call made, as `first_difference` names it ("activation (its call 2)")."""
    name = calls[-1][0]
    count = sum(call[0] == name for call in calls)
    return name + (f" (its call {count})" if count > 1 else "")


def _shapes(prints):
    """ "(2, 8, 17, 17)", or "(2, 4, 17, 17) and (2, 4, 21, 21)", from fingerprints."""
    return " and ".join(str(tuple(print_[0])) for print_ in prints) or "no tensor"


def _line(raised):
    """ " (the line `...` of your UNet.forward)", or "" where neither is known."""
    part, line = raised.get("part"), raised.get("line")
    if part and line:
        return f" (the line `{line}` of your {part})"
    return f" (in your {part})" if part else ""


def locate_crop_raised(raised):
    """(category, sentence) for a crop that raised: on which input, where, and whether it computes; None without a
    record."""
    if not raised or not raised.get("part"):  # not raised in the crop: nothing to say
        return None
    image = next(iter((raised.get("arguments") or {}).values()), None)
    said = "your crop raised"
    if image:
        dtype = str(image[1]).replace("torch.", "")
        said += f" on {'an' if dtype[0] in 'aeiou' else 'a'} {dtype} image of shape {tuple(image[0])}"
    if raised.get("line"):
        said += f", in the line `{raised['line']}`"
    if raised.get("computing"):
        return "computes instead of selecting", f"{said}: {SELECTS}"
    return "raises", said
