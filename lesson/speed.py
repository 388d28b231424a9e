"""How to train fastest on this machine: the precision (fp32 or bf16) and the memory layout (NCHW or NHWC).

On a GPU the answer is known: bf16 where the GPU computes it natively, else fp16, and the channels_last
(NHWC) layout. On a CPU it is not: bf16 is 2-3x faster than fp32 on some CPUs and slower on others with
the same feature flags, and channels_last is faster on some and 18% slower on others (an AVX2-only AMD
EPYC). So choose_precision_and_layout() times forward and backward passes of the model on one
1 x 1 x 176 x 176 slice in each precision and layout (one to three seconds in all) and takes the fastest, or
the course's own setting (fp32, NCHW) unless something else is at least 1.05x faster.

The measurement is cached per CPU model, torch version, threads and model shape in
~/.cache/unet-isbi2012/precision.json, with the load average it was measured under and when. A cached
answer is measured again, in the next process that asks, when that load was high (other programs slow
some passes more than others) or when it is older than a week; within one process (a notebook's kernel, a
test run) a call with both settings "auto" gets the answer given before for the same model shape (measured,
cached or set by UNET_PRECISION and UNET_LAYOUT), so that every run in it trains and predicts alike.

In: a model, a device, UNET_PRECISION and UNET_LAYOUT ("auto" to measure). Out: RunSettings(precision,
layout, reason), and the helpers that lay tensors and gradients out in NHWC.
"""

import contextlib
import copy
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch

from lesson.config import cache_folder, cpu_model

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
LAYOUTS = ("contiguous", "channels_last")  # NCHW (PyTorch's default, the course's) and NHWC
MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
PROBE_SIDE = 176  # the probe's input: one 176 x 176 slice through the whole model
PROBE_SECONDS = 1.0  # and about this long in total, once per machine (the answer is cached)
PROBE_PASSES = 3  # but at least this many timed passes of each setting: the fastest of 2 was too noisy
MARGIN = 1.05  # anything but fp32 in NCHW must be this much faster, so noise never picks a slower one
HIGH_LOAD = 0.5  # load average per core above which a measurement is used once, then measured again
MAX_AGE_SECONDS = 7 * 24 * 3600  # a cached measurement older than this is measured again
_IN_THIS_PROCESS = {}  # _model_key -> the RunSettings this process chose last: "auto" gives the same again


class RunSettings(NamedTuple):
    """What fit() and predict_slices() run in: "fp32" | "bf16" | "fp16", "contiguous" | "channels_last", and why."""

    precision: str
    layout: str
    reason: str


