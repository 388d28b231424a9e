"""Training speed: the original course's loop against the project's loop, side by side in one process.

    python -m benchmarks.training_speed --width 16 --px 256 --steps 60             # CPU, about 3 minutes
    python -m benchmarks.training_speed --width 64 --px 256 --steps 12 --block 2   # CPU, about 3 minutes
    python -m benchmarks.training_speed --device cuda --width 64 --px 512 --steps 200 --block 20 --compile

Both loops train the same model (the reference U-Net, the same initial weights) on the same batches
(batch 4 of px x px tiles of ISBI slices 0-24, the same shuffled order), in blocks of --block steps:
course, project, project, course, course, ... (ABBA, so a drift in machine load hits both alike).

- course: the original assignment's loop. float32, a torch DataLoader (shuffle=True) over CPU tensors,
  `.to(device)` on every batch, default Adam, labels cropped once up front, default memory layout.
- project: lesson.training's loop (make_optimizer, train_step): data preloaded on the device, the
  precision and memory layout fit() would choose (lesson.speed.choose_precision_and_layout: on CPU fp32 or
  bf16, NCHW or channels_last inputs, weights and gradients, by a short measurement, cached per machine;
  UNET_PRECISION and UNET_LAYOUT override it), fused Adam, cudnn.benchmark on GPU.
- project-fp32, project-bf16 (with --loops): the project's loop in that precision whatever the choice (in
  the layout fit() would choose for it), to show what the choice brings.

It prints steps/s of each loop, their ratio, peak memory (the process's peak RSS during that loop's
blocks on CPU; torch.cuda.max_memory_allocated on GPU) and how well the two loss curves agree, and writes
it all to JSON (benchmarks/results/<device>-w<width>-px<px>.json unless --out). Optional sweeps:
--malloc runs the whole comparison again in one subprocess per allocator setting (glibc variables and
LD_PRELOAD must be set before a process starts), --compile times torch.compile against eager, --convolutions
times the conv layers alone in both settings (what reduced precision brings to the bulk of the work).

The parts: the loops compared (``benchmarks/loops.py``), the precision choice (``benchmarks/precision.py``)
and the machine record (``benchmarks/machine.py``); this module is the command line and the runs in fresh
processes (allocator settings, each loop's memory alone).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import torch

from benchmarks.loops import FIRST_STEPS, compare, compare_compile, reference_unet
from benchmarks.machine import ALLOCATOR_VARIABLES, ALLOCATORS, describe, device_tag, machine
from benchmarks.precision import convolutions_alone

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------- fresh processes


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
        for name in settings if round_index % 2 == 0 else settings[::-1]:
            preload = ALLOCATORS[name].get("LD_PRELOAD")
            if preload and not pathlib.Path(preload).exists():
                runs[name].append({"skipped": f"{preload} not found"})
                continue
            with tempfile.TemporaryDirectory() as folder:
                out = pathlib.Path(folder) / "result.json"
                command = [
                    sys.executable,
                    "-m",
                    "benchmarks.training_speed",
                    *_child_argv(args),
                    "--out",
                    str(out),
                    "--quiet",
                ]
                subprocess.run(
                    command,
                    env={**base_env, **ALLOCATORS[name]},
                    check=True,
                    cwd=pathlib.Path(__file__).resolve().parents[1],
                )
                result = json.loads(out.read_text())
            runs[name].append(
                {
                    loop: {key: value[key] for key in ("steps_per_s", "seconds_per_step", "peak_memory_mib")}
                    for loop, value in result["comparison"]["loops"].items()
                }
            )
    return {
        "settings": {name: ALLOCATORS[name] for name in settings},
        "rounds": args.malloc_rounds,
        "runs": runs,
        "summary": _allocator_summary(runs),
    }


def _allocator_summary(runs):
    """Mean steps/s and peak memory per setting and loop, and the speed relative to glibc's defaults."""
    summary = {}
    for name, results in runs.items():
        ok = [r for r in results if "skipped" not in r]
        if not ok:
            continue
        summary[name] = {
            loop: {
                "steps_per_s": float(np.mean([r[loop]["steps_per_s"] for r in ok])),
                "peak_memory_mib": float(np.max([r[loop]["peak_memory_mib"] for r in ok])),
            }
            for loop in ok[0]
        }
    base = summary.get("glibc-default")
    if base:
        for loops in summary.values():
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
            subprocess.run(
                [sys.executable, "-m", "benchmarks.training_speed", *child, "--out", str(out), "--quiet"],
                check=True,
                cwd=pathlib.Path(__file__).resolve().parents[1],
            )
            peaks[name] = json.loads(out.read_text())["comparison"]["loops"][name]["peak_memory_mib"]
    return {
        "peak_memory_mib": peaks,
        "kind": "torch.cuda.max_memory_allocated" if args.device == "cuda" else "peak RSS of the process",
    }


def _child_argv(args, loops=None, steps=None):
    """The comparison's own settings as a command line, for the per-allocator child processes."""
    argv = [
        "--width",
        args.width,
        "--px",
        args.px,
        "--steps",
        steps or args.steps,
        "--block",
        args.block,
        "--batch",
        args.batch,
        "--seed",
        args.seed,
        "--device",
        args.device,
        "--data",
        args.data,
        "--loops",
        ",".join(loops or args.loops),
    ]
    if args.threads:
        argv += ["--threads", args.threads]
    return [str(token) for token in argv]


# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training_speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--width", type=int, default=16, help="hidden_channels of the U-Net (course: 64)")
    parser.add_argument("--px", type=int, default=256, help="side of the training tiles (course: 512)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps of each loop")
    parser.add_argument("--block", type=int, default=5, help="steps per block before switching loops")
    parser.add_argument("--batch", type=int, default=4, help="batch size (course: 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default="isbi", choices=("isbi", "synthetic"))
    parser.add_argument(
        "--loops",
        default="course,project",
        type=lambda text: text.split(","),
        help="comma-separated: course, project (the precision fit() chooses), project-fp32, "
        "project-bf16 (the first is the baseline)",
    )
    parser.add_argument(
        "--malloc",
        nargs="*",
        default=None,
        metavar="SETTING",
        help=f"also run the comparison once per allocator setting in a fresh process "
        f"(no names: all of {', '.join(ALLOCATORS)})",
    )
    parser.add_argument("--malloc-rounds", type=int, default=2, help="processes per allocator setting")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile against eager")
    parser.add_argument("--compile-steps", type=int, default=20, help="steps of each loop for --compile")
    parser.add_argument("--convolutions", action="store_true", help="also time the convolutions alone in both settings")
    parser.add_argument(
        "--solo-memory",
        action="store_true",
        help="also measure each loop's peak memory alone, in a fresh process per loop",
    )
    parser.add_argument(
        "--out", default=None, help="JSON path (default benchmarks/results/<device>-w<W>-px<P>[-t<threads>].json)"
    )
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
    precision, layout = info["precision"], info["layout"]
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    result = {
        "benchmark": "training_speed",
        "command": "python -m benchmarks.training_speed " + " ".join(argv),
        "machine": info,
        "settings": {key: value for key, value in vars(args).items() if key != "quiet"},
        "comparison": compare(args, device, precision, layout),
    }
    if args.compile:
        result["compile"] = compare_compile(args, device, precision, layout)
    if args.convolutions:
        course_step = result["comparison"]["loops"].get("course", {}).get("seconds_per_step")
        result["convolutions"] = convolutions_alone(args, device, precision, course_step)
    if args.solo_memory:
        result["solo_memory"] = solo_memory(args)
    if args.malloc:
        result["allocators"] = sweep_allocators(args)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_1min"] = {
        "start": load_at_start[0],
        "end": os.getloadavg()[0],
        "note": "other processes on the machine; the loops alternate so both see it",
    }
    threads = f"-t{args.threads}" if args.threads else ""
    out = (
        pathlib.Path(args.out) if args.out else RESULTS / f"{device_tag(info)}-w{args.width}-px{args.px}{threads}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    if not args.quiet:
        print(report(result))
        print(f"wrote {out}")
    return result


def report(result):
    """A short human-readable summary of a results dict."""
    info, settings = result["machine"], result["settings"]
    lines = [
        f"{describe(info)}; width {settings['width']}, {settings['px']} px, batch "
        f"{settings['batch']}, {settings['steps']} steps each in blocks of {settings['block']}; "
        f"load average {result['load_average_1min']['start']:.1f} -> {result['load_average_1min']['end']:.1f}"
    ]
    sections = [("", result["comparison"]["loops"])]
    if "compile" in result:
        sections.append(("torch.compile: ", result["compile"]["loops"]))
    for title, loops in sections:
        for name, entry in loops.items():
            speed = (
                f"{entry['steps_per_s']:.3f} steps/s ({entry['seconds_per_step']:.3f} s/step)"
                if entry["steps_per_s"]
                else "no steady steps"
            )
            line = (
                f"  {title}{name:<18} {speed}, first {FIRST_STEPS} steps {entry['first_steps_seconds']:.1f} s, "
                f"peak {entry['peak_memory_mib']:.0f} MiB"
            )
            for key in (k for k in entry if k.startswith("speedup_vs_") and entry[k]):
                line += f", {entry[key]:.2f}x vs {key[len('speedup_vs_') :]}"
                cpu_key = "cpu_time_" + key
                if entry.get(cpu_key):
                    line += f" ({entry[cpu_key]:.2f}x in CPU time)"
            for key in (k for k in entry if k.startswith("loss_agreement_vs_")):
                agreement = entry[key]
                corr = agreement["correlation"]
                line += (
                    f"; loss max |diff| {agreement['max_abs_diff']:.4f}, mean {agreement['mean_abs_diff']:.4f}, "
                    f"corr {corr:.4f}"
                    if corr is not None
                    else f"; loss max |diff| {agreement['max_abs_diff']:.4f}"
                )
            if "compile_overhead_seconds" in entry:
                line += f"; compile overhead {entry['compile_overhead_seconds']:.1f} s"
            lines.append(line)
    for name, loops in result.get("allocators", {}).get("summary", {}).items():
        lines.append(
            "  allocator "
            + name
            + ": "
            + ", ".join(
                f"{loop} {value['steps_per_s']:.3f} steps/s ({value.get('speed_vs_glibc_default', 1):.2f}x), "
                f"peak {value['peak_memory_mib']:.0f} MiB"
                for loop, value in loops.items()
            )
        )
    if "convolutions" in result:
        conv = result["convolutions"]
        share = f"{conv['share_of_course_step']:.0%}" if conv.get("share_of_course_step") else "n/a"
        lines.append(
            f"  convolutions alone ({conv['layers']} layers, forward and backward): course "
            f"{conv['course_seconds_per_step']:.3f} s ({share} of its step), project "
            f"{conv['project_seconds_per_step']:.3f} s, {conv['speedup']:.2f}x"
        )
    if "solo_memory" in result:
        lines.append(
            "  peak memory of each loop alone: "
            + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in result["solo_memory"]["peak_memory_mib"].items())
        )
    return "\n".join(lines)


if __name__ == "__main__":
    run()
