"""Why a cell cannot run: an earlier cell stopped before it set the names this one needs.

A cell that raises leaves the names it would have set unset, and every later cell that needs them fails with
"NameError: name 'losses' is not defined", which says nothing of the cause. In a notebook,
``explain_stopped_cells()`` (run once, by the cell that carries this module) registers two IPython hooks:

* after each cell, the names it sets at its top level (assignments, definitions, imports) are remembered: as
  stopped, with the cell's line that raised, the error and the parts of yours it was raised in, when the cell
  raised; as set, when it ran through;
* a NameError of a stopped name then says so: "name 'losses' is not defined, because the cell In [23] stopped
  at `losses = fit(...)` with RuntimeError: ..., raised in your ExpandingBlock.forward at `x = torch.cat(...)`,
  called from your UNet.forward at `x6 = self.expand2(x5, x3)`".

In: the source and error of each cell run (IPython's ``post_run_cell`` event), and NameErrors (IPython's custom
exception handler). Out: the NameError's message, extended; the error is shown as before.
"""

import ast
import re

# in the notebook, the cells above define these names (lesson/carried.py leaves these lines out)
from lesson.trace import part_frames, tracebacks

_stopped = {}  # name -> why the cell that sets it stopped, in words


def assigned_names(source):
    """The names a cell's source sets at its top level (read with `ast`, or line by line when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {
            name
            for pair in re.findall(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", source, re.MULTILINE)
            for name in pair
            if name
        }
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        else:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names |= {
                leaf.id
                for target in targets
                if target is not None
                for leaf in ast.walk(target)
                if isinstance(leaf, ast.Name)
            }
    return names


def why_stopped(source, error, count=None):
    """Why a cell stopped, in words: where in the cell, with which error, raised in which of your parts."""
    cell = f"the cell In [{count}]" if count else "an earlier cell"
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    message = message if len(message) <= 240 else message[:237] + "..."
    if isinstance(error, SyntaxError):
        return f"{cell} did not run: {message} (line {error.lineno} of the cell)"
    frames = [(tb.tb_frame, tb.tb_lineno) for tb in tracebacks(error)]
    cell_lines = source.splitlines()
    at = next(
        (
            cell_lines[line - 1].strip()
            for frame, line in frames
            if frame.f_code.co_name == "<module>" and 0 < line <= len(cell_lines)
        ),
        "",
    )
    said = f"{cell} stopped{f' at `{at}`' if at else ''} with {message}"
    parts = part_frames(error)[::-1]  # the innermost first: where it was raised
    if not parts:
        return said + ". Fix that cell, then run the cells from there again"
    said += "".join(
        f"{', raised in' if number == 0 else ', called from'} your {qualname}" + (f" at `{line}`" if line else "")
        for number, (qualname, line) in enumerate(parts)
    )
    if isinstance(error, NotImplementedError) and not str(error):
        return said + f": {parts[0][0].split('.')[0]} is not written yet"
    return (
        said + ". Make your parts pass their tests first (their messages say where each goes wrong), then run "
        "the cells from there again"
    )


def remember(result):
    """IPython's post_run_cell event: the names of the cell just run, as set or as stopped (and why)."""
    source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
    error = result.error_before_exec or result.error_in_exec
    cause, count = None, getattr(result, "execution_count", None)
    if error is not None:
        missing = _missing(error)
        cause = why_stopped(source, error, count)
        if missing in _stopped:  # stopped for want of a name an earlier cell did not set
            cause = f"{cause.split(' stopped')[0]} stopped for want of {missing}: {_stopped[missing]}"
    for name in assigned_names(source):
        if cause is None:
            _stopped.pop(name, None)
        else:
            _stopped[name] = cause


def _missing(error):
    """The name a NameError did not find (its `name`, or read from its message before Python 3.10); else None."""
    if not isinstance(error, NameError):
        return None
    found = getattr(error, "name", None) or re.match(r"name '(\w+)' is not defined", str(error))
    return found if isinstance(found, str) or found is None else found[1]


def explain(shell, etype, value, tb, tb_offset=None):
    """IPython's handler of NameErrors: the message says why the name is not set, when a cell stopped before it."""
    cause = _stopped.get(_missing(value))
    if cause and value.args and isinstance(value.args[0], str) and ", because " not in value.args[0]:
        value.args = (f"{value.args[0]}, because {cause}",)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
    return []


def explain_stopped_cells(shell=None):
    """Register the hooks in this notebook's IPython (once, however often the cell runs); nothing outside IPython."""
    try:
        shell = shell or get_ipython()  # noqa: F821 (IPython's own)
    except NameError:
        return
    events = shell.events.callbacks.get("post_run_cell", [])
    for callback in [callback for callback in events if getattr(callback, "__name__", "") == "remember"]:
        shell.events.unregister("post_run_cell", callback)
    shell.events.register("post_run_cell", remember)
    shell.set_custom_exc((NameError,), explain)


if __name__ == "__main__":  # run as the notebook's cell: this notebook's NameErrors say why
    explain_stopped_cells()
