"""The hidden tests: one check per graded test, as ordinary Python functions.

Each check takes a namespace (the student's kernel namespace, or the reference solution's) and builds that
namespace's part with weights and inputs drawn from fixed seeds, runs it, and returns raw results
{description: tensor}. The grader runs a check twice: in the student's kernel, where this module's own source
is sent and executed (``autograder/judging/verdicts.py``), and in its own process on the reference solution; then it
compares the two outside the kernel. Nothing here may import from this repository: the module travels alone.

A part that depends on others is checked, and its test cell run, with correct versions of its dependencies
(``swap_in`` / ``restore``): one broken part costs only its own points.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator

import torch


def randn(shape: tuple, seed: int) -> torch.Tensor:
    """A standard-normal tensor drawn from its own seed (the global generator is left alone)."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))


def seeded(module: torch.nn.Module, names: list, seed: int) -> dict:
    """Set the named parameters of `module` ("conv1.weight", ...) to seeded values; returns them by name."""
    values = {}
    for number, name in enumerate(names):
        parameter = module.get_parameter(name)
        parameter.copy_(0.3 * randn(parameter.shape, seed * 1000 + number))
        values[name] = parameter
    return values


def conv_names(*convs: str) -> list:
    """["conv1.weight", "conv1.bias", ...] for the convolutions named."""
    return [f"{conv}.{kind}" for conv in convs for kind in ("weight", "bias")]


UNET_CONVS = [
    "upfeature.conv",
    *[f"contract{i}.conv{j}" for i in range(1, 5) for j in (1, 2)],
    *[f"expand{i}.conv{j}" for i in range(1, 5) for j in (1, 2, 3)],
    "downfeature.conv",
]


