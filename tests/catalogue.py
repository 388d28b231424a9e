"""The catalogue of submissions the grader is tested against, each with the scores it must get.

A submission is the committed release with its ``# YOUR CODE HERE / raise NotImplementedError()`` stubs
filled in: by the source's own solutions, except for the parts a variant replaces (one code block per stub
of that part's cell, in order). Robustness cases then change the notebook file itself (tags, deleted or
duplicated cells, stripped metadata, Colab's format) or are not notebooks at all.

Expected scores: every test gets its full points except those listed in ``fails``, which get zero, and the
training test, which also gets zero when any other test fails (the grader's own check of a training run puts
its weights into the reference U-Net: it stands for the student's only when every part passed).
``CATALOGUE`` is graded in one batch in smoke mode (tests/test_grading.py), where the training test only
checks that training ran; the variants in ``QUICK`` are also graded in quick mode, training check included,
with their own ``fails``.

Building a submission: ``write(variant, folder)`` writes it where the grader will find it and returns the
student id the grader must derive from its path. Without the real data, the tests grade on a synthetic stand-in,
and each notebook written gets the cell that lets it accept that (``data.synthetic.with_stand_in``), as a
student's extra cell after the loader.
"""

import copy
import dataclasses
import json
import pathlib
import re
import socket
import textwrap

import nbformat

from autograder.release.course import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK
from data.synthetic import with_stand_in
from tests.notebook_runner import find_real_data_dir

STUB = re.compile(r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)$", re.M)
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*### END SOLUTION$", re.M | re.S)
TRAINING = "test_training"


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    parts: dict = dataclasses.field(default_factory=dict)  # grade_id -> [code for each stub of that cell]
    fails: tuple = ()  # tests that must score 0 (all others: full points)
    status: str = "ok"  # the CSV status must start with this
    edit: object = None  # function(notebook dict) -> notebook dict
    raw: bytes = None  # the file's bytes, for files that are not notebooks
    path: str = None  # where it goes, relative to the batch folder
    student: str = None  # the id the grader must give it (default: name)
    mistakes: tuple = ()  # known mistakes (autograder/authoring/mistakes.py) it must be told
    located: tuple = ()  # where it goes wrong, by category, when no known mistake matches
    needs: str = None  # "cgroup": graded only where the sandbox has one

    def file(self):
        return self.path or f"{self.name}.ipynb"

    def student_id(self):
        return self.student or self.name


def _code(text):
    return textwrap.dedent(text).strip("\n")


def reference_blocks():
    """{grade_id: [solution code of each BEGIN/END SOLUTION region]} from the source notebook, dedented."""
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    blocks = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            blocks[meta["grade_id"]] = [
                textwrap.dedent(match["body"]).strip("\n") for match in SOLUTION.finditer(cell.source)
            ]
    return blocks


def fill(parts=None):
    """The release as an nbformat notebook, with every stub filled (the reference, unless `parts` says otherwise)."""
    blocks = {**reference_blocks(), **(parts or {})}
    notebook = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            codes = iter(blocks[grade_id])
            cell.source = STUB.sub(lambda m: textwrap.indent(next(codes), m["indent"]), cell.source)
    return notebook


def module_code(parts):
    """The source's solution cells with the regions of `parts` replaced: code defining every part, to exec."""
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    cells = []
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            blocks = iter(parts.get(meta["grade_id"], REF[meta["grade_id"]]))
            cells.append(
                SOLUTION.sub(lambda m: textwrap.indent(next(blocks), re.match(r"[ \t]*", m[0])[0]), cell.source)
            )
    return "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n" + "\n\n".join(cells)


def build(variant):
    """The bytes of the variant's file."""
    if variant.raw is not None:
        return variant.raw
    notebook = json.loads(json.dumps(fill(variant.parts)))
    if variant.edit:
        notebook = variant.edit(notebook)
    return json.dumps(notebook, indent=1).encode()


def write(variant, folder):
    path = pathlib.Path(folder) / variant.file()
    path.parent.mkdir(parents=True, exist_ok=True)
    content = build(variant)
    if variant.raw is None and find_real_data_dir() is None:  # graded on the synthetic stand-in (conftest.data_env)
        content = json.dumps(with_stand_in(json.loads(content)), indent=1).encode()
    path.write_bytes(content)
    return variant.student_id()


