"""Training settings: the course's recipe by default, overridable through UNET_* environment variables.

The defaults are the real run (200 epochs of the full-width U-Net on whole 512 x 512 slices, about
10 minutes on a Colab GPU). Tests and quick grading shorten it without editing the notebook, e.g.
``UNET_EPOCHS=20 UNET_HIDDEN_CHANNELS=16 UNET_INPUT_SIZE=256``.
"""

import dataclasses
import os
import pathlib
import platform
from collections.abc import Mapping

ENV_PREFIX = "UNET_"
AUGMENTATIONS = ("none", "flips", "flips+elastic")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LAYOUTS = ("auto", "contiguous", "channels_last")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# A short run for tests and CPU demos (lesson/demo.py): about a minute on 2 CPU cores, and it visibly learns.
SHORT_RUN = {
    "epochs": 40,
    "learning_rate": 3e-3,
    "hidden_channels": 16,
    "input_size": 256,
    "figure_every": 20,
    "test_slices": 2,
}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """One training run's settings; ``read_config()`` builds it from the environment.

    epochs: passes over the training slices (the course's recipe: 200).
    batch_size: slices per optimizer step (4).
    learning_rate: Adam's step size (0.0002).
    hidden_channels: width of the U-Net's first block (64; 16 trains 16x cheaper).
    input_size: side of the square crop fed to the network. 512 is a whole slice and gives a
        373 x 373 prediction; smaller crops are taken at random positions each step.
    seed: seeds torch, so the same settings give the same run.
    checkpoint_every: save a checkpoint every this many epochs (a Colab disconnect loses fewer).
    figure_every: show the loss curve and a prediction every this many epochs.
    holdout_slices: the last this many training slices are held out for evaluation (5: slices 25-29).
    test_slices: how many slices of test-volume get a prediction at the end (30: all of them).
    device: "auto" (the GPU when there is one), "cuda" or "cpu". With "auto" and no GPU, a run
        estimated at over 30 minutes stops at its start and says how to get a GPU; "cpu" insists.
    precision: "auto" (on a GPU: bf16 where it is native, else fp16 with loss scaling; on a CPU:
        fp32 or bf16, whichever a one-second measurement at the start finds faster), or "fp32",
        "bf16", "fp16" to insist.
    layout: the memory layout of the weights and activations: "auto" (on a GPU channels_last, NHWC; on a
        CPU whichever of contiguous (NCHW) and channels_last the same measurement finds faster), or
        "contiguous", "channels_last" to insist.
    augment: "none"; "flips" (each training slice randomly flipped and turned by 90 degrees, the
        same for its label); "flips+elastic" (also the U-Net paper's elastic deformation).
    test_time_flips: predict each held-out or test slice in its 8 flipped and turned versions and
        average them (8x slower prediction).
    checkpoint_dir: where checkpoints go; "" means Google Drive when it is mounted in Colab,
        else ./checkpoints.
    """

    epochs: int = 200
    batch_size: int = 4
    learning_rate: float = 2e-4
    hidden_channels: int = 64
    input_size: int = 512
    seed: int = 0
    checkpoint_every: int = 10
    figure_every: int = 20
    holdout_slices: int = 5
    test_slices: int = 30
    device: str = "auto"
    precision: str = "auto"
    layout: str = "auto"
    augment: str = "none"
    test_time_flips: bool = False
    checkpoint_dir: str = ""

    def __post_init__(self):
        for name in (
            "epochs",
            "batch_size",
            "hidden_channels",
            "checkpoint_every",
            "figure_every",
            "holdout_slices",
            "test_slices",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{_label(name)} must be at least 1, got {getattr(self, name)}")
        if self.input_size < 140:
            raise ValueError(
                f"{_label('input_size')} must be at least 140 (this U-Net's output is input_size - 139 pixels wide), "
                f"got {self.input_size}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"{_label('learning_rate')} must be positive, got {self.learning_rate}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"{_label('device')} must be 'auto', 'cuda' or 'cpu', got {self.device!r}")
        for name, allowed in (("precision", PRECISIONS), ("layout", LAYOUTS), ("augment", AUGMENTATIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{_label(name)} must be one of {', '.join(map(repr, allowed))}, got {getattr(self, name)!r}"
                )


def env_name(field_name: str) -> str:
    """The environment variable that overrides a setting: 'epochs' -> 'UNET_EPOCHS'."""
    return ENV_PREFIX + field_name.upper()


def environment_for(settings: Mapping[str, object]) -> dict[str, str]:
    """The UNET_* variables that select `settings`: {'epochs': 40} -> {'UNET_EPOCHS': '40'}."""
    return {env_name(name): str(value) for name, value in settings.items()}


def _label(field_name):
    return f"{field_name} ({env_name(field_name)})"


def read_config(environ: Mapping[str, str] | None = None, **overrides: object) -> TrainingConfig:
    """Build a TrainingConfig from the defaults, then UNET_* variables, then keyword overrides.

    Args:
        environ: a mapping of environment variables (default: os.environ).
        **overrides: settings that win over both, e.g. read_config(epochs=1).
    Raises:
        ValueError: a variable that is not a number of the right type, or a value out of range;
            the message names the variable and the value that came back.
    """
    environ = os.environ if environ is None else environ
    settings = {}
    for field in dataclasses.fields(TrainingConfig):
        raw = environ.get(env_name(field.name))
        if raw is None or raw.strip() == "":
            continue
        settings[field.name] = _parse(field, raw.strip())
    settings.update(overrides)
    return TrainingConfig(**settings)


def _parse(field, raw):
    kind = type(field.default)
    if kind is bool:  # bool("0") would be True
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise ValueError(
            f"{env_name(field.name)}={raw!r} is not a valid bool: use 1 or 0 (default {int(field.default)})"
        )
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"{env_name(field.name)}={raw!r} is not a valid {kind.__name__} (default {field.default!r})"
        ) from None


def cache_folder() -> pathlib.Path:
    """Where measurements of this machine are kept: $XDG_CACHE_HOME/unet-isbi2012, else ~/.cache/unet-isbi2012
    (expanduser never raises, unlike Path.home)."""
    return pathlib.Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "unet-isbi2012"


def cpu_model() -> str:
    """The CPU's model name, e.g. 'AMD EPYC 9654 96-Core Processor' (Linux), else platform's best guess."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
