"""The loops compared: the original course's training loop and the project's (lesson.training), on the same
model, weights and batches, timed in alternating blocks (ABBA) with their peak memory and loss curves.

``compare`` is the side-by-side run of ``python -m benchmarks.training_speed``; ``compare_compile`` times
torch.compile against eager. See ``benchmarks/training_speed.py`` for the command line.
"""

import contextlib
import copy
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.machine import PeakMemory, sync
from lesson.speed import AUTOCAST_DTYPES, MEMORY_FORMATS, choose_precision_and_layout, in_layout
from lesson.training import center_crop, make_optimizer, output_margin, to_tensors, train_step

LOOPS = ("project", "project-fp32", "project-bf16")  # besides "course"
FIRST_STEPS = 2  # steps of each loop timed on their own (allocations, kernel choice)


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
        return np.stack(
            [volume[:, r * px : (r + 1) * px, c * px : (c + 1) * px] for r in range(rows) for c in range(cols)], axis=1
        ).reshape(-1, px, px)

    return cut(images), cut(labels)


def reference_unet(args):
    """The reference U-Net of --width channels, its weights drawn from --seed: every loop starts from a copy."""
    from solutions.reference import load_reference

    torch.manual_seed(args.seed)
    return load_reference().UNet(1, 1, hidden_channels=args.width)


# ---------------------------------------------------------------- the two loops