# ---- edits of the notebook file (robustness cases) --------------------------------------------------------


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_test(cell):
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def tag_tests(*tags):
    def edit(notebook):
        for cell in notebook["cells"]:
            if _is_test(cell):
                cell["metadata"]["tags"] = list(tags)
        return notebook

    return edit


def delete_cells(*grade_ids):
    def edit(notebook):
        notebook["cells"] = [cell for cell in notebook["cells"] if _grade_id(cell) not in grade_ids]
        return notebook

    return edit


def replace_test_source(source, *grade_ids):
    def edit(notebook):
        for cell in notebook["cells"]:
            if _grade_id(cell) in grade_ids:
                cell["source"] = source
        return notebook

    return edit


def duplicate_tests(*grade_ids):
    """Each named test twice, the copy edited to pass; then the original again."""

    def edit(notebook):
        cells = []
        for cell in notebook["cells"]:
            cells.append(cell)
            if _grade_id(cell) in grade_ids:
                edited = copy.deepcopy(cell)
                edited["id"] = cell["id"] + "-copy"
                edited["source"] = "print('looks fine to me')"
                again = copy.deepcopy(cell)
                again["id"] = cell["id"] + "-again"
                cells += [edited, again]
        notebook["cells"] = cells
        return notebook

    return edit


def retype_tests(*grade_ids):
    def edit(notebook):
        for cell in notebook["cells"]:
            if _grade_id(cell) in grade_ids:
                cell["cell_type"] = "markdown"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        return notebook

    return edit


def strip_metadata(notebook):
    """What some editors do: no cell metadata, no cell ids (nbformat 4.4), no notebook metadata."""
    for cell in notebook["cells"]:
        cell["metadata"] = {}
        cell.pop("id", None)
    notebook["metadata"] = {}
    notebook["nbformat_minor"] = 4
    return notebook


def colab_saved(keep_nbgrader=True):
    """A notebook as Colab saves it: its own metadata, cell ids in metadata, outputs and execution counts."""

    def edit(notebook):
        notebook["metadata"] = {
            "colab": {"provenance": [], "gpuType": "T4"},
            "accelerator": "GPU",
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        }
        notebook["nbformat_minor"] = 0
        for number, cell in enumerate(notebook["cells"]):
            nbgrader = cell["metadata"].get("nbgrader")
            cell["metadata"] = {"id": f"colab{number:04d}"}
            if keep_nbgrader and nbgrader:
                cell["metadata"]["nbgrader"] = nbgrader
            cell.pop("id", None)
            if cell["cell_type"] == "code":
                cell["execution_count"] = number
                cell["metadata"]["outputId"] = f"out{number:04d}"
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran in Colab\n"]}]
        return notebook

    return edit


def _code_cell(source):
    """A new code cell as plain JSON data, the form the edits work on."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    return json.loads(nbformat.writes(notebook))["cells"][0]


def extra_cell_after(grade_id, source):
    """The student's own code cell right after the cell `grade_id`."""

    def edit(notebook):
        for index, cell in enumerate(notebook["cells"]):
            if _grade_id(cell) == grade_id:
                notebook["cells"].insert(index + 1, _code_cell(source))
                return notebook
        raise ValueError(grade_id)

    return edit


def chain(*edits):
    def edit(notebook):
        for one in edits:
            notebook = one(notebook)
        return notebook

    return edit


# ---- the parts, written differently -----------------------------------------------------------------------

REF = reference_blocks()

CROP_ROUND_HALF = [
    _code("""
    top = image.shape[2] // 2 - round(new_shape[2] / 2)
    left = image.shape[3] // 2 - round(new_shape[3] / 2)
    return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]
""")
]
CROP_NARROW = [
    _code("""
    image = torch.narrow(image, 2, (image.shape[2] - new_shape[2] + 1) // 2, new_shape[2])
    return torch.narrow(image, 3, (image.shape[3] - new_shape[3] + 1) // 2, new_shape[3])
""")
]
CROP_SQUARE_ONLY = [
    _code("""
    top = (image.shape[2] - new_shape[2]) // 2
    return image[:, :, top:top + new_shape[2], top:top + new_shape[2]]
""")
]

