"""Training speed: the original course's loop against the project's loop, side by side in one process.

    python -m benchmarks.training_speed --width 16 --px 256 --steps 60             # CPU, about 3 minutes
    python -m benchmarks.training_speed --width 64 --px 256 --steps 12 --block 2   # CPU, about 3 minutes
    python -m benchmarks.training_speed --device cuda --width 64 --px 512 --steps 200 --block 20 --compile

Both loops train the same model (the reference U-Net, the same initial weights) on the same batches
(batch 4 of px x px tiles of ISBI slices 0-24, the same shuffled order), in blocks of --block steps:
course, project, project, course, course, ... (ABBA, so a drift in machine load hits both alike).

- course: the original assignment's loop. float32, a torch DataLoader (shuffle=True) over CPU tensors,
  `.to(device)` on every batch, default Adam, labels cropped once up front, default memory layout.
- project: lesson.training's loop (make_optimizer, train_step): data preloaded on the device,
  channels_last inputs, weights and gradients (channels_last_gradients), the precision fit() would
  choose (lesson.training.choose_precision: on CPU fp32 or bf16 by a short measurement, cached per
  machine; UNET_PRECISION overrides it), fused Adam, cudnn.benchmark on GPU.
- project-fp32, project-bf16 (with --loops): the project's loop in that precision whatever the choice, to
  show what the choice brings.

It prints steps/s of each loop, their ratio, peak memory (the process's peak RSS during that loop's
blocks on CPU; torch.cuda.max_memory_allocated on GPU) and how well the two loss curves agree, and writes
it all to JSON (benchmarks/results/<device>-w<width>-px<px>.json unless --out). Optional sweeps:
--malloc runs the whole comparison again in one subprocess per allocator setting (glibc variables and
LD_PRELOAD must be set before a process starts), --compile times torch.compile against eager, --convolutions
times the conv layers alone in both settings (what reduced precision brings to the bulk of the work).
"""
import argparse
import contextlib
import copy
import json
import os
import pathlib
import platform
import re
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from lesson.config import read_config
from lesson.training import (AUTOCAST_DTYPES, center_crop, channels_last, channels_last_gradients, choose_precision,
                             make_optimizer, output_margin, to_tensors, train_step)

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
LOOPS = ("project", "project-fp32", "project-bf16")   # besides "course"
FIRST_STEPS = 2                    # steps of each loop timed on their own (allocations, kernel choice)
# Allocator settings for --malloc; each runs in a fresh process. "glibc-tuned": never give memory back
# to the OS and never mmap large blocks, so the big activation buffers are reused instead of re-faulted.
ALLOCATORS = {
    "glibc-default": {},
    "glibc-tuned": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736",
                    "MALLOC_TOP_PAD_": "1073741824"},
    "jemalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"},
    "tcmalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"},
}
ALLOCATOR_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD")


# ---------------------------------------------------------------- data and machine


def training_tiles(px, data="isbi"):
    """Non-overlapping px x px tiles of training slices 0-24: uint8 images and labels (T, px, px).

    data="isbi": the real slices (UNET_DATA_DIR, else downloaded); "synthetic": 25 small synthetic slices.
    """
    if data == "isbi":
        from data.isbi2012 import split_holdout
        from data.synthetic import load_dataset
        images, labels, _ = load_dataset()
        images, labels = split_holdout(images)[0], split_holdout(labels)[0]
    elif data == "synthetic":
        from data.synthetic import make_em_volume
        images, labels = make_em_volume(n_slices=25, size=max(px, 160), seed=0)
    else:
        raise ValueError(f"data must be 'isbi' or 'synthetic', got {data!r}")
    rows, cols = images.shape[1] // px, images.shape[2] // px
    if rows == 0 or cols == 0:
        raise ValueError(f"px {px} is larger than the slices {images.shape[1:]}")

    def cut(volume):
        return np.stack([volume[:, r * px:(r + 1) * px, c * px:(c + 1) * px] for r in range(rows)
                         for c in range(cols)], axis=1).reshape(-1, px, px)
    return cut(images), cut(labels)


