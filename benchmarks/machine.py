"""The machine record of a benchmark: what ran it (device, CPU model and its reduced-precision features,
threads, versions, allocator settings, the precision fit() chooses there and why) and the peak memory of a block.

Every benchmark's JSON carries ``machine(...)`` so that its numbers can be read against the hardware;
``describe`` is its one line in a report, ``device_tag`` a file-name-safe name of the device.
"""

import os
import pathlib
import platform
import re
import resource

import torch

from lesson.config import read_config
from lesson.speed import choose_precision_and_layout

# Allocator settings for --malloc; each runs in a fresh process. "glibc-tuned": never give memory back
# to the OS and never mmap large blocks, so the big activation buffers are reused instead of re-faulted.
ALLOCATORS = {
    "glibc-default": {},
    "glibc-tuned": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736", "MALLOC_TOP_PAD_": "1073741824"},
    "jemalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"},
    "tcmalloc": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"},
}
ALLOCATOR_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD")


def machine(device, model=None, precision=None):
    """What ran it: device name, CPU model and its bf16 / AMX flags, threads, torch version, allocator
    variables, and with `model`, the precision and layout fit() chooses for it there and why (`precision`,
    as UNET_PRECISION, defaults to the environment's; UNET_LAYOUT is the environment's)."""
    cpu_model = platform.processor()
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
        cpu_model = found.group(1) if found else cpu_model
    except OSError:
        pass
    info = {
        "device": device.type,
        "device_name": cpu_model,
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "allocator_env": {name: os.environ[name] for name in ALLOCATOR_VARIABLES if name in os.environ},
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    info["cpu_flags"] = cpu_flags()
    if model is not None:
        config = read_config()
        chosen = choose_precision_and_layout(model, device, precision or config.precision, config.layout)
        info["precision"], info["layout"], info["precision_reason"] = chosen
    return info


def describe(info):
    """One line for reports: 'AMD EPYC (cpu, 2 threads, torch 2.14.1, precision bf16: measured ...)'."""
    precision = f", {info['precision_reason']}" if info.get("precision_reason") else ""
    return (
        f"{info['device_name']} ({info['device']}, {info['torch_threads']} threads, torch {info['torch']}{precision})"
    )


def cpu_flags():
    """The CPU's reduced-precision features, as torch sees them and as /proc/cpuinfo lists them."""
    try:
        listed = set(re.search(r"^flags\s*:(.*)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M).group(1).split())
    except (OSError, AttributeError):
        listed = set()
    return {
        "avx512_bf16": bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()),
        "amx_tile": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
        "cpuinfo": sorted(listed & {"avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16"}),
    }


def device_tag(info):
    """A file-name-safe short name: 'cpu' or the GPU's name, e.g. 'nvidia-h100-80gb-hbm3'."""
    if info["device"] == "cpu":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", info["device_name"].lower()).strip("-")


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


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