CONTRACTING_INPLACE = [
    REF["contracting_block"][0].replace("nn.ReLU()", "nn.ReLU(inplace=True)"),
    REF["contracting_block"][1],
]
EXPANDING_INPLACE = [REF["expanding_block"][0].replace("nn.ReLU()", "nn.ReLU(inplace=True)"), REF["expanding_block"][1]]
CONTRACTING_F_RELU = [
    REF["contracting_block"][0],
    _code("""
    x = F.relu(self.conv1(x))
    x = F.relu(self.conv2(x))
    return self.maxpool(x)
"""),
]
EXPANDING_F_RELU = [
    REF["expanding_block"][0],
    _code("""
    x = self.conv1(self.upsample(x))
    x = torch.cat([x, crop(skip_con_x, x.shape)], dim=1)
    return F.relu(self.conv3(F.relu(self.conv2(x))))
"""),
]
UNET_MODULELIST = [
    _code("""
    self.upfeature = FeatureMapBlock(input_channels, hidden_channels)
    self.contracting = nn.ModuleList(ContractingBlock(hidden_channels * 2 ** i) for i in range(4))
    self.expanding = nn.ModuleList(ExpandingBlock(hidden_channels * 2 ** (4 - i)) for i in range(4))
    self.contract1, self.contract2, self.contract3, self.contract4 = self.contracting
    self.expand1, self.expand2, self.expand3, self.expand4 = self.expanding
    self.downfeature = FeatureMapBlock(hidden_channels, output_channels)
"""),
    _code("""
    skips = [self.upfeature(x)]
    for block in self.contracting:
        skips.append(block(skips[-1]))
    x = skips.pop()
    for block in self.expanding:
        x = block(x, skips.pop())
    return self.downfeature(x)
"""),
]
CONTRACTING_AVGPOOL = [
    REF["contracting_block"][0].replace(
        "nn.MaxPool2d(kernel_size=2, stride=2)", "nn.AvgPool2d(kernel_size=2, stride=2)"
    ),
    REF["contracting_block"][1],
]
CONTRACTING_NO_FIRST_RELU = [
    REF["contracting_block"][0],
    _code("""
    x = self.conv1(x)
    x = self.activation(self.conv2(x))
    return self.maxpool(x)
"""),
]
CONTRACTING_PADDING = [
    REF["contracting_block"][0].replace("kernel_size=3)", "kernel_size=3, padding=1)"),
    REF["contracting_block"][1],
]
EXPANDING_NEAREST = [
    REF["expanding_block"][0].replace('mode="bilinear", align_corners=True', 'mode="nearest"'),
    REF["expanding_block"][1],
]
EXPANDING_ALIGN_FALSE = [
    REF["expanding_block"][0].replace("align_corners=True", "align_corners=False"),
    REF["expanding_block"][1],
]
EXPANDING_SWAPPED_CAT = [
    REF["expanding_block"][0],
    REF["expanding_block"][1].replace("[x, skip_con_x]", "[skip_con_x, x]"),
]
EXPANDING_EXTRA_RELU = [
    REF["expanding_block"][0],
    REF["expanding_block"][1].replace(
        "x = self.conv1(self.upsample(x))", "x = self.activation(self.conv1(self.upsample(x)))"
    ),
]
UNET_SIGMOID = [
    REF["unet"][0],
    REF["unet"][1].replace("return self.downfeature(x8)", "return torch.sigmoid(self.downfeature(x8))"),
]
UNET_SKIP_WIRING = [REF["unet"][0], REF["unet"][1].replace("self.expand4(x7, x0)", "self.expand4(x7, x)")]
# Correct, calling the other parts with the keywords of the signatures the notebook gives.
UNET_KEYWORDS = [
    re.sub(
        r"FeatureMapBlock\((\w+), (\w+)\)",
        r"FeatureMapBlock(input_channels=\1, output_channels=\2)",
        re.sub(r"(ContractingBlock|ExpandingBlock)\(", r"\1(input_channels=", REF["unet"][0]),
    ),
    REF["unet"][1],
]
EXPANDING_KEYWORDS = [
    REF["expanding_block"][0],
    REF["expanding_block"][1].replace("crop(skip_con_x, x.shape)", "crop(image=skip_con_x, new_shape=x.shape)"),
]
# A crop whose values are right but whose dtype is not the input's: torch.cat would then fail in the U-Net.
# Bugs on no list of mistakes: the report must say where they go wrong (autograder/judging/located.py).
CROP_ONE_ROW_LOW = [
    REF["crop"][0].replace(
        "top = (image.shape[2] - new_shape[2]) // 2", "top = (image.shape[2] - new_shape[2]) // 2 + 1"
    )
]
CONTRACTING_UNPOOLED = [
    REF["contracting_block"][0],
    REF["contracting_block"][1].replace("return self.maxpool(x)", "return x"),
]
# Bugs on no list that raise: located too (the layer and call that fail), and the training test names the part.
EXPANDING_CONV2_HALF = [
    REF["expanding_block"][0].replace(
        "self.conv2 = nn.Conv2d(input_channels,", "self.conv2 = nn.Conv2d(input_channels // 2,"
    ),
    REF["expanding_block"][1],
]
UNET_EXPAND2_X3 = [REF["unet"][0], REF["unet"][1].replace("self.expand2(x5, x2)", "self.expand2(x5, x3)")]
CROP_FLOAT64 = [
    REF["crop"][0].replace(
        "return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]",
        "return image[:, :, top:top + new_shape[2], left:left + new_shape[3]].double()",
    )
]