def machine(device, model=None, precision=None):
    """What ran it: device name, CPU model and its bf16 / AMX flags, threads, torch version, allocator
    variables, and with `model`, the precision fit() chooses for it there and why (`precision`, as
    UNET_PRECISION, defaults to the environment's)."""
    cpu_model = platform.processor()
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
        cpu_model = found.group(1) if found else cpu_model
    except OSError:
        pass
    info = {"device": device.type, "device_name": cpu_model, "cpu_model": cpu_model,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
            "allocator_env": {name: os.environ[name] for name in ALLOCATOR_VARIABLES if name in os.environ}}
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    info["cpu_flags"] = cpu_flags()
    if model is not None:
        requested = precision or read_config().precision
        info["precision"], info["precision_reason"] = choose_precision(model, device, requested)
    return info


def describe(info):
    """One line for reports: 'AMD EPYC (cpu, 2 threads, torch 2.14.1, precision bf16: measured ...)'."""
    precision = f", {info['precision_reason']}" if info.get("precision_reason") else ""
    return f"{info['device_name']} ({info['device']}, {info['torch_threads']} threads, torch {info['torch']}{precision})"


def cpu_flags():
    """The CPU's reduced-precision features, as torch sees them and as /proc/cpuinfo lists them."""
    try:
        listed = set(re.search(r"^flags\s*:(.*)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M).group(1).split())
    except (OSError, AttributeError):
        listed = set()
    return {"avx512_bf16": bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()),
            "amx_tile": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
            "cpuinfo": sorted(listed & {"avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16"})}


def device_tag(info):
    """A file-name-safe short name: 'cpu' or the GPU's name, e.g. 'nvidia-h100-80gb-hbm3'."""
    if info["device"] == "cpu":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", info["device_name"].lower()).strip("-")


# ---------------------------------------------------------------- memory


class PeakMemory:
    """Peak memory during a block: CUDA's allocator peak, or the process's peak RSS (VmHWM) on CPU.

    On CPU the peak is reset before each block through /proc/self/clear_refs ("5"), so each loop's
    figure is the highest RSS while it ran: the data, the model and whatever the allocator keeps.
    Where the reset is not allowed, it is the peak since the process started (marked in `resettable`).
    """

    def __init__(self, device):
        self.device = device
        self.resettable = True

    def reset(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            pathlib.Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.resettable = False

    def peak_mib(self):
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        try:
            status = pathlib.Path("/proc/self/status").read_text()
            return int(re.search(r"^VmHWM:\s*(\d+) kB", status, re.M).group(1)) / 1024
        except (OSError, AttributeError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- the two loops


class CourseLoop:
    """The original assignment's training loop, as its notebook wrote it (fp32, default everything)."""

    name = "course"

    def __init__(self, model, images, labels, device, batch_size, seed):
        self.model, self.device = model.to(device), device
        output = images.shape[-1] - output_margin(self.model, device)
        volumes = torch.as_tensor(images, dtype=torch.float32)[:, None] / 255          # stays on the CPU
        targets = center_crop(torch.as_tensor(labels, dtype=torch.float32)[:, None] / 255, output, output)
        dataset = TensorDataset(volumes, targets, torch.arange(len(volumes)))
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(seed))
        self.batches = iter(())
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=2e-4)
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.order = []

    def _next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)                                          # a new epoch
            return next(self.batches)

    def run(self, steps):
        """`steps` optimizer steps; returns their losses (one sync at the end, as the project's loop)."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False                                    # the default
        losses = []
        for _ in range(steps):
            real, labels, index = self._next_batch()
            self.order.append(index.tolist())
            real, labels = real.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            pred = self.model(real)
            loss = self.criterion(pred, labels)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
        return torch.stack(losses).tolist()


class ProjectLoop:
    """lesson.training's loop: the same steps as fit(), on the batches the course's DataLoader would draw."""

    def __init__(self, model, images, labels, device, batch_size, seed, precision, forced=False, compile_model=False):
        self.name = f"project-{precision}" if forced else "project"
        self.device = device
        self.model = model.to(device, memory_format=torch.channels_last)             # NHWC
        self.inputs, self.targets = to_tensors(images, labels, device)                # data on the device
        self.optimizer = make_optimizer(self.model, 2e-4)                             # fused Adam
        self.amp_dtype = AUTOCAST_DTYPES[precision]
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.step_model = torch.compile(self.model) if compile_model else self.model
        if compile_model:
            self.name += "-compiled"
        # The same shuffled order as the course's DataLoader: an identical loader over the indices only.
        self.loader = DataLoader(torch.arange(len(images)), batch_size=batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(seed))
        self.batches = iter(())
        self.order = []

    def _next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:                                   # a new epoch: its order goes to the device at once
            batches = list(self.loader)
            on_device = torch.cat(batches).to(self.device).split([len(b) for b in batches])
            self.batches = iter(zip(batches, on_device))
            return next(self.batches)

    def run(self, steps):
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True                                     # fastest conv kernels
        losses = []
        # As fit() does; a compiled model picks its own layouts (and hooks added per block would recompile it).
        layout = contextlib.nullcontext() if self.step_model is not self.model else channels_last_gradients(self.model)
        with layout:
            for _ in range(steps):
                on_cpu, batch = self._next_batch()
                self.order.append(on_cpu.tolist())              # no GPU sync: the CPU copy of the indices
                loss, _ = train_step(self.step_model, self.optimizer, self.scaler, self.inputs[batch],
                                     self.targets[batch], self.amp_dtype)
                losses.append(loss)
        return torch.stack(losses).tolist()


# ---------------------------------------------------------------- measuring


def alternate(loops, steps, block, device):
    """Run every loop for `steps` steps, interleaved in blocks (ABBA order); returns per-loop timings.

    The first FIRST_STEPS steps of each loop are timed on their own and left out of steps/s.
    """
    memory = PeakMemory(device)
    record = {loop.name: {"losses": [], "block_seconds": [], "block_cpu_seconds": [], "block_steps": [],
                          "peak_mib": 0.0, "first_steps_seconds": None} for loop in loops}
    sizes = [min(FIRST_STEPS, steps)]
    while sum(sizes) < steps:
        sizes.append(min(block, steps - sum(sizes)))
    for round_index, size in enumerate(sizes):
        order = loops if round_index % 2 == 0 else loops[::-1]
        for loop in order:
            entry = record[loop.name]
            _sync(device)
            memory.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            entry["losses"] += loop.run(size)                                         # ends with a sync
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            entry["peak_mib"] = max(entry["peak_mib"], memory.peak_mib())
            if round_index == 0:
                entry["first_steps_seconds"] = seconds
            else:
                entry["block_seconds"].append(seconds)
                entry["block_cpu_seconds"].append(cpu_seconds)
                entry["block_steps"].append(size)
    for loop in loops:
        entry = record[loop.name]
        timed_steps, timed_seconds = sum(entry["block_steps"]), sum(entry["block_seconds"])
        entry["steady_steps"] = timed_steps
        entry["steps_per_s"] = timed_steps / timed_seconds if timed_seconds else None
        entry["seconds_per_step"] = timed_seconds / timed_steps if timed_steps else None
        # CPU time of the process (all threads) per step: less sensitive than wall time to other processes.
        entry["cpu_seconds_per_step"] = sum(entry["block_cpu_seconds"]) / timed_steps if timed_steps else None
        rates = [n / s for n, s in zip(entry["block_steps"], entry["block_seconds"])]
        entry["block_steps_per_s_min_max"] = [min(rates), max(rates)] if rates else None
        entry["peak_memory_mib"] = round(entry.pop("peak_mib"), 1)
        entry["peak_memory_kind"] = ("torch.cuda.max_memory_allocated" if device.type == "cuda" else
                                     "peak RSS (VmHWM) " + ("during its blocks" if memory.resettable
                                                            else "since process start"))
        entry["seconds_for_1600_steps"] = 1600 * entry["seconds_per_step"] if entry["seconds_per_step"] else None
    return record


def _ratio(baseline_seconds, seconds):
    """How many times faster: baseline seconds per step / seconds per step (None without steady steps)."""
    return baseline_seconds / seconds if baseline_seconds and seconds else None


def loss_agreement(reference, other):
    """How closely two loss curves of the same run agree, step by step."""
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    tail = max(1, n // 5)
    correlation = float(np.corrcoef(a, b)[0, 1]) if n > 2 and a.std() > 0 and b.std() > 0 else None
    return {"steps": n, "first_step_abs_diff": float(abs(a[0] - b[0])),
            "max_abs_diff": float(np.max(np.abs(a - b))), "mean_abs_diff": float(np.mean(np.abs(a - b))),
            "correlation": correlation, "last_fifth_mean": [float(a[-tail:].mean()), float(b[-tail:].mean())],
            "last_fifth_relative_diff": float(abs(a[-tail:].mean() - b[-tail:].mean()) / a[-tail:].mean())}


def compare(args, device, precision):
    """The side-by-side run of the course's loop and the project's loop(s); returns the results dict.

    `precision` is the project loop's (the one fit() chooses); project-fp32 and project-bf16 force theirs.
    """
    images, labels = training_tiles(args.px, args.data)
    model = reference_unet(args)
    loops = []
    for name in args.loops:
        if name == "course":
            loops.append(CourseLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed))
        elif name in LOOPS:
            forced = name.removeprefix("project").lstrip("-")
            loops.append(ProjectLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed,
                                     forced or precision, forced=bool(forced)))
        else:
            raise ValueError(f"unknown loop {name!r}; choose from course, {', '.join(LOOPS)}")
    record = alternate(loops, args.steps, args.block, device)
    baseline = record[loops[0].name]
    for loop in loops[1:]:
        entry = record[loop.name]
        entry["speedup_vs_" + loops[0].name] = _ratio(baseline["seconds_per_step"], entry["seconds_per_step"])
        entry["cpu_time_speedup_vs_" + loops[0].name] = _ratio(baseline["cpu_seconds_per_step"],
                                                               entry["cpu_seconds_per_step"])
        entry["loss_agreement_vs_" + loops[0].name] = loss_agreement(baseline["losses"], entry["losses"])
        entry["same_batches_as_" + loops[0].name] = loop.order == loops[0].order
    for entry in record.values():
        entry["losses"] = [round(value, 6) for value in entry["losses"]]
    return {"tiles": len(images), "loops": record}


def compare_compile(args, device, precision):
    """Eager against torch.compile'd project loop, alternating: compile time and steady steps/s."""
    images, labels = training_tiles(args.px, args.data)
    model = reference_unet(args)
    eager = ProjectLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed, precision)
    compiled = ProjectLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed, precision,
                           compile_model=True)
    record = alternate([eager, compiled], args.compile_steps, args.block, device)
    entry = record[compiled.name]
    entry["speedup_vs_project"] = _ratio(record["project"]["seconds_per_step"], entry["seconds_per_step"])
    entry["compile_overhead_seconds"] = (entry["first_steps_seconds"] - record["project"]["first_steps_seconds"])
    gain_per_step = (record["project"]["seconds_per_step"] or 0) - (entry["seconds_per_step"] or 0)
    entry["break_even_steps"] = entry["compile_overhead_seconds"] / gain_per_step if gain_per_step > 0 else None
    entry["loss_agreement_vs_project"] = loss_agreement(record["project"]["losses"], entry["losses"])
    for value in record.values():
        value["losses"] = [round(loss, 6) for loss in value["losses"]]
    return {"steps": args.compile_steps, "loops": record}


