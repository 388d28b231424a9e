"""What the release notebook weighs, where its bytes are, and what carrying the modules more compactly would save.

    python -m benchmarks.notebook_size

It reads ``UNet_Assignment.ipynb`` and prints its size, the self-check cell's, and the bytes of the carried modules'
code, docstrings and comments, of the other cells and of the JSON around them (nbformat writes each source as a list
of lines, indented). Then it writes nothing, but measures the release as it would be if each carried cell held its
module more compactly, in steps, each on top of the JSON change:

- each cell's source as one JSON string (nbformat's schema allows it; Jupyter writes lists again when it saves);
- the comments dropped from the carried code;
- docstrings cut to their first sentence (a module's to its first paragraph), comments kept;
- both, and the same without JSON indentation.

The carried code is the module's text as the release carries it (``lesson/carried.py``); each variant is compiled,
so a cut never leaves code that would not run.
"""

import io
import json
import re
import textwrap
import tokenize

from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT
from autograder.release.generate import STORE, inlined_module
from lesson.carried import carried_text

DOCSTRING_START = (tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT, None)  # the token before a docstring


def first_sentence(body: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line."""
    paragraph = " ".join(line.strip() for line in body.strip().split("\n\n")[0].splitlines())
    end = re.search(r"[.:;!?](?=\s+[A-Z(`*])|[.!?]$", paragraph)
    return paragraph[: end.end()] if end else paragraph


def compact(text: str, comments: bool, docstrings: bool) -> str:
    """`text` without its comments (unless `comments`) and with docstrings cut short (if `docstrings`)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    offset = lambda position: starts[position[0] - 1] + position[1]  # noqa: E731
    edits, previous, first = [], None, True
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT and not comments:
            edits.append((offset(token.start), offset(token.end), ""))
        elif token.type == tokenize.STRING and previous in DOCSTRING_START and '"""' in token.string[:5] and docstrings:
            quote = token.string.index('"""')
            body = token.string[quote + 3 : -3]
            cut = body.strip().split("\n\n")[0] if first else first_sentence(body)
            indent = " " * token.start[1]
            lines = textwrap.wrap(" ".join(cut.split()), 116 - len(indent), break_long_words=False)
            cut = ("\n" + indent).join(lines) + (" " if lines and lines[-1].endswith('"') else "")
            edits.append((offset(token.start), offset(token.end), f'{token.string[:quote]}"""{cut}"""'))
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            first = first and token.type not in (tokenize.STRING, tokenize.NAME)
            previous = token.type
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n\n", "\n".join(line.rstrip() for line in text.splitlines()))


def parts(text: str) -> tuple[int, int]:
    """(docstring bytes, comment bytes) of Python `text`."""
    docs = comments = 0
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            comments += len(token.string.encode())
        elif token.type == tokenize.STRING and previous in DOCSTRING_START and '"""' in token.string[:5]:
            docs += len(token.string.encode())
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return docs, comments


def carried_modules(notebook: dict) -> list[tuple[dict, str]]:
    """(cell, module path) of each cell that carries a Python module (not the fingerprints' store)."""
    found = [(cell, inlined_module(cell)) for cell in notebook["cells"]]
    return [(cell, module) for cell, module in found if module and module != STORE]


def size(notebook: dict, indent: int | None = 1) -> int:
    return len((json.dumps(notebook, indent=indent, ensure_ascii=False) + "\n").encode())


def variant(notebook: dict, comments: bool = True, docstrings: bool = False, indent: int | None = 1) -> int:
    """The release's bytes with every source one string and the carried modules cut as asked."""
    notebook = json.loads(json.dumps(notebook))
    for cell, module in carried_modules(notebook):
        title = "".join(cell["source"]).splitlines()[0]
        code = compact(carried_text(REPO_ROOT / module).rstrip("\n"), comments, docstrings)
        compile(code, module, "exec")
        cell["source"] = title + "\n" + code
    for cell in notebook["cells"]:
        cell["source"] = "".join(cell["source"])
    return size(notebook, indent)


def main() -> None:
    notebook = json.loads(RELEASE_NOTEBOOK.read_text(encoding="utf-8"))
    carried = carried_modules(notebook)
    code = "".join("".join(cell["source"]) for cell, _ in carried)
    docs, comments = parts(code)
    carried_json = sum(len(json.dumps(cell, indent=1, ensure_ascii=False).encode()) for cell, _ in carried)
    store = [cell for cell in notebook["cells"] if inlined_module(cell) == STORE]
    print(f"{RELEASE_NOTEBOOK.name}: {RELEASE_NOTEBOOK.stat().st_size:,} bytes")
    print(f"  the self-check's prints cell: {len(json.dumps(store[0], indent=1).encode()):,} bytes as JSON")
    print(
        f"  {len(carried)} carried modules: {len(code.encode()):,} bytes of source ({docs:,} docstrings, {comments:,} "
        f"comments, {len(code.encode()) - docs - comments:,} code), {carried_json:,} bytes as JSON"
    )
    print(f"  every other cell and the notebook's metadata: {size(notebook) - carried_json:,} bytes as JSON")
    print("the release with each source one JSON string, and the carried modules:")
    for words, settings in (
        ("as they are", {}),
        ("without comments", {"comments": False}),
        ("docstrings cut to a sentence", {"docstrings": True}),
        ("both", {"comments": False, "docstrings": True}),
        ("both, JSON not indented", {"comments": False, "docstrings": True, "indent": None}),
    ):
        print(f"  {words:<32}{variant(notebook, **settings):>9,} bytes")


if __name__ == "__main__":
    main()