EXPANDING = ("test_expanding_block_shape", "test_expanding_block_layers", "test_expanding_block_forward")
UNET = ("test_unet_shape", "test_unet_layers", "test_unet_forward")
WARNINGS = _code("""
import sys
import warnings
warnings.warn("a student's warning, printed on stderr", UserWarning)
print("a student's debugging line on stderr", file=sys.stderr)
""")


def _with_stderr(blocks):
    """The same code, first printing a warning and a line on stderr every time it runs."""
    return [textwrap.indent(WARNINGS, "") + "\n" + block for block in blocks]


CATALOGUE = [
    # Correct, in different styles and formats: full marks.
    Variant("reference"),
    Variant("reference_again"),  # the same file again: the same row, the same training numbers
    Variant(
        "round_half_crop+inplace_relu+modulelist_unet+colab_saved",
        {
            "crop": CROP_ROUND_HALF,
            "contracting_block": CONTRACTING_INPLACE,
            "expanding_block": EXPANDING_INPLACE,
            "unet": UNET_MODULELIST,
        },
        edit=colab_saved(),
        path="colab_alice/Copy of UNet_Assignment.ipynb",
        student="colab_alice",
    ),
    Variant(
        "narrow_crop+functional_relu+keyword_calls+colab_stripped_metadata",
        {
            "crop": CROP_NARROW,
            "contracting_block": CONTRACTING_F_RELU,
            "expanding_block": EXPANDING_KEYWORDS,
            "unet": UNET_KEYWORDS,
        },
        edit=colab_saved(keep_nbgrader=False),
        path="colab_bob/UNet_Assignment (3).ipynb",
        student="colab_bob",
    ),
    Variant(
        "stderr_warnings+huge_output",
        {"crop": _with_stderr(REF["crop"]), "unet": [REF["unet"][0], *_with_stderr(REF["unet"][1:])]},
        edit=extra_cell_after("crop", "for _ in range(200):\n    print('x' * 1_000_000)"),
    ),
    Variant(
        "infinite_loop+nbgrader_layout",
        edit=extra_cell_after("crop", "while True:\n    pass"),
        status="time limit in student-1-after-crop-solution",
        path="submitted/carol/UNet_Assignment/UNet_Assignment.ipynb",
        student="carol",
    ),
    # Common bugs, two of different parts per submission: each loses only the tests of its own part (the tests of
    # a part use correct versions of the others), so the pair loses the union. Each pair also carries a change
    # to the file that must not change the grade (tags, edited, deleted, duplicated or retyped tests, stripped
    # metadata).
    Variant(
        "avgpool+nearest_upsample+tags_raises_exception+duplicated_tests",
        {"contracting_block": CONTRACTING_AVGPOOL, "expanding_block": EXPANDING_NEAREST},
        mistakes=("average pooling", "nearest-neighbour upsampling"),
        fails=("test_contracting_block_layers", "test_contracting_block_forward", *EXPANDING[1:]),
        edit=chain(
            tag_tests("raises-exception", "remove-cell", "nbval-skip", "hide-output"), duplicate_tests(*EXPANDING)
        ),
    ),
    Variant(
        "missing_relu+align_corners_false+retyped_tests",
        {"contracting_block": CONTRACTING_NO_FIRST_RELU, "expanding_block": EXPANDING_ALIGN_FALSE},
        mistakes=("no ReLU after conv1", "align_corners=False"),
        fails=("test_contracting_block_forward", *EXPANDING[1:]),
        edit=retype_tests("test_contracting_block_forward", "test_unet_forward"),
    ),
    Variant(
        "padding_1+swapped_concat+edited_tests+tags_skip_execution",
        {"contracting_block": CONTRACTING_PADDING, "expanding_block": EXPANDING_SWAPPED_CAT},
        mistakes=("padding=1 in the convolutions", "the concatenation's order swapped"),
        fails=(
            "test_contracting_block_shape",
            "test_contracting_block_layers",
            "test_contracting_block_forward",
            *EXPANDING[2:],
        ),
        edit=chain(
            replace_test_source(
                "print('test passed')",
                "test_contracting_block_shape",
                "test_contracting_block_layers",
                "test_contracting_block_forward",
            ),
            tag_tests("skip-execution"),
        ),
    ),
    Variant(
        "extra_relu_expanding+square_only_crop+deleted_tests+stripped_metadata",
        {"expanding_block": EXPANDING_EXTRA_RELU, "crop": CROP_SQUARE_ONLY},
        mistakes=("a ReLU after conv1", "only square targets handled (the top offset used for the left too)"),
        fails=(*EXPANDING[2:], "test_crop_shape", "test_crop_centre"),
        edit=chain(delete_cells("test_crop_centre", "test_unet_shape", "test_unet_forward", TRAINING), strip_metadata),
    ),
    Variant(
        "sigmoid_output+float64_crop",
        {"unet": UNET_SIGMOID, "crop": CROP_FLOAT64},
        mistakes=("a sigmoid on the output", "a float64 result (.double())"),
        fails=("test_crop_shape", "test_crop_centre", "test_unet_forward"),
    ),
    # Two bugs that match no known mistake: each is located instead.
    Variant(
        "crop_one_row_low+unpooled_block",
        {"crop": CROP_ONE_ROW_LOW, "contracting_block": CONTRACTING_UNPOOLED},
        located=("window off by one row", "maxpool: never called"),
        fails=("test_crop_centre", "test_contracting_block_shape", "test_contracting_block_forward"),
    ),
    Variant(
        "conv2_half_channels+expand2_given_x3",
        {"expanding_block": EXPANDING_CONV2_HALF, "unet": UNET_EXPAND2_X3},
        located=("conv2: other settings than the table's", "expand2: another input 2"),
        fails=(*EXPANDING, "test_unet_shape", "test_unet_forward", TRAINING),
    ),
    # A wiring that cannot run: UNet's tests fail, and so does training, which needs a model that runs.
    Variant(
        "skip_wiring",
        {"unet": UNET_SKIP_WIRING},
        mistakes=("the network's input x as the last skip instead of x0 = upfeature(x)",),
        fails=("test_unet_shape", "test_unet_forward", TRAINING),
    ),
    # Kernels that hang or die: the parts graded before keep their points, the rest get zero.
    Variant(
        "hang_ignoring_interrupt",
        status="time limit in student-1-after-feature-test",
        fails=(*UNET, TRAINING),
        edit=extra_cell_after(
            "test_feature_map_block",
            _code("""
                import time
                while True:
                    try:
                        time.sleep(0.2)
                    except KeyboardInterrupt:
                        pass
            """),
        ),
    ),
    Variant(
        "segfault",
        {
            "expanding_block": [
                REF["expanding_block"][0],
                "import ctypes\nctypes.string_at(0)\n" + REF["expanding_block"][1],
            ]
        },
        fails=(*EXPANDING, "test_feature_map_block", *UNET, TRAINING),
        status="kernel died in test_expanding_block_shape",
    ),
    # Not notebooks: status and zero, without a kernel.
    Variant(
        "invalid_json", raw=b'{"cells": [{"cell_type": "code", "source": "x = 1"', status="invalid JSON", fails="all"
    ),
    Variant("empty_file", raw=b"", status="empty file", fails="all"),
    Variant("not_a_notebook", raw=b'{"name": "a JSON file, but not a notebook"}', status="not a notebook", fails="all"),
    Variant("binary_file", raw=bytes(range(256)) * 4, status="invalid JSON", fails="all"),
]