def reference_unet(args):
    """The reference U-Net of --width channels, its weights drawn from --seed: every loop starts from a copy."""
    from solutions.reference import load_reference
    torch.manual_seed(args.seed)
    return load_reference().UNet(1, 1, hidden_channels=args.width)


def convolutions_alone(args, device, precision, course_step_seconds=None, rounds=2):
    """The convolutions alone: each conv layer of the U-Net, forward and backward at the shape it sees in a step,
    in the course's setting (float32, NCHW) and the project's (`precision`, NHWC), alternating layer by layer.

    Their ratio is what reduced precision brings to the bulk of the work on this device; with the
    convolutions' share of the course's step, it shows how much of a step's speed-up is left to the other
    levers. (An estimate: layers timed alone, in a separate pass after the loops.)
    """
    model = reference_unet(args)
    inputs = []
    hooks = [layer.register_forward_hook(lambda layer, args_in, out: inputs.append((layer, args_in[0].shape)))
             for layer in model.modules() if isinstance(layer, torch.nn.Conv2d)]
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
    return {"layers": len(inputs), "rounds": rounds, "course_seconds_per_step": course,
            "project_seconds_per_step": project, "speedup": _ratio(course, project),
            "share_of_course_step": course / course_step_seconds if course_step_seconds else None}