def gpu_precision() -> str:
    """bf16 on GPUs that compute it natively (A100, H100, L4), else fp16 with loss scaling (Colab's T4)."""
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def load_per_core() -> float:
    """The machine's 1-minute load average divided by its cores: 1.0 means every core was busy."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this system: assume a quiet one
        return 0.0


def choose_precision_and_layout(
    model: torch.nn.Module,
    device: torch.device,
    precision: str = "auto",
    layout: str = "auto",
    cache_dir: str | None = None,
    timer: Callable[[torch.dtype | None, str], float] | None = None,
    clock: Callable[[], float] = time.time,
    load: Callable[[], float] = load_per_core,
) -> RunSettings:
    """The precision and layout to train `model` in on `device`, with a sentence saying why.

    `precision` (UNET_PRECISION) and `layout` (UNET_LAYOUT) win unless they are "auto". On a GPU,
    "auto" is gpu_precision() and channels_last. On a CPU, the settings left to choose are timed by
    time_settings() and the fastest taken (see the module's docstring), the timings cached in
    `cache_dir`/precision.json (default ~/.cache/unet-isbi2012). Stand-ins for tests: `timer(autocast
    dtype or None, layout) -> seconds` of one forward and backward pass, `clock() -> seconds since the
    epoch`, `load() -> load average per core`.
    """
    if device.type == "cuda":
        chosen = gpu_precision() if precision == "auto" else precision
        why = (
            ("natively on this GPU" if chosen == "bf16" else "with loss scaling: this GPU has no native bf16")
            if precision == "auto"
            else "set by UNET_PRECISION"
        )
        return RunSettings(chosen, "channels_last" if layout == "auto" else layout, f"precision {chosen}: {why}")
    model_key = _model_key(model)
    if precision == layout == "auto" and model_key in _IN_THIS_PROCESS:  # fit() and predict_slices() agree
        return _IN_THIS_PROCESS[model_key]
    if precision != "auto" and layout != "auto":
        chosen = RunSettings(
            precision, layout, f"precision {precision}, layout {layout}: set by UNET_PRECISION and UNET_LAYOUT"
        )
    else:
        chosen = _measured(model, precision, layout, cache_dir, timer, clock, load)
    _IN_THIS_PROCESS[model_key] = chosen
    return chosen


def _measured(model, precision, layout, cache_dir, timer, clock, load):
    """The CPU's choice among the settings left "auto": from the cache when it is fresh (is_fresh), else timed now."""
    candidates = [
        (p, lay)
        for p in (["fp32", "bf16"] if precision == "auto" else [precision])
        for lay in (LAYOUTS if layout == "auto" else [layout])
    ]
    cache = pathlib.Path(cache_dir or cache_folder()) / "precision.json"
    key = cache_key(model, candidates)
    entry, now = _read_cache(cache).get(key), clock()
    cached = entry is not None and is_fresh(entry, now)
    if not cached:
        measured_under = load()
        seconds = time_settings(model, candidates, timer)
        entry = {
            "seconds": {_name(c): s for c, s in seconds.items()},
            "load_per_core": round(measured_under, 2),
            "measured_at": round(now),
        }
        _write_cache(cache, key, entry)
    return _verdict(candidates, entry, cached, precision, layout)


def is_fresh(entry: dict, now: float) -> bool:
    """A cached measurement is used when it was taken on a quiet machine, less than MAX_AGE_SECONDS ago."""
    age = now - entry["measured_at"]
    return entry["load_per_core"] <= HIGH_LOAD and 0 <= age <= MAX_AGE_SECONDS


def _name(candidate):
    return "/".join(candidate)


def _verdict(candidates, entry, cached, precision, layout):
    """The fastest candidate, unless the first (the course's setting) is within MARGIN of it; and why."""
    seconds = {c: entry["seconds"][_name(c)] for c in candidates}
    default = candidates[0]
    fastest = min(candidates, key=seconds.get)
    chosen = fastest if seconds[default] / seconds[fastest] >= MARGIN else default
    note = " (cached)" if cached else ""
    if entry["load_per_core"] > HIGH_LOAD:
        note = f" (measured under load {entry['load_per_core']:.1f} per core: measured again next time)"
    others = ", ".join(
        f"{_label(c, precision, layout)} {seconds[default] / seconds[c]:.2f}x" for c in candidates if c != default
    )
    base = _label(default, precision, layout)
    settings = f"precision {chosen[0]}, layout {chosen[1]}"
    return RunSettings(*chosen, f"{settings}: measured against {base} on this CPU, {others}{note}")


def _label(candidate, precision, layout):
    """'bf16 in channels_last', or only the part that was measured ('bf16', 'channels_last')."""
    parts = [part for part, given in zip(candidate, (precision, layout)) if given == "auto"]
    return " in ".join(parts)


def time_settings(
    model: torch.nn.Module,
    candidates: list[tuple[str, str]],
    timer: Callable[[torch.dtype | None, str], float] | None = None,
    budget: float = PROBE_SECONDS,
) -> dict[tuple[str, str], float]:
    """Seconds of one forward and backward pass of a copy of `model` on the CPU in each (precision, layout).

    One untimed pass of each first, then they take turns until the passes add up to `budget` seconds
    (at least PROBE_PASSES timed passes of each); each keeps its fastest, as other processes only ever slow a
    pass down.
    """
    spent = 0.0
    if timer is None:
        probes = {
            lay: copy.deepcopy(model).to("cpu", memory_format=MEMORY_FORMATS[lay])
            for lay in {lay for _, lay in candidates}
        }
        x = torch.rand(1, 1, PROBE_SIDE, PROBE_SIDE)

        def timer(amp_dtype, lay):
            return _time_pass(probes[lay], x, amp_dtype, lay)

        spent = sum(timer(AUTOCAST_DTYPES[p], lay) for p, lay in candidates)  # warm-up: allocations, kernels
    seconds = {candidate: [] for candidate in candidates}
    while min(map(len, seconds.values())) < PROBE_PASSES or spent < budget:
        for precision, lay in candidates:
            seconds[precision, lay].append(timer(AUTOCAST_DTYPES[precision], lay))
            spent += seconds[precision, lay][-1]
    return {candidate: min(values) for candidate, values in seconds.items()}


def _time_pass(model, x, amp_dtype, layout):
    """Seconds of one forward and backward pass of `model` on x (N, 1, H, W), as fit() runs it in `layout`."""
    started = time.perf_counter()
    with (
        in_layout(model, layout),
        torch.enable_grad(),
        torch.autocast("cpu", dtype=amp_dtype, enabled=amp_dtype is not None),
    ):
        model(to_layout(x, layout)).float().mean().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def cache_key(model: torch.nn.Module, candidates: list[tuple[str, str]]) -> str:
    """What the measurement depends on: _model_key(model) and the settings compared."""
    return f"{_model_key(model)} | {' '.join(sorted(_name(c) for c in candidates))}"


def _model_key(model):
    """The CPU's model and the instructions torch uses on it (ATEN_CPU_CAPABILITY can lower them), torch's version
    and threads, and the model's shape."""
    shapes = ",".join("x".join(map(str, p.shape)) for p in model.parameters())
    return (
        f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}) | torch {torch.__version__} | "
        f"{torch.get_num_threads()} threads | {type(model).__name__} {hashlib.sha1(shapes.encode()).hexdigest()[:12]}"
    )