# ---- attacks: student code that tries to get points it did not earn, read what it must not, or stop the batch --

# tests/test_grading.py listens on this socket on the grader's machine: it must receive nothing. Its port is
# chosen free when this module is imported and held (bound, not yet listening), so two runs never collide.
CANARY = socket.socket()
CANARY.bind(("127.0.0.1", 0))
CANARY_PORT = CANARY.getsockname()[1]
UNSOLVED = {part: ["raise NotImplementedError()"] * len(blocks) for part, blocks in REF.items()}
CROP_CORNER = [
    _code("""
    return image[:, :, :new_shape[2], :new_shape[3]]
""")
]
FEATURE_MAP_RELU = [
    REF["feature_map_block"][0],
    _code("""
    return torch.relu(self.conv(x))
"""),
]


def first_cell(source):
    """The student's own code cell before every other cell."""

    def edit(notebook):
        notebook["cells"].insert(0, _code_cell(source))
        return notebook

    return edit


ATTACKS = [
    # Silence every failing test: the test cells raise, but nothing shows it in the notebook.
    Variant(
        "attack_swallowed_errors",
        UNSOLVED,
        fails="all",
        edit=first_cell(
            _code("""
        get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
    """)
        ),
    ),
    Variant(
        "attack_hidden_tracebacks+input_transformer",
        {"expanding_block": EXPANDING_NEAREST, "feature_map_block": FEATURE_MAP_RELU},
        mistakes=("nearest-neighbour upsampling", "an activation after the 1 x 1 convolution"),
        fails=(*EXPANDING[1:], "test_feature_map_block"),
        edit=first_cell(
            _code("""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        InteractiveShell.showtraceback = lambda *args, **kwargs: None
        sys.excepthook = sys.displayhook = lambda *args: None
        def _drop_tests(lines):                      # test cells rewritten before they run
            return ["pass\\n"] if any("assert" in line for line in lines) else lines
        get_ipython().input_transformers_post.append(_drop_tests)
    """)
        ),
    ),
    # Comparisons and type checks patched to always agree.
    Variant(
        "attack_patched_comparisons",
        {"crop": CROP_CORNER, "contracting_block": CONTRACTING_AVGPOOL},
        mistakes=("the top-left corner instead of the centre", "average pooling"),
        fails=("test_crop_centre", "test_contracting_block_layers", "test_contracting_block_forward"),
        edit=first_cell(
            _code("""
        import builtins, torch
        from torch import nn
        torch.allclose = torch.equal = lambda *args, **kwargs: True
        torch.testing.assert_close = lambda *args, **kwargs: None
        torch.Tensor.__eq__ = lambda self, other: True
        _isinstance = builtins.isinstance
        builtins.isinstance = lambda obj, kind: True if kind in (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Upsample) else _isinstance(obj, kind)
    """)
        ),
    ),
    # Outputs that only pretend to be tensors: a .shape equal to anything, a subclass whose comparisons agree.
    Variant(
        "attack_fake_shape_and_tensor_subclass",
        {
            "crop": [
                _code("""
            class _Agreeable(torch.Tensor):
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    if func in (torch.equal, torch.allclose, torch.Tensor.__eq__):
                        return True
                    return super().__torch_function__(func, types, args, kwargs or {})
            return image[:, :, :new_shape[2], :new_shape[3]].as_subclass(_Agreeable)
        """)
            ],
            "contracting_block": [
                REF["contracting_block"][0],
                _code("""
            class _AnyShape(tuple):
                def __eq__(self, other):
                    return True
            class _Fake:
                shape = _AnyShape((0,))
                def min(self):
                    return torch.tensor(0.0)
            return _Fake()
        """),
            ],
        },
        fails=("test_crop_centre", "test_contracting_block_shape", "test_contracting_block_forward"),
        edit=first_cell("import torch\ntorch.allclose = lambda *args, **kwargs: True"),
    ),
    # Leave when graded: the parts graded before keep their points, the rest get none.
    Variant(
        "attack_exit_when_graded",
        fails=(*UNET, TRAINING),
        status="kernel died in student-1-after-feature-test",
        edit=extra_cell_after(
            "test_feature_map_block",
            _code("""
        import os
        if "UNET_GRADING_MODE" in os.environ:
            os._exit(0)
    """),
        ),
    ),
    # Look for the hidden tests, the solutions and the gradebook on disk (the course's source notebook among
    # them, were it visible), and use them; then copy the hidden tests into the feedback: IPython keeps every
    # cell the kernel ran in `In`.
    Variant(
        "attack_disk_search+prints_hidden_tests",
        {"crop": ["raise NotImplementedError()"]},
        fails=("test_crop_shape", "test_crop_centre"),
        edit=chain(
            extra_cell_after("predict_test", "print('\\n'.join(In))"),
            extra_cell_after(
                "crop",
                _code(f"""
        import glob, json, os
        found = []
        for root in [os.getcwd(), os.path.dirname(os.getcwd()), "/tmp", "/root", "/home", {str(REPO_ROOT)!r}]:
            for depth in range(4):
                found += glob.glob(os.path.join(root, *["*"] * depth, "*.ipynb"))
                found += glob.glob(os.path.join(root, *["*"] * depth, "gradebook.db"))
        print(f"found {{len(found)}} files")
        for path in found:
            try:
                cells = json.load(open(path))["cells"]
            except Exception:
                continue
            for cell in cells:
                if cell.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id") == "crop" and "BEGIN SOLUTION" in "".join(cell["source"]):
                    exec("".join(cell["source"]))
    """),
            ),
        ),
    ),
    # Resource attacks, in a cell of the student's own: the cell may fail, every test still gets its points.
    Variant(
        "attack_network+memory_bomb+fork",
        edit=extra_cell_after(
            "crop",
            _code(f"""
        import socket, subprocess
        import numpy as np
        try:                                                      # a network canary listens on the grader's side
            socket.create_connection(("127.0.0.1", {CANARY_PORT}), timeout=2).sendall(b"leaked")
        except OSError as error:
            print("no network:", error)
        chunks = []
        try:
            for _ in range(80):                                   # 80 x 256 MiB = 20 GiB
                chunk = np.empty(2**28, dtype=np.uint8)
                chunk[::4096] = 1                                 # one byte a page: every page really used
                chunks.append(chunk)
        except MemoryError:
            print(f"stopped at {{len(chunks) / 4:.2f}} GiB")
        del chunks
        children = []
        try:
            for _ in range(500):
                children.append(subprocess.Popen(["sleep", "30"]))
        except OSError as error:
            print(f"stopped at {{len(children)}} processes: {{error}}")
        for child in children:
            child.kill()
            child.wait()
    """),
        ),
    ),
]