def _time_convolution(layer, shape, device, amp_dtype):
    """Seconds for one forward and backward of a copy of `layer` on a random batch of `shape`
    (NHWC under autocast when amp_dtype is set, else float32 NCHW), after one untimed warm-up."""
    conv = copy.deepcopy(layer).to(device)
    x = torch.randn(shape, device=device)
    if amp_dtype is not None:
        conv, x = conv.to(memory_format=torch.channels_last), channels_last(x)
    x.requires_grad_(shape[1] > 1)                                   # the first layer's input needs no gradient

    def once():
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = conv(x)
        out.backward(torch.ones_like(out))
    once()
    _sync(device)
    started = time.perf_counter()
    once()
    _sync(device)
    return time.perf_counter() - started


def sweep_allocators(args):
    """The same comparison in a fresh process per allocator setting, alternating settings over rounds."""
    import tempfile
    settings = [name for name in args.malloc if name in ALLOCATORS]
    unknown = set(args.malloc) - set(ALLOCATORS)
    if unknown:
        raise ValueError(f"unknown allocator settings {sorted(unknown)}; choose from {sorted(ALLOCATORS)}")
    runs = {name: [] for name in settings}
    base_env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_VARIABLES}
    for round_index in range(args.malloc_rounds):
        for name in (settings if round_index % 2 == 0 else settings[::-1]):
            preload = ALLOCATORS[name].get("LD_PRELOAD")
            if preload and not pathlib.Path(preload).exists():
                runs[name].append({"skipped": f"{preload} not found"})
                continue
            with tempfile.TemporaryDirectory() as folder:
                out = pathlib.Path(folder) / "result.json"
                command = [sys.executable, "-m", "benchmarks.training_speed", *_child_argv(args), "--out", str(out),
                           "--quiet"]
                subprocess.run(command, env={**base_env, **ALLOCATORS[name]}, check=True,
                               cwd=pathlib.Path(__file__).resolve().parents[1])
                result = json.loads(out.read_text())
            runs[name].append({loop: {key: value[key] for key in ("steps_per_s", "seconds_per_step",
                                                                  "peak_memory_mib")}
                               for loop, value in result["comparison"]["loops"].items()})
    return {"settings": {name: ALLOCATORS[name] for name in settings}, "rounds": args.malloc_rounds,
            "runs": runs, "summary": _allocator_summary(runs)}