def numbered_image(batch: int, channels: int, height: int, width: int) -> torch.Tensor:
    """(batch, channels, H, W) whose pixel (r, c) holds 1000 r + c in even channels and its negative in odd ones,
    so that a crop's values say which window it came from."""
    rows, columns = torch.meshgrid(torch.arange(float(height)), torch.arange(float(width)), indexing="ij")
    signs = torch.tensor([1.0, -1.0]).repeat((channels + 1) // 2)[:channels].view(channels, 1, 1)
    return (signs * (1000 * rows + columns)).expand(batch, channels, height, width).clone()


# ---- one check per graded test --------------------------------------------------------------------------

CROP_CASES = [
    ((2, 3, 254, 254), (2, 3, 193, 193)),
    ((1, 2, 512, 512), (1, 2, 377, 377)),
    ((1, 1, 125, 125), (1, 1, 101, 101)),
    ((3, 2, 60, 60), (3, 2, 55, 55)),
    ((3, 2, 40, 64), (3, 2, 20, 30)),
    ((1, 1, 64, 40), (1, 1, 31, 25)),
]


def crop_shape(ns: dict) -> dict:
    """crop(image, new_shape) should return a tensor of shape (N, C, new_shape[2], new_shape[3]) and of the input's
    dtype for an (N, C, H, W) image, with new_shape a torch.Size or a tuple."""
    out = {}
    for i, (big, small) in enumerate(CROP_CASES):
        for new_shape in (torch.Size(small), tuple(small)):
            out[f"crop of {big} to {type(new_shape).__name__} {tuple(small)}"] = ns["crop"](randn(big, i), new_shape)
    return out


def crop_centre(ns: dict) -> dict:
    """crop should return one window of every image and channel, of the input's dtype, centred: top offset (H - h) // 2
    and left offset (W - w) // 2 (either middle offset when the margin is odd)."""
    out = {}
    cases = [
        (254, 254, 193, 193),
        (512, 512, 377, 377),
        (60, 60, 55, 55),
        (125, 125, 101, 101),
        (40, 64, 20, 30),
        (64, 40, 31, 25),
        (16, 16, 16, 16),
        (30, 18, 2, 18),
    ]
    dtypes = [torch.float32, torch.float64, torch.int64]
    for i, (height, width, h, w) in enumerate(cases):
        batch = 1 if height > 256 else 3
        image = numbered_image(batch, 2, height, width).to(dtypes[i % len(dtypes)])
        key = f"crop of a {str(image.dtype)[6:]} {(batch, 2, height, width)} image to {(batch, 2, h, w)}"
        out[key] = ns["crop"](image, (batch, 2, h, w))
    return out


def contracting_block_shape(ns: dict) -> dict:
    """ContractingBlock(C) should map (N, C, H, W) to (N, 2C, (H - 4) // 2, (W - 4) // 2)."""
    cases = [(10, (5, 10, 50, 50)), (3, (2, 3, 61, 40)), (1, (1, 1, 13, 13)), (64, (1, 64, 20, 36))]
    return {
        f"ContractingBlock({c}) on {shape}": ns["ContractingBlock"](c)(randn(shape, i))
        for i, (c, shape) in enumerate(cases)
    }


def contracting_block_layers(ns: dict) -> dict:
    """conv1 (C -> 2C) and conv2 (2C -> 2C) should be valid 3 x 3 convolutions with a bias (padding 0, stride 1),
    activation nn.ReLU() and maxpool nn.MaxPool2d(kernel_size=2, stride=2)."""
    block = ns["ContractingBlock"](8)
    out = seeded(block, conv_names("conv1", "conv2"), 1)
    x = randn((2, 8, 11, 10), 2)
    out.update(
        {
            "conv1(x)": block.conv1(x),
            "conv2(conv1(x))": block.conv2(block.conv1(x)),
            "activation(x)": block.activation(x.clone()),
            "maxpool(x)": block.maxpool(x),
        }
    )
    return out


def contracting_block_forward(ns: dict) -> dict:
    """forward should compute maxpool(relu(conv2(relu(conv1(x))))) with the block's own weights."""
    block = ns["ContractingBlock"](4)
    seeded(block, conv_names("conv1", "conv2"), 3)
    return {f"forward on {shape}": block(randn(shape, i)) for i, shape in enumerate([(2, 4, 20, 20), (1, 4, 33, 26)])}


def expanding_block_shape(ns: dict) -> dict:
    """ExpandingBlock(C) should map x (N, C, H, W) and a larger skip (N, C/2, Hs, Ws) to (N, C/2, 2H - 5, 2W - 5)."""
    cases = [
        (16, (2, 16, 12, 12), (2, 8, 30, 30)),
        (8, (3, 8, 10, 7), (3, 4, 25, 20)),
        (4, (1, 4, 5, 5), (1, 2, 9, 9)),
        (1024, (1, 1024, 28, 28), (1, 512, 60, 60)),
    ]
    return {
        f"ExpandingBlock({c}) on x {x} and skip {skip}": ns["ExpandingBlock"](c)(randn(x, i), randn(skip, i + 9))
        for i, (c, x, skip) in enumerate(cases)
    }


def expanding_block_layers(ns: dict) -> dict:
    """upsample should be nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True); conv1 a 2 x 2 convolution
    (C -> C/2), conv2 3 x 3 (C -> C/2) and conv3 3 x 3 (C/2 -> C/2), all valid (padding 0, stride 1); activation
    nn.ReLU()."""
    block = ns["ExpandingBlock"](16)
    out = seeded(block, conv_names("conv1", "conv2", "conv3"), 4)
    x, joined = randn((2, 16, 7, 9), 5), randn((2, 16, 12, 10), 6)
    out.update(
        {
            "upsample(x)": block.upsample(x),
            "conv1(x)": block.conv1(x),
            "conv2(x)": block.conv2(joined),
            "conv3(conv2(x))": block.conv3(block.conv2(joined)),
            "activation(x)": block.activation(x.clone()),
        }
    )
    return out


def expanding_block_forward(ns: dict) -> dict:
    """forward should compute relu(conv3(relu(conv2(cat([conv1(upsample(x)), crop(skip)], 1))))) with the block's own
    weights."""
    block = ns["ExpandingBlock"](8)
    seeded(block, conv_names("conv1", "conv2", "conv3"), 7)
    cases = [((2, 8, 9, 9), (2, 4, 21, 21)), ((1, 8, 7, 11), (1, 4, 16, 24))]
    return {
        f"forward on x {x} and skip {skip}": block(randn(x, i), randn(skip, i + 9)) for i, (x, skip) in enumerate(cases)
    }


def feature_map_block(ns: dict) -> dict:
    """FeatureMapBlock(C_in, C_out).forward should be exactly its 1 x 1 convolution (C_in -> C_out, with a bias, no
    activation)."""
    out = {}
    for i, (c_in, c_out, shape) in enumerate([(10, 60, (1, 10, 5, 5)), (1, 64, (2, 1, 17, 9)), (64, 3, (1, 64, 8, 8))]):
        block = ns["FeatureMapBlock"](c_in, c_out)
        seeded(block, conv_names("conv"), 8 + i)
        out[f"FeatureMapBlock({c_in}, {c_out}) on {shape}"] = block(randn(shape, i))
    return out


def unet_shape(ns: dict) -> dict:
    """UNet(C_in, C_out) should map (N, C_in, H, W) to logits (N, C_out, H - 139, W - 139)."""
    cases = [
        ((1, 3, 4), (1, 1, 256, 256)),
        ((2, 5, 4), (2, 2, 208, 208)),
        ((1, 1, 2), (1, 1, 300, 256)),
        ((1, 1, 4), (1, 1, 512, 512)),
    ]
    return {f"UNet{args} on {shape}": ns["UNet"](*args)(randn(shape, i)) for i, (args, shape) in enumerate(cases)}


def unet_layers(ns: dict) -> dict:
    """UNet(C_in, C_out, hidden_channels) should have upfeature (C_in -> hidden), contract1-4 (each doubling the
    channels), expand1-4 (each halving them) and downfeature (hidden -> C_out)."""
    out = {}
    for hidden in (4, 5):
        values = seeded(ns["UNet"](2, 3, hidden_channels=hidden), conv_names(*UNET_CONVS), hidden)
        out.update({f"UNet(2, 3, hidden_channels={hidden}): {name}": value for name, value in values.items()})
    return out


def unet_forward(ns: dict) -> dict:
    """UNet.forward should be downfeature(expand4(expand3(expand2(expand1(x4, x3), x2), x1), x0)) after the contracting
    path x0 = upfeature(x), x1 = contract1(x0), ..., x4 = contract4(x3), returning logits (no activation after
    downfeature)."""
    model = ns["UNet"](2, 3, hidden_channels=2)
    seeded(model, conv_names(*UNET_CONVS), 11)
    return {"UNet(2, 3, hidden_channels=2) on (2, 2, 200, 184)": model(randn((2, 2, 200, 184), 12))}


def trained_weights(ns: dict) -> dict:
    """the training run should finish with finite losses that fall, and the trained U-Net should find the held-out
    cells (the bar of the grading mode)."""
    model, config = ns["model"], ns["config"]
    out = {name: model.get_parameter(name) for name in conv_names(*UNET_CONVS)}
    out.update(
        {
            f"config.{name}": torch.tensor(float(getattr(config, name)))
            for name in ("epochs", "hidden_channels", "input_size")
        }
    )
    return out


# ---- correct dependencies, for one test cell and its check ------------------------------------------------


def swap_in(ns: dict, code: str, names: list, tests: tuple = ()) -> dict:
    """Run `code` (the reference solutions of `names`) and put its `names` into `ns`; returns what they
    replaced, for ``restore``. The notebook's own record of passed tests (``_passed``) counts `tests`, those of
    the parts swapped in, as passed meanwhile: the test cell then says where the part itself goes wrong, not that
    the parts it calls must pass first (they are the references now)."""
    references = {}
    exec(code, references)
    saved = {name: ns[name] for name in names if name in ns}
    ns.update({name: references[name] for name in names})
    passed = ns.get("_passed")
    marked = {test: passed.get(test) for test in tests} if isinstance(passed, dict) else {}
    if marked:
        passed.update(dict.fromkeys(marked, True))
    return {"names": list(names), "saved": saved, "passed": marked}


def restore(ns: dict, swapped: dict) -> None:
    """Put back what ``swap_in`` replaced (and remove what it added)."""
    for name in swapped["names"]:
        ns.pop(name, None)
    ns.update(swapped["saved"])
    passed = ns.get("_passed")
    if isinstance(passed, dict):
        for test, before in swapped.get("passed", {}).items():
            if before is None:
                passed.pop(test, None)
            else:
                passed[test] = before


@contextlib.contextmanager
def references(ns: dict, code: str, names: list) -> Iterator[None]:
    swapped = swap_in(ns, code, names)
    try:
        yield
    finally:
        restore(ns, swapped)


# ---- the kernel's answer ----------------------------------------------------------------------------------


def answer(ns: dict, check: str, code: str, names: list, shapes_only: bool, trace=None) -> str:
    """Run the check named `check` on `ns` with the references of `names`: the JSON message sent to the grader.

    Each result travels as its shape, dtype, device and (unless `shapes_only`) its float32 values in base64;
    an exception travels as its type and message. `trace` (the notebook's ``layer_trace``, when given) records
    the fingerprints of the part's layers as the check calls them: they travel as "trace", for the grader to say
    where a wrong part goes wrong, with the error too (recorded up to the failure, and where it came).
    """
    record = None
    try:
        recording = trace(not shapes_only) if trace else contextlib.nullcontext({})
        with references(ns, code, names), torch.no_grad(), recording as record:
            results = {str(key): torch.as_tensor(value) for key, value in globals()[check](ns).items()}
            arrays = {
                key: {
                    "shape": list(value.shape),
                    "dtype": str(value.dtype),
                    "device": value.device.type,
                    "data": ""
                    if shapes_only
                    else base64.b64encode(
                        value.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
                    ).decode(),
                }
                for key, value in results.items()
            }
        return json.dumps({"arrays": arrays, "trace": record})
    except BaseException as error:  # noqa: BLE001 (the student's code may raise anything)
        try:
            return json.dumps({"error": f"{type(error).__name__}: {error}"[:500], "trace": record})
        except (TypeError, ValueError):  # a record the student's code garbled: the error alone
            return json.dumps({"error": f"{type(error).__name__}: {error}"[:500]})