# Attacks on the grader's machine through the scratch folder, the only place the kernel may write, and on its
# memory and process table (docs/security.md: the disk quota, the cgroup, the pid namespace).
DISK_QUOTA_STATUS = "ok; disk quota (2 GiB, 100000 files) reached in "
DAEMON_MARKER = "unet-catalogue-daemon:"  # the leftover process's argv[0], followed by its scratch folder


def processes_named(prefix):
    """pids of the processes whose argv[0] starts with `prefix`: the daemon's, say, left behind."""
    found = []
    for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().split(b"\0")[0].decode(errors="replace").startswith(prefix):
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


ATTACKS += [
    # Fill the grader's disk, 1 GiB at a time: ENOSPC at the 2 GiB quota. The full scratch then costs the
    # submission its own checkpoint, so its training; nothing else in the batch notices.
    Variant(
        "attack_disk_filler",
        fails=(TRAINING,),
        status=DISK_QUOTA_STATUS + "student-1-after-crop-solution",
        edit=extra_cell_after(
            "crop",
            _code("""
        block = bytes(2**26)
        for number in range(5):                                   # five 1 GiB files
            with open(f"filler-{number}.bin", "wb") as handle:
                for _ in range(16):
                    handle.write(block)
            print(f"wrote {number + 1} GiB", flush=True)
    """),
        ),
    ),
    # Run the file system out of inodes: a million empty files, stopped at the quota's 100000.
    Variant(
        "attack_million_files",
        status=DISK_QUOTA_STATUS + "student-1-after-predict-test",
        edit=extra_cell_after(
            "predict_test",
            _code("""
        import os
        os.makedirs("many", exist_ok=True)
        made = 0
        try:
            for number in range(10**6):
                open(os.path.join("many", str(number)), "w").close()
                made += 1
        finally:
            print(f"made {made} files")
    """),
        ),
    ),
    # Symbolic links from the scratch folder to the grader's files, in the hope that the grader writes through
    # them: the course's feedback, gradebook and result, the batch's folder and grades.csv.
    Variant(
        "attack_symlinks_to_grader_files",
        edit=extra_cell_after(
            "crop",
            _code("""
        import os
        course = os.path.dirname(os.getcwd())                     # the scratch folder is <batch>/<course>/kernel
        batch = os.path.dirname(course)
        targets = {"feedback": os.path.join(course, "feedback"), "gradebook.db": os.path.join(course, "gradebook.db"),
                   "result.json": os.path.join(course, "result.json"), "batch": batch,
                   "grades.csv": os.path.join(batch, "grades.csv")}
        for name, target in targets.items():
            os.symlink(target, name)
            try:
                with open(os.path.join(name, "pwned.txt") if name in ("feedback", "batch") else name, "w") as handle:
                    handle.write("pwned")
                print(f"wrote through {name}")
            except OSError as error:
                print(f"blocked: {name} ({error.strerror})")
    """),
        ),
    ),
    # A file mapped into memory far past the limit: 1 GiB memfd files, shared mappings (RLIMIT_DATA counts
    # neither), every page touched. The sandbox's cgroup ends the kernel; without one nothing would.
    Variant(
        "attack_mapped_memory",
        fails=(*UNET, TRAINING),
        status="kernel died in student-1-after-feature-test",
        needs="cgroup",
        edit=extra_cell_after(
            "test_feature_map_block",
            _code("""
        import mmap, os
        chunks = []
        for number in range(20):                                  # 20 GiB
            fd = os.memfd_create(f"chunk-{number}")
            os.ftruncate(fd, 2**30)
            chunk = mmap.mmap(fd, 2**30, mmap.MAP_SHARED)
            for offset in range(0, 2**30, mmap.PAGESIZE):
                chunk[offset] = 1
            chunks.append(chunk)
            print(f"mapped {number + 1} GiB", flush=True)
    """),
        ),
    ),
    # A process that outlives its kernel: double fork, a session of its own; it must be gone once graded.
    Variant(
        "attack_daemon",
        edit=extra_cell_after(
            "crop",
            _code(f"""
        import os
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", [{DAEMON_MARKER!r} + os.getcwd(), "3600"])
            os._exit(0)
        os.wait()
        print("a daemon is running")
    """),
        ),
    ),
]
CATALOGUE += ATTACKS  # graded in the same batch: no attack may change another submission's row