def _allocator_summary(runs):
    """Mean steps/s and peak memory per setting and loop, and the speed relative to glibc's defaults."""
    summary = {}
    for name, results in runs.items():
        ok = [r for r in results if "skipped" not in r]
        if not ok:
            continue
        summary[name] = {loop: {"steps_per_s": float(np.mean([r[loop]["steps_per_s"] for r in ok])),
                                "peak_memory_mib": float(np.max([r[loop]["peak_memory_mib"] for r in ok]))}
                         for loop in ok[0]}
    base = summary.get("glibc-default")
    if base:
        for name, loops in summary.items():
            for loop, value in loops.items():
                value["speed_vs_glibc_default"] = value["steps_per_s"] / base[loop]["steps_per_s"]
    return summary


def solo_memory(args):
    """Peak memory of each loop alone: a fresh process per loop, FIRST_STEPS + 1 steps, peak since start."""
    import tempfile
    peaks = {}
    for name in args.loops:
        with tempfile.TemporaryDirectory() as folder:
            out = pathlib.Path(folder) / "result.json"
            child = _child_argv(args, loops=[name], steps=FIRST_STEPS + 1)
            subprocess.run([sys.executable, "-m", "benchmarks.training_speed", *child, "--out", str(out), "--quiet"],
                           check=True, cwd=pathlib.Path(__file__).resolve().parents[1])
            peaks[name] = json.loads(out.read_text())["comparison"]["loops"][name]["peak_memory_mib"]
    return {"peak_memory_mib": peaks,
            "kind": "torch.cuda.max_memory_allocated" if args.device == "cuda" else "peak RSS of the process"}


