"""The mistake library: the common mistakes of each part, so that feedback can name the likely one.

Each mistake is an edit of the reference solution (the source notebook's solution cell of its part). The
grader runs a failed test's check on every mistake of the test's part, as on the reference, and compares
fingerprints (``fingerprints.py``): a mistake whose fingerprint matches the student's answer is named, with
what the specification asks instead. ``python -m autograder release`` writes the fingerprints of the
specification and of every mistake into ``autograder/fingerprints.json``.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Mistake:
    part: str                              # the part's name: "crop", "ContractingBlock", ...
    name: str                              # in words, as the feedback names it
    instead: str                           # what the specification asks instead
    edit: Callable[[str], str]             # the reference solution cell's source -> the mistaken source


def replace(*pairs: str) -> Callable[[str], str]:
    """An edit replacing each `old` by its `new` (pairs: old, new, old, new, ...); each `old` must occur."""
    def edit(source: str) -> str:
        for old, new in zip(pairs[::2], pairs[1::2]):
            if old not in source:
                raise ValueError(f"the reference solution no longer contains {old!r}")
            source = source.replace(old, new)
        return source
    return edit


def in_body(old: str, new: str) -> Callable[[str], str]:
    """An edit replacing the word `old` by `new` inside the solution regions only (not in the signature)."""
    def edit(source: str) -> str:
        regions = re.compile(r"(### BEGIN SOLUTION\n)(.*?)(### END SOLUTION)", re.S)
        edited = regions.sub(lambda m: m[1] + re.sub(rf"\b{old}\b", new, m[2]) + m[3], source)
        if edited == source:
            raise ValueError(f"the reference solution's body no longer contains {old!r}")
        return edited
    return edit


CROP_TOP = "top = (image.shape[2] - new_shape[2]) // 2"
CROP_LEFT = "left = (image.shape[3] - new_shape[3]) // 2"
CROP_RETURN = "return image[:, :, top:top + new_shape[2], left:left + new_shape[3]]"
CENTRE = "the centre: top offset (H - h) // 2 and left offset (W - w) // 2"
UPSAMPLE = 'mode="bilinear", align_corners=True'
UPSAMPLE_ASKED = "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)"
CONTRACTING_FORWARD = ("x = self.activation(self.conv1(x))", "x = self.activation(self.conv2(x))")
EXPANDING_RETURN = "return self.activation(self.conv3(x))"
UNET_RETURN = "return self.downfeature(x8)"

MISTAKES = (
    Mistake("crop", "the top-left corner instead of the centre", CENTRE,
            replace(CROP_RETURN, "return image[:, :, :new_shape[2], :new_shape[3]]")),
    Mistake("crop", "height and width swapped", "the top offset from the heights (image.shape[2], new_shape[2]) "
            "and the left offset from the widths (image.shape[3], new_shape[3])",
            replace(CROP_TOP, "top = (image.shape[3] - new_shape[3]) // 2", CROP_LEFT,
                    "left = (image.shape[2] - new_shape[2]) // 2")),
    Mistake("crop", "only square targets handled (the top offset used for the left too)",
            "a left offset of its own, (W - w) // 2, and a window of width new_shape[3]",
            replace(CROP_RETURN, "return image[:, :, top:top + new_shape[2], top:top + new_shape[2]]")),
    Mistake("crop", "one pixel off the centre when the margin is even",
            "exactly the middle on even margins: (H - h) // 2",
            replace(CROP_TOP, "top = (image.shape[2] - new_shape[2]) // 2 + 1 - (image.shape[2] - new_shape[2]) % 2",
                    CROP_LEFT, "left = (image.shape[3] - new_shape[3]) // 2 + 1 - (image.shape[3] - new_shape[3]) % 2")),
    Mistake("crop", "a float64 result (.double())", "the input's dtype: slice it, do not convert it",
            replace(CROP_RETURN, CROP_RETURN + ".double()")),
    Mistake("crop", "a result of rank 3 (the batch dimension dropped)", "a 4-D result (N, C, h, w)",
            replace(CROP_RETURN, "return image[0, :, top:top + new_shape[2], left:left + new_shape[3]]")),
    Mistake("ContractingBlock", "average pooling", "nn.MaxPool2d(kernel_size=2, stride=2)",
            replace("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.AvgPool2d(kernel_size=2, stride=2)")),
    Mistake("ContractingBlock", "no ReLU after conv1", "relu after each convolution",
            replace(CONTRACTING_FORWARD[0], "x = self.conv1(x)")),
    Mistake("ContractingBlock", "no ReLU after conv2", "relu after each convolution",
            replace(CONTRACTING_FORWARD[1], "x = self.conv2(x)")),
    Mistake("ContractingBlock", "ReLU before each convolution instead of after",
            "maxpool(relu(conv2(relu(conv1(x))))): the convolution first, then the ReLU",
            replace(*CONTRACTING_FORWARD[:1], "x = self.conv1(self.activation(x))",
                    CONTRACTING_FORWARD[1], "x = self.conv2(self.activation(x))")),
    Mistake("ContractingBlock", "padding=1 in the convolutions", "valid 3 x 3 convolutions: padding 0 (the default)",
            replace("kernel_size=3)", "kernel_size=3, padding=1)")),
    Mistake("ContractingBlock", "channels not doubled", "conv1 from C to 2C channels and conv2 from 2C to 2C",
            in_body("input_channels \\* 2", "input_channels")),
    Mistake("ContractingBlock", "max-pooling with stride 1", "nn.MaxPool2d(kernel_size=2, stride=2)",
            replace("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.MaxPool2d(kernel_size=2, stride=1)")),
    Mistake("ContractingBlock", "a sigmoid for the ReLU", "activation nn.ReLU()",
            replace("self.activation = nn.ReLU()", "self.activation = nn.Sigmoid()")),
    Mistake("ExpandingBlock", "nearest-neighbour upsampling", UPSAMPLE_ASKED, replace(UPSAMPLE, 'mode="nearest"')),
    Mistake("ExpandingBlock", "align_corners=False", UPSAMPLE_ASKED,
            replace(UPSAMPLE, 'mode="bilinear", align_corners=False')),
    Mistake("ExpandingBlock", "the concatenation's order swapped", "torch.cat([x, crop(skip)], dim=1): x first",
            replace("torch.cat([x, skip_con_x], axis=1)", "torch.cat([skip_con_x, x], axis=1)")),
    Mistake("ExpandingBlock", "a ReLU after conv1", "no activation between conv1 and the concatenation",
            replace("x = self.conv1(self.upsample(x))", "x = self.activation(self.conv1(self.upsample(x)))")),
    Mistake("ExpandingBlock", "no ReLU after conv3", "relu(conv3(...)): the block ends with a ReLU",
            replace(EXPANDING_RETURN, "return self.conv3(x)")),
    Mistake("ExpandingBlock", "the skip cut from its top-left corner instead of with crop",
            "crop(skip_con_x, x.shape): the skip's centre",
            replace("crop(skip_con_x, x.shape)", "skip_con_x[:, :, :x.shape[2], :x.shape[3]]")),
    Mistake("ExpandingBlock", "conv1 with a 3 x 3 kernel", "conv1 = nn.Conv2d(C, C // 2, kernel_size=2)",
            replace("nn.Conv2d(input_channels, input_channels // 2, kernel_size=2)",
                    "nn.Conv2d(input_channels, input_channels // 2, kernel_size=3)")),
    Mistake("FeatureMapBlock", "an activation after the 1 x 1 convolution", "forward returns self.conv(x) alone",
            replace("return self.conv(x)", "return torch.relu(self.conv(x))")),
    Mistake("FeatureMapBlock", "a 3 x 3 kernel with padding=1", "nn.Conv2d(C_in, C_out, kernel_size=1)",
            replace("kernel_size=1)", "kernel_size=3, padding=1)")),
    Mistake("FeatureMapBlock", "no bias", "nn.Conv2d's default bias=True",
            replace("kernel_size=1)", "kernel_size=1, bias=False)")),
    Mistake("UNet", "a sigmoid on the output", "logits: return self.downfeature(x8), with no activation",
            replace(UNET_RETURN, "return torch.sigmoid(self.downfeature(x8))")),
    Mistake("UNet", "a ReLU on the output", "logits: return self.downfeature(x8), with no activation",
            replace(UNET_RETURN, "return torch.relu(self.downfeature(x8))")),
    Mistake("UNet", "the skips in the wrong order", "expand1(x4, x3), expand2(x5, x2), expand3(x6, x1), expand4(x7, x0)",
            replace("self.expand1(x4, x3)", "self.expand1(x4, x0)", "self.expand2(x5, x2)", "self.expand2(x5, x1)",
                    "self.expand3(x6, x1)", "self.expand3(x6, x2)", "self.expand4(x7, x0)", "self.expand4(x7, x3)")),
    Mistake("UNet", "the network's input x as the last skip instead of x0 = upfeature(x)",
            "expand4(x7, x0): the skip of the first level is upfeature's output",
            replace("self.expand4(x7, x0)", "self.expand4(x7, x)")),
    Mistake("UNet", "a level left out (contract4 and expand1 skipped)", "four contracting and four expanding blocks",
            replace("x5 = self.expand1(x4, x3)", "x5 = x3", "x6 = self.expand2(x5, x2)", "x6 = self.expand2(x3, x2)")),
    Mistake("UNet", "hidden_channels ignored (64 hard-coded)", "the widths built from hidden_channels",
            in_body("hidden_channels", "64")),
    Mistake("UNet", "downfeature missing", "return self.downfeature(x8): the 1 x 1 map to output_channels",
            replace(UNET_RETURN, "return x8")),
)


def of_part(part: str) -> tuple[Mistake, ...]:
    return tuple(mistake for mistake in MISTAKES if mistake.part == part)