def _read_cache(path):
    """{key: {"seconds": {...}, "load_per_core": float, "measured_at": float}}; {} if missing or unreadable.

    Entries in another form (an older version's) are left out, so they are measured again.
    """
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    kept = {}
    for key, entry in entries.items():
        try:
            kept[key] = {
                "seconds": {name: float(s) for name, s in entry["seconds"].items()},
                "load_per_core": float(entry["load_per_core"]),
                "measured_at": float(entry["measured_at"]),
            }
        except (TypeError, KeyError, AttributeError, ValueError):
            continue
    return kept


def _write_cache(path, key, entry):
    """Add one measurement to the cache file; a cache that cannot be written is skipped, never an error."""
    entries = {**_read_cache(path), key: entry}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(entries, indent=1) + "\n")
        os.replace(partial, path)
    except OSError:
        pass


# ---------------------------------------------------------------- the NHWC layout


def to_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """x (N, C, H, W) laid out as `layout` says: channels_last(x), or x as it is for "contiguous"."""
    return channels_last(x) if layout == "channels_last" else x


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The same (N, C, H, W) tensor laid out NHWC (channel stride 1), the layout the convolutions run fastest in
    on most CPUs and GPUs.

    x.contiguous(memory_format=torch.channels_last) leaves a 1-channel batch untouched (with C = 1 the two
    layouts have the same strides), and the first convolution would then answer in NCHW.
    """
    count, channels, height, width = x.shape
    return x.new_empty((count, height, width, channels)).permute(0, 3, 1, 2).copy_(x)


def _gradient_channels_last(grad):
    return grad.contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def channels_last_gradients(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside this block, the gradient reaching each module's output (N, C, H, W) is laid out NHWC.

    Cropping a skip connection sends its gradient back padded with zeros in NCHW; where it meets the
    NHWC one from the next block, max-pooling and the convolutions would convert it twice per step.
    One conversion here is cheaper.
    """

    def on_output(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.requires_grad and output.dim() == 4:
            output.register_hook(_gradient_channels_last)

    handles = [module.register_forward_hook(on_output) for module in model.modules()]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def in_layout(model: torch.nn.Module, layout: str) -> contextlib.AbstractContextManager:
    """channels_last_gradients(model) for "channels_last"; nothing to do for "contiguous"."""
    return channels_last_gradients(model) if layout == "channels_last" else contextlib.nullcontext(model)
