"""Training and whole-slice prediction for the U-Net.

Shapes: a volume is a uint8 array (S, H, W); the network sees float tensors (N, 1, H, W) in [0, 1]
and returns logits (N, 1, H - 139, W - 139). The target is 1.0 for cell interior (label 255) and
0.0 for membrane (label 0), cropped to the centre of the input so that it lines up with the output.
"""

import os
import pathlib
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lesson.config import TrainingConfig
from lesson.speed import AUTOCAST_DTYPES, MEMORY_FORMATS, choose_precision_and_layout, in_layout, to_layout


def pick_device(requested: str = "auto") -> torch.device:
    """The GPU when there is one ('auto'), else the CPU; 'cuda' without a GPU is an error."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "UNET_DEVICE=cuda, but PyTorch sees no GPU. "
            "In Colab: Runtime > Change runtime type > GPU, then run all cells again."
        )
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def to_tensors(images: np.ndarray, labels: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 volumes (S, H, W) -> inputs (S, 1, H, W) in [0, 1] and interior targets, both on `device`."""
    inputs = torch.as_tensor(images, dtype=torch.float32).div(255).unsqueeze(1)
    targets = torch.as_tensor(labels == 255, dtype=torch.float32).unsqueeze(1)
    return inputs.to(device), targets.to(device)