# Graded again in quick mode, where the training test has a bar: a correct model in another style than the
# reference's (another order of creating its weights, so another start) learns; a faked run does not pass.
# (A model with a broken part loses the training test in every mode: see expected_scores.)
QUICK = [
    Variant(
        "round_half_crop+inplace_relu+modulelist_unet",
        {
            "crop": CROP_ROUND_HALF,
            "contracting_block": CONTRACTING_INPLACE,
            "expanding_block": EXPANDING_INPLACE,
            "unet": UNET_MODULELIST,
        },
    ),
    # Every part correct, but no training: `fit` replaced by one that invents falling losses, and the held-out
    # labels passed off as the prediction. The notebook's own training test passes; the grader's check does not.
    Variant(
        "attack_fake_training",
        fails=(TRAINING,),
        edit=chain(
            extra_cell_after(
                "training_module",
                _code("""
            def fit(model, images, labels, config, checkpoint=None, show_figures=True):
                steps = config.epochs * -(-len(images) // config.batch_size)
                return list(np.linspace(0.7, 0.1, steps))
        """),
            ),
            extra_cell_after("evaluate", "holdout_probability = holdout_labels / 255.0"),
        ),
    ),
]


def named(prefix):
    """The catalogue's first variant whose name starts with `prefix`."""
    return next(entry for entry in CATALOGUE if entry.name.startswith(prefix))


def expected_scores(variant, points):
    """{grade_id: points expected} for a variant, given {grade_id: max points}."""
    if variant.fails == "all":
        return {test: 0 for test in points}
    fails = set(variant.fails)
    unknown = fails - set(points)
    if unknown:
        raise ValueError(f"{variant.name}: no such tests {sorted(unknown)}")
    if fails - {TRAINING}:  # the grader confirms a training run only for a U-Net whose every part passed
        fails.add(TRAINING)
    return {test: 0 if test in fails else full for test, full in points.items()}