class CourseLoop:
    """The original assignment's training loop, as its notebook wrote it (fp32, default everything)."""

    name = "course"

    def __init__(self, model, images, labels, device, batch_size, seed):
        self.model, self.device = model.to(device), device
        output = images.shape[-1] - output_margin(self.model, device)
        volumes = torch.as_tensor(images, dtype=torch.float32)[:, None] / 255  # stays on the CPU
        targets = center_crop(torch.as_tensor(labels, dtype=torch.float32)[:, None] / 255, output, output)
        dataset = TensorDataset(volumes, targets, torch.arange(len(volumes)))
        self.loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
        self.batches = iter(())
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=2e-4)
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.order = []

    def _next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)  # a new epoch
            return next(self.batches)

    def run(self, steps):
        """`steps` optimizer steps; returns their losses (one sync at the end, as the project's loop)."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False  # the default
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

    def __init__(
        self,
        model,
        images,
        labels,
        device,
        batch_size,
        seed,
        precision,
        layout="channels_last",
        forced=False,
        compile_model=False,
    ):
        self.name = f"project-{precision}" if forced else "project"
        self.device, self.layout = device, layout
        self.model = model.to(device, memory_format=MEMORY_FORMATS[layout])  # NHWC where it is faster
        self.inputs, self.targets = to_tensors(images, labels, device)  # data on the device
        self.optimizer = make_optimizer(self.model, 2e-4)  # fused Adam
        self.amp_dtype = AUTOCAST_DTYPES[precision]
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.step_model = torch.compile(self.model) if compile_model else self.model
        if compile_model:
            self.name += "-compiled"
        # The same shuffled order as the course's DataLoader: an identical loader over the indices only.
        self.loader = DataLoader(
            torch.arange(len(images)),
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        self.batches = iter(())
        self.order = []

    def _next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:  # a new epoch: its order goes to the device at once
            batches = list(self.loader)
            on_device = torch.cat(batches).to(self.device).split([len(b) for b in batches])
            self.batches = iter(zip(batches, on_device))
            return next(self.batches)

    def run(self, steps):
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fastest conv kernels
        losses = []
        # As fit() does; a compiled model picks its own layouts (and hooks added per block would recompile it).
        layout = contextlib.nullcontext() if self.step_model is not self.model else in_layout(self.model, self.layout)
        with layout:
            for _ in range(steps):
                on_cpu, batch = self._next_batch()
                self.order.append(on_cpu.tolist())  # no GPU sync: the CPU copy of the indices
                loss, _ = train_step(
                    self.step_model,
                    self.optimizer,
                    self.scaler,
                    self.inputs[batch],
                    self.targets[batch],
                    self.amp_dtype,
                    self.layout,
                )
                losses.append(loss)
        return torch.stack(losses).tolist()


# ---------------------------------------------------------------- measuring


def alternate(loops, steps, block, device):
    """Run every loop for `steps` steps, interleaved in blocks (ABBA order); returns per-loop timings.

    The first FIRST_STEPS steps of each loop are timed on their own and left out of steps/s.
    """
    memory = PeakMemory(device)
    record = {
        loop.name: {
            "losses": [],
            "block_seconds": [],
            "block_cpu_seconds": [],
            "block_steps": [],
            "peak_mib": 0.0,
            "first_steps_seconds": None,
        }
        for loop in loops
    }
    sizes = [min(FIRST_STEPS, steps)]
    while sum(sizes) < steps:
        sizes.append(min(block, steps - sum(sizes)))
    for round_index, size in enumerate(sizes):
        order = loops if round_index % 2 == 0 else loops[::-1]
        for loop in order:
            entry = record[loop.name]
            sync(device)
            memory.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            entry["losses"] += loop.run(size)  # ends with a sync
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
        entry["peak_memory_kind"] = (
            "torch.cuda.max_memory_allocated"
            if device.type == "cuda"
            else "peak RSS (VmHWM) " + ("during its blocks" if memory.resettable else "since process start")
        )
        entry["seconds_for_1600_steps"] = 1600 * entry["seconds_per_step"] if entry["seconds_per_step"] else None
    return record


def ratio(baseline_seconds, seconds):
    """How many times faster: baseline seconds per step / seconds per step (None without steady steps)."""
    return baseline_seconds / seconds if baseline_seconds and seconds else None


def loss_agreement(reference, other):
    """How closely two loss curves of the same run agree, step by step."""
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    tail = max(1, n // 5)
    correlation = float(np.corrcoef(a, b)[0, 1]) if n > 2 and a.std() > 0 and b.std() > 0 else None
    return {
        "steps": n,
        "first_step_abs_diff": float(abs(a[0] - b[0])),
        "max_abs_diff": float(np.max(np.abs(a - b))),
        "mean_abs_diff": float(np.mean(np.abs(a - b))),
        "correlation": correlation,
        "last_fifth_mean": [float(a[-tail:].mean()), float(b[-tail:].mean())],
        "last_fifth_relative_diff": float(abs(a[-tail:].mean() - b[-tail:].mean()) / a[-tail:].mean()),
    }


def compare(args, device, precision, layout="channels_last"):
    """The side-by-side run of the course's loop and the project's loop(s); returns the results dict.

    `precision` and `layout` are the project loop's (the ones fit() chooses); project-fp32 and project-bf16
    force their precision and run in the layout fit() would choose for it.
    """
    images, labels = training_tiles(args.px, args.data)
    model = reference_unet(args)
    loops = []
    for name in args.loops:
        if name == "course":
            loops.append(CourseLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed))
        elif name in LOOPS:
            forced = name.removeprefix("project").lstrip("-")
            chosen = choose_precision_and_layout(model, device, forced).layout if forced else layout
            loops.append(
                ProjectLoop(
                    copy.deepcopy(model),
                    images,
                    labels,
                    device,
                    args.batch,
                    args.seed,
                    forced or precision,
                    chosen,
                    forced=bool(forced),
                )
            )
        else:
            raise ValueError(f"unknown loop {name!r}; choose from course, {', '.join(LOOPS)}")
    record = alternate(loops, args.steps, args.block, device)
    baseline = record[loops[0].name]
    for loop in loops[1:]:
        entry = record[loop.name]
        entry["speedup_vs_" + loops[0].name] = ratio(baseline["seconds_per_step"], entry["seconds_per_step"])
        entry["cpu_time_speedup_vs_" + loops[0].name] = ratio(
            baseline["cpu_seconds_per_step"], entry["cpu_seconds_per_step"]
        )
        entry["loss_agreement_vs_" + loops[0].name] = loss_agreement(baseline["losses"], entry["losses"])
        entry["same_batches_as_" + loops[0].name] = loop.order == loops[0].order
        entry["layout"] = loop.layout
    for entry in record.values():
        entry["losses"] = [round(value, 6) for value in entry["losses"]]
    return {"tiles": len(images), "loops": record}


def compare_compile(args, device, precision, layout="channels_last"):
    """Eager against torch.compile'd project loop, alternating: compile time and steady steps/s."""
    images, labels = training_tiles(args.px, args.data)
    model = reference_unet(args)
    eager = ProjectLoop(copy.deepcopy(model), images, labels, device, args.batch, args.seed, precision, layout)
    compiled = ProjectLoop(
        copy.deepcopy(model), images, labels, device, args.batch, args.seed, precision, layout, compile_model=True
    )
    record = alternate([eager, compiled], args.compile_steps, args.block, device)
    entry = record[compiled.name]
    entry["speedup_vs_project"] = ratio(record["project"]["seconds_per_step"], entry["seconds_per_step"])
    entry["compile_overhead_seconds"] = entry["first_steps_seconds"] - record["project"]["first_steps_seconds"]
    gain_per_step = (record["project"]["seconds_per_step"] or 0) - (entry["seconds_per_step"] or 0)
    entry["break_even_steps"] = entry["compile_overhead_seconds"] / gain_per_step if gain_per_step > 0 else None
    entry["loss_agreement_vs_project"] = loss_agreement(record["project"]["losses"], entry["losses"])
    for value in record.values():
        value["losses"] = [round(loss, 6) for loss in value["losses"]]
    return {"steps": args.compile_steps, "loops": record}
