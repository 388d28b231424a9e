"""The precision choice: what reduced precision (and the NHWC layout) brings to the bulk of a training step,
the U-Net's convolutions, timed alone in the course's setting (float32, NCHW) and the project's.

With the convolutions' share of the course's step it shows how much of the project loop's speed-up the
precision fit() chooses accounts for (``--convolutions`` of ``python -m benchmarks.training_speed``).
"""

import copy
import time

import torch

from benchmarks.loops import ratio, reference_unet
from benchmarks.machine import sync
from lesson.speed import AUTOCAST_DTYPES, channels_last


def convolutions_alone(args, device, precision, course_step_seconds=None, rounds=2):
    """The convolutions alone: each conv layer of the U-Net, forward and backward at the shape it sees in a step,
    in the course's setting (float32, NCHW) and the project's (`precision`, NHWC), alternating layer by layer.

    Their ratio is what reduced precision brings to the bulk of the work on this device; with the
    convolutions' share of the course's step, it shows how much of a step's speed-up is left to the other
    levers. (An estimate: layers timed alone, in a separate pass after the loops.)
    """
    model = reference_unet(args)
    inputs = []
    hooks = [
        layer.register_forward_hook(lambda layer, args_in, out: inputs.append((layer, args_in[0].shape)))
        for layer in model.modules()
        if isinstance(layer, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        model(torch.zeros(args.batch, 1, args.px, args.px))
    for hook in hooks:
        hook.remove()
    amp_dtype = AUTOCAST_DTYPES[precision]
    seconds = {"course": 0.0, "project": 0.0}
    for _ in range(rounds):
        for layer, shape in inputs:
            for setting in ("course", "project"):
                seconds[setting] += _time_convolution(layer, shape, device, amp_dtype if setting == "project" else None)
    course, project = seconds["course"] / rounds, seconds["project"] / rounds
    return {
        "layers": len(inputs),
        "rounds": rounds,
        "course_seconds_per_step": course,
        "project_seconds_per_step": project,
        "speedup": ratio(course, project),
        "share_of_course_step": course / course_step_seconds if course_step_seconds else None,
    }


def _time_convolution(layer, shape, device, amp_dtype):
    """Seconds for one forward and backward of a copy of `layer` on a random batch of `shape`
    (NHWC under autocast when amp_dtype is set, else float32 NCHW), after one untimed warm-up."""
    conv = copy.deepcopy(layer).to(device)
    x = torch.randn(shape, device=device)
    if amp_dtype is not None:
        conv, x = conv.to(memory_format=torch.channels_last), channels_last(x)
    x.requires_grad_(shape[1] > 1)  # the first layer's input needs no gradient

    def once():
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = conv(x)
        out.backward(torch.ones_like(out))

    once()
    sync(device)
    started = time.perf_counter()
    once()
    sync(device)
    return time.perf_counter() - started