def _child_argv(args, loops=None, steps=None):
    """The comparison's own settings as a command line, for the per-allocator child processes."""
    argv = ["--width", args.width, "--px", args.px, "--steps", steps or args.steps, "--block", args.block,
            "--batch", args.batch, "--seed", args.seed, "--device", args.device, "--data", args.data,
            "--loops", ",".join(loops or args.loops)]
    if args.threads:
        argv += ["--threads", args.threads]
    return [str(token) for token in argv]


# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=16, help="hidden_channels of the U-Net (course: 64)")
    parser.add_argument("--px", type=int, default=256, help="side of the training tiles (course: 512)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps of each loop")
    parser.add_argument("--block", type=int, default=5, help="steps per block before switching loops")
    parser.add_argument("--batch", type=int, default=4, help="batch size (course: 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default="isbi", choices=("isbi", "synthetic"))
    parser.add_argument("--loops", default="course,project", type=lambda text: text.split(","),
                        help="comma-separated: course, project (the precision fit() chooses), project-fp32, "
                             "project-bf16 (the first is the baseline)")
    parser.add_argument("--malloc", nargs="*", default=None, metavar="SETTING",
                        help=f"also run the comparison once per allocator setting in a fresh process "
                             f"(no names: all of {', '.join(ALLOCATORS)})")
    parser.add_argument("--malloc-rounds", type=int, default=2, help="processes per allocator setting")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile against eager")
    parser.add_argument("--compile-steps", type=int, default=20, help="steps of each loop for --compile")
    parser.add_argument("--convolutions", action="store_true",
                        help="also time the convolutions alone in both settings")
    parser.add_argument("--solo-memory", action="store_true",
                        help="also measure each loop's peak memory alone, in a fresh process per loop")
    parser.add_argument("--out", default=None,
                        help="JSON path (default benchmarks/results/<device>-w<W>-px<P>[-t<threads>].json)")
    parser.add_argument("--quiet", action="store_true", help="print nothing (used for the sweep's children)")
    args = parser.parse_args(argv)
    if args.malloc == []:
        args.malloc = list(ALLOCATORS)
    if args.steps < 1 or args.block < 1 or args.batch < 1:
        parser.error("--steps, --block and --batch must be at least 1")
    if args.px < 140:
        parser.error("--px must be at least 140 (the U-Net's output is px - 139 wide)")
    return args


def run(argv=None):
    """Run the benchmark; returns the results dict (also written to JSON and printed unless --quiet)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda, but PyTorch sees no GPU")
    device = torch.device(args.device)
    info = machine(device, reference_unet(args))
    precision = info["precision"]
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    result = {"benchmark": "training_speed", "command": "python -m benchmarks.training_speed " + " ".join(argv),
              "machine": info, "settings": {key: value for key, value in vars(args).items() if key != "quiet"},
              "comparison": compare(args, device, precision)}
    if args.compile:
        result["compile"] = compare_compile(args, device, precision)
    if args.convolutions:
        course_step = result["comparison"]["loops"].get("course", {}).get("seconds_per_step")
        result["convolutions"] = convolutions_alone(args, device, precision, course_step)
    if args.solo_memory:
        result["solo_memory"] = solo_memory(args)
    if args.malloc:
        result["allocators"] = sweep_allocators(args)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_1min"] = {"start": load_at_start[0], "end": os.getloadavg()[0],
                                   "note": "other processes on the machine; the loops alternate so both see it"}
    threads = f"-t{args.threads}" if args.threads else ""
    out = pathlib.Path(args.out) if args.out else RESULTS / f"{device_tag(info)}-w{args.width}-px{args.px}{threads}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    if not args.quiet:
        print(report(result))
        print(f"wrote {out}")
    return result


def report(result):
    """A short human-readable summary of a results dict."""
    info, settings = result["machine"], result["settings"]
    lines = [f"{describe(info)}; width {settings['width']}, {settings['px']} px, batch "
             f"{settings['batch']}, {settings['steps']} steps each in blocks of {settings['block']}; "
             f"load average {result['load_average_1min']['start']:.1f} -> {result['load_average_1min']['end']:.1f}"]
    sections = [("", result["comparison"]["loops"])]
    if "compile" in result:
        sections.append(("torch.compile: ", result["compile"]["loops"]))
    for title, loops in sections:
        for name, entry in loops.items():
            speed = (f"{entry['steps_per_s']:.3f} steps/s ({entry['seconds_per_step']:.3f} s/step)"
                     if entry["steps_per_s"] else "no steady steps")
            line = (f"  {title}{name:<18} {speed}, first {FIRST_STEPS} steps {entry['first_steps_seconds']:.1f} s, "
                    f"peak {entry['peak_memory_mib']:.0f} MiB")
            for key in (k for k in entry if k.startswith("speedup_vs_") and entry[k]):
                line += f", {entry[key]:.2f}x vs {key[len('speedup_vs_'):]}"
                cpu_key = "cpu_time_" + key
                if entry.get(cpu_key):
                    line += f" ({entry[cpu_key]:.2f}x in CPU time)"
            for key in (k for k in entry if k.startswith("loss_agreement_vs_")):
                agreement = entry[key]
                corr = agreement["correlation"]
                line += (f"; loss max |diff| {agreement['max_abs_diff']:.4f}, mean {agreement['mean_abs_diff']:.4f}, "
                         f"corr {corr:.4f}" if corr is not None else f"; loss max |diff| {agreement['max_abs_diff']:.4f}")
            if "compile_overhead_seconds" in entry:
                line += f"; compile overhead {entry['compile_overhead_seconds']:.1f} s"
            lines.append(line)
    for name, loops in result.get("allocators", {}).get("summary", {}).items():
        lines.append("  allocator " + name + ": " + ", ".join(
            f"{loop} {value['steps_per_s']:.3f} steps/s ({value.get('speed_vs_glibc_default', 1):.2f}x), "
            f"peak {value['peak_memory_mib']:.0f} MiB" for loop, value in loops.items()))
    if "convolutions" in result:
        conv = result["convolutions"]
        share = f"{conv['share_of_course_step']:.0%}" if conv.get("share_of_course_step") else "n/a"
        lines.append(f"  convolutions alone ({conv['layers']} layers, forward and backward): course "
                     f"{conv['course_seconds_per_step']:.3f} s ({share} of its step), project "
                     f"{conv['project_seconds_per_step']:.3f} s, {conv['speedup']:.2f}x")
    if "solo_memory" in result:
        lines.append("  peak memory of each loop alone: " + ", ".join(
            f"{name} {mib:.0f} MiB" for name, mib in result["solo_memory"]["peak_memory_mib"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    run()