def center_crop(tensor: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop dims 2 and 3 of an NCHW tensor around its centre (offset (H - height) // 2)."""
    top = (tensor.shape[2] - height) // 2
    left = (tensor.shape[3] - width) // 2
    return tensor[:, :, top : top + height, left : left + width]


def random_crops(
    inputs: torch.Tensor, targets: torch.Tensor, size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random size x size window of each input and its target: (N, 1, size, size) each."""
    height, width = inputs.shape[2:]
    tops = torch.randint(0, height - size + 1, (len(inputs),), generator=generator).tolist()
    lefts = torch.randint(0, width - size + 1, (len(inputs),), generator=generator).tolist()
    windows = [(slice(None), slice(top, top + size), slice(left, left + size)) for top, left in zip(tops, lefts)]
    return (torch.stack([x[w] for x, w in zip(inputs, windows)]), torch.stack([y[w] for y, w in zip(targets, windows)]))


def _dihedral(tensor, turn):
    """One of the 8 flips and 90-degree turns of the last two dims (turn 0-7; 0 leaves it as it is)."""
    if turn & 1:
        tensor = tensor.flip(-1)
    if turn & 2:
        tensor = tensor.flip(-2)
    if turn & 4:
        tensor = tensor.transpose(-2, -1)
    return tensor


def _undo_dihedral(tensor, turn):
    """The inverse of _dihedral(tensor, turn)."""
    if turn & 4:
        tensor = tensor.transpose(-2, -1)
    if turn & 2:
        tensor = tensor.flip(-2)
    if turn & 1:
        tensor = tensor.flip(-1)
    return tensor


def augment(
    inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator, elastic: bool = True, sigma: float = 10.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The U-Net paper's augmentation, identical for each slice and its target: (N, 1, H, W) each.

    Each slice gets a random one of its 8 flips and 90-degree turns (only flips if H != W). With
    `elastic`, it is then warped smoothly, as in the paper: random shifts on a coarse 3 x 3 grid
    (Gaussian, `sigma` pixels), interpolated bicubically to every pixel; the image is resampled
    bilinearly, the target by nearest neighbour (it stays 0 or 1), mirrored at the borders.
    """
    count, _, height, width = inputs.shape
    turns = torch.randint(0, 8 if height == width else 4, (count,), generator=generator).tolist()
    inputs = torch.stack([_dihedral(x, turn) for x, turn in zip(inputs, turns)])
    targets = torch.stack([_dihedral(y, turn) for y, turn in zip(targets, turns)])
    if not elastic:
        return inputs, targets
    coarse = torch.randn((count, 2, 3, 3), generator=generator) * sigma  # shifts in pixels
    shifts = F.interpolate(
        coarse.to(inputs.device, non_blocking=True), size=(height, width), mode="bicubic", align_corners=True
    )
    rows, cols = torch.meshgrid(
        torch.linspace(-1, 1, height, device=inputs.device),
        torch.linspace(-1, 1, width, device=inputs.device),
        indexing="ij",
    )
    grid = torch.stack([cols + shifts[:, 0] * 2 / (width - 1), rows + shifts[:, 1] * 2 / (height - 1)], dim=-1)
    warp = dict(grid=grid, padding_mode="reflection", align_corners=True)
    return F.grid_sample(inputs, mode="bilinear", **warp), F.grid_sample(targets, mode="nearest", **warp)


def checkpoint_path(config: "TrainingConfig") -> pathlib.Path:
    """Where this run's checkpoint lives: one file per setting that changes the run.

    UNET_CHECKPOINT_DIR if set; else Google Drive when it is mounted in Colab (so a disconnect
    loses at most `checkpoint_every` epochs); else ./checkpoints.
    """
    drive = pathlib.Path("/content/drive/MyDrive")
    folder = config.checkpoint_dir or (drive / "unet_isbi2012_checkpoints" if drive.is_dir() else "checkpoints")
    augmented = "" if config.augment == "none" else f"-{config.augment}"
    name = (
        f"unet-w{config.hidden_channels}-px{config.input_size}-b{config.batch_size}"
        f"-lr{config.learning_rate:g}{augmented}-seed{config.seed}.pt"
    )
    return pathlib.Path(folder) / name


def save_checkpoint(path: pathlib.Path, state: dict) -> None:
    """Write atomically (a temporary file, then a rename), so a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


# The U-Net's convolutions in the order the specification's UNet builds them (upfeature, contract1..4,
# expand1..4, downfeature; each block's convolutions in turn).
SPEC_CONVS = (
    "upfeature.conv",
    *(f"contract{i}.conv{j}" for i in range(1, 5) for j in (1, 2)),
    *(f"expand{i}.conv{j}" for i in range(1, 5) for j in (1, 2, 3)),
    "downfeature.conv",
)


def draw_weights(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Draw the U-Net's starting weights again from `seed`, convolution by convolution in the specification's order
    (SPEC_CONVS), as PyTorch drew them when the specification's UNet was built after ``torch.manual_seed(seed)``.

    A short run's result depends on its starting weights, and those depend on the order ``__init__`` built the
    layers in. Drawn here in one order, every U-Net that matches the specification starts exactly as the course's
    does, and one that computes as the course's does trains exactly as it does. A convolution the model does not have
    is skipped. Returns the model.
    """
    torch.manual_seed(seed)
    for name in SPEC_CONVS:
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            continue
        if isinstance(layer, torch.nn.Conv2d):
            layer.reset_parameters()
    return model


def make_optimizer(model: torch.nn.Module, learning_rate: float) -> torch.optim.Optimizer:
    """Adam (the course's optimizer) with all weights updated in one fused kernel, on GPU and CPU alike.

    The default Adam loops over the weight tensors one by one; fused gives the same update, and on
    2 CPU cores it is 20x quicker for the full-width U-Net (1.3 s -> 0.07 s per step).
    """
    return torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    x: torch.Tensor,
    y: torch.Tensor,
    amp_dtype: torch.dtype | None,
    layout: str = "channels_last",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch, with the model and the batch already on the device.

    Inputs:
    - x: inputs (N, 1, H, W) in [0, 1]; y: interior targets (N, 1, H, W), 1.0 = interior.
    - amp_dtype: the autocast dtype, AUTOCAST_DTYPES[precision] (None for float32).
    - layout: "channels_last" (NHWC) or "contiguous" (NCHW), the layout of the model's weights.
    Returns the loss (a 0-d tensor left on the device, so the GPU never waits for it) and the
    logits (N, 1, H - 139, W - 139).
    """
    x = to_layout(x, layout)  # the layout of the weights
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = model(x)  # convolutions in bf16 / fp16
    loss = F.binary_cross_entropy_with_logits(logits.float(), center_crop(y, *logits.shape[2:]))
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # float16 needs its loss scaled
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), logits


def fit(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    config: "TrainingConfig",
    checkpoint: pathlib.Path | None = None,
    show_figures: bool = True,
) -> list[float]:
    """Train `model` on uint8 volumes (S, H, W) with the course's recipe; returns the loss of every step.

    Adam (config.learning_rate), BCEWithLogitsLoss against the centre-cropped interior target,
    config.batch_size slices per step in a new random order every epoch, augmented as config.augment
    says, then cropped at random to config.input_size, in the precision and memory layout
    choose_precision_and_layout() picks (printed). With `checkpoint` (a path), the run resumes from
    that file when it exists and saves to it every config.checkpoint_every epochs. With config.device "auto" and no
    GPU, a run estimated
    from its first steps at over 30 minutes stops with TooSlowForTheCPU (check_run_length).
    """
    if config.input_size > min(images.shape[1:]):
        raise ValueError(f"input_size {config.input_size} is larger than the slices, {images.shape[1:]}")
    device = pick_device(config.device)
    settings = choose_precision_and_layout(model, device, config.precision, config.layout)
    print(settings.reason)
    amp_dtype = AUTOCAST_DTYPES[settings.precision]
    model.to(device, memory_format=MEMORY_FORMATS[settings.layout])  # NHWC where it is faster
    inputs, targets = to_tensors(images, labels, device)  # the data lives on the device
    optimizer = make_optimizer(model, config.learning_rate)  # one kernel for all weights
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)  # float16 needs it
    generator = torch.Generator().manual_seed(config.seed)
    losses, first_epoch = [], 0
    if checkpoint is not None and pathlib.Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        losses, first_epoch = state["losses"], state["epoch"]
        print(f"Resuming from {checkpoint} after epoch {first_epoch} (delete that file to start over).")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest conv kernels
    steps_left = (config.epochs - first_epoch) * -(-len(inputs) // config.batch_size)
    step_seconds = []  # of the first steps, for the estimate
    model.train()
    with in_layout(model, settings.layout):  # gradients in NHWC too, if chosen
        for epoch in tqdm(range(first_epoch, config.epochs), initial=first_epoch, total=config.epochs, desc="epochs"):
            step_losses = []
            order = torch.randperm(len(inputs), generator=generator).to(device)  # one copy per epoch, not per step
            for batch in order.split(config.batch_size):
                x, y = inputs[batch], targets[batch]
                if config.augment != "none":  # new views of the 25 slices
                    x, y = augment(x, y, generator, elastic=config.augment == "flips+elastic")
                if config.input_size < min(x.shape[2:]):
                    x, y = random_crops(x, y, config.input_size, generator)
                started = time.perf_counter()
                loss, logits = train_step(model, optimizer, scaler, x, y, amp_dtype, settings.layout)
                step_losses.append(loss)
                if len(step_seconds) < ESTIMATE_STEPS:  # the first steps: is it too long?
                    step_seconds.append(time.perf_counter() - started)
                    check_run_length(config, device, step_seconds, steps_left)
            losses += torch.stack(step_losses).tolist()  # one GPU sync per epoch
            done = epoch + 1
            if checkpoint is not None and (done % config.checkpoint_every == 0 or done == config.epochs):
                save_checkpoint(
                    pathlib.Path(checkpoint),
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "generator": generator.get_state(),
                        "losses": losses,
                        "epoch": done,
                    },
                )
            if show_figures and (done % config.figure_every == 0 or done == config.epochs):
                show_progress(losses, x[0, 0], center_crop(y, *logits.shape[2:])[0, 0], logits[0, 0], done)
    return losses


CPU_RUN_LIMIT_SECONDS = 30 * 60  # with UNET_DEVICE=auto and no GPU, a longer run stops at its start
ESTIMATE_STEPS = 3  # timed steps; the first (allocations, kernel choice) is left out


class TooSlowForTheCPU(RuntimeError):
    """A run that would take far too long on this CPU, stopped after its first steps."""


def check_run_length(
    config: "TrainingConfig", device: torch.device, step_seconds: list[float], steps_left: int
) -> None:
    """Once ESTIMATE_STEPS steps are timed, stop a long run that fell on the CPU by mistake.

    Only with config.device "auto" on a CPU (no GPU was found): the run's length is estimated as
    `steps_left` times the mean of `step_seconds` after the first; past CPU_RUN_LIMIT_SECONDS it
    raises TooSlowForTheCPU with the estimate and what to do. UNET_DEVICE=cpu trains regardless.
    """
    if len(step_seconds) < ESTIMATE_STEPS or config.device != "auto" or device.type != "cpu":
        return
    per_step = sum(step_seconds[1:]) / (len(step_seconds) - 1)
    if per_step * steps_left > CPU_RUN_LIMIT_SECONDS:
        raise TooSlowForTheCPU(too_slow_message(per_step, steps_left))


def too_slow_message(per_step: float, steps: int) -> str:
    """What a student reads when the run would take more than 30 minutes on the CPU."""
    return (
        f"This training run would take about {_duration(per_step * steps)} on this computer's CPU "
        f"({steps:,} steps of about {per_step:.1f} s each), because PyTorch found no GPU. "
        f"In Colab: Runtime > Change runtime type > GPU, then run all cells again. "
        f"To train on the CPU anyway, set UNET_DEVICE=cpu (in a cell above the config cell: "
        f'import os; os.environ["UNET_DEVICE"] = "cpu"), or choose a shorter run with '
        f"fewer UNET_EPOCHS or a smaller UNET_HIDDEN_CHANNELS or UNET_INPUT_SIZE."
    )


def _duration(seconds):
    """'about' a length of time, in words: 4000 -> '1 h 7 min', 2400 -> '40 minutes'."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} minutes"


def show_progress(
    losses: list[float], image: torch.Tensor, target: torch.Tensor, logits: torch.Tensor, epoch: int
) -> None:
    """Loss curve, then one training crop: input (H, W), target and prediction (h, w)."""
    figure, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    axes[0].plot(losses)
    axes[0].set(title=f"training loss (epoch {epoch})", xlabel="step", yscale="log")
    panels = [
        ("input", image),
        ("label (white = interior)", target),
        ("predicted interior probability", torch.sigmoid(logits.float())),
    ]
    for axis, (title, picture) in zip(axes[1:], panels):
        axis.imshow(picture.detach().float().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        axis.set(title=title, xticks=[], yticks=[])
    plt.show()


def output_margin(model: torch.nn.Module, device: torch.device) -> int:
    """How many pixels narrower the output is than the input: 139 for the course's U-Net.

    Measured at 160 px, a multiple of 16, where every max-pooling halves an even size exactly.
    """
    probe = torch.zeros(1, 1, 160, 160, device=device)
    return probe.shape[-1] - model(probe).shape[-1]


@torch.no_grad()
def predict_slices(
    model: torch.nn.Module,
    images: np.ndarray,
    device: torch.device | None = None,
    flips: bool = False,
    precision: str = "auto",
    layout: str = "auto",
) -> np.ndarray:
    """Interior probability for every pixel of whole slices: uint8 (S, H, W) -> float32 (S, H, W).

    Each slice is mirrored at its borders (the U-Net paper's overlap-tile strategy) up to a multiple of 16
    that is at least H + 139, so the valid convolutions return a prediction that covers the whole slice.
    With `flips`, each slice is predicted in its 8 flipped and turned versions, which are turned back and
    averaged (test-time augmentation: 8x the work). `precision` and `layout` as in
    choose_precision_and_layout (whose measurement fit() has usually cached already).
    """
    device = device or next(model.parameters()).device
    settings = choose_precision_and_layout(model, device, precision, layout)
    amp_dtype = AUTOCAST_DTYPES[settings.precision]
    model.eval()
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        margin = output_margin(model, device)
        probabilities = []
        for image in images:
            x = torch.as_tensor(image, dtype=torch.float32, device=device).div(255)
            views = [
                _undo_dihedral(_predict_whole(model, _dihedral(x, turn), margin, settings.layout), turn)
                for turn in (range(8) if flips else [0])
            ]
            probabilities.append(torch.stack(views).mean(0).cpu().numpy())
    model.train()
    return np.stack(probabilities) if probabilities else np.zeros(images.shape, dtype=np.float32)


def _predict_whole(model, image, margin, layout):
    """Interior probability (H, W) of one float slice (H, W), mirrored at its borders so the output covers it."""
    height, width = image.shape
    before = margin // 2  # the offset center_crop uses
    pad_bottom = -(-(height + margin) // 16) * 16 - height - before
    pad_right = -(-(width + margin) // 16) * 16 - width - before
    x = F.pad(image[None, None], (before, pad_right, before, pad_bottom), mode="reflect")
    logits = model(to_layout(x, layout))[0, 0, :height, :width]
    if logits.shape != (height, width):
        raise ValueError(f"the model's output {tuple(logits.shape)} does not cover the {height} x {width} slice")
    return torch.sigmoid(logits.float())
