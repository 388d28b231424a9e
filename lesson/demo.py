"""The main job: train the reference U-Net, evaluate it on the held-out slices and draw the lesson's figures.

    python -m lesson.demo                 # a short CPU-sized run (about 2 minutes on 2 cores)
    python -m lesson.demo --full          # the course's 200-epoch recipe (a GPU job)
    python -m lesson.demo --out images    # refresh the figures of the lesson and README

Data: UNET_DATA_DIR, else downloaded and verified (see data/README.md); the synthetic stand-in when
UNET_DATA_LOADER also names its loader (data/source.py). UNET_* variables override any setting, as in the
notebook. Writes metrics.json, data_example.png, unet_architecture.png and results.png.
"""

import argparse
import json
import os
import pathlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from data.isbi2012 import split_holdout  # noqa: E402
from data.source import load_dataset  # noqa: E402
from lesson.config import SHORT_RUN, env_name, read_config  # noqa: E402
from lesson.metrics import evaluate  # noqa: E402
from lesson.training import fit, pick_device, predict_slices  # noqa: E402
from solutions.reference import load_reference  # noqa: E402

METRICS = ("pixel_accuracy", "dice", "iou", "v_rand", "v_info")


def draw_data_example(images: np.ndarray, labels: np.ndarray, path: pathlib.Path) -> None:
    """A section, its label and a zoom with the membranes outlined."""
    figure, axes = plt.subplots(1, 3, figsize=(13.5, 4.8))
    axes[0].imshow(images[0], cmap="gray")
    axes[0].set_title("ISBI 2012 section 0 (512 x 512, 4 nm pixels)")
    axes[1].imshow(labels[0], cmap="gray")
    axes[1].set_title("label: white = interior, black = membrane")
    axes[2].imshow(images[0][:128, :128], cmap="gray")
    axes[2].contour(labels[0][:128, :128] == 0, levels=[0.5], colors="tab:red", linewidths=0.8)
    axes[2].set_title("top-left 128 x 128, membranes in red")
    for axis in axes:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def draw_architecture(path: pathlib.Path, size: int = 512, hidden: int = 64) -> None:
    """The U: one box per feature map, labelled channels x side, with the skip connections and crops."""
    sides, channels = [size], [hidden]
    for _ in range(4):
        sides.append((sides[-1] - 4) // 2)
        channels.append(channels[-1] * 2)
    figure, axis = plt.subplots(figsize=(12, 6))
    down, up = [], []
    for level, (side, width) in enumerate(zip(sides, channels)):
        down.append((level * 1.1, -level))
        axis.add_patch(plt.Rectangle(down[-1], 0.9, 0.6, color="tab:blue", alpha=0.75))
        axis.text(
            down[-1][0] + 0.45,
            down[-1][1] + 0.3,
            f"{width} x {side}²",
            ha="center",
            va="center",
            color="white",
            fontsize=8,
        )
    side = sides[-1]
    for level in range(3, -1, -1):
        side = 2 * side - 5
        x = 9.9 - level * 1.1
        up.append((x, -level))
        axis.add_patch(plt.Rectangle(up[-1], 0.9, 0.6, color="tab:orange", alpha=0.8))
        axis.text(x + 0.45, -level + 0.3, f"{channels[level]} x {side}²", ha="center", va="center", fontsize=8)
        axis.annotate(
            "",
            xy=(x, -level + 0.45),
            xytext=(down[level][0] + 0.9, -level + 0.45),
            arrowprops=dict(arrowstyle="->", color="gray", linestyle="--"),
        )
        axis.text(
            (x + down[level][0] + 0.9) / 2,
            -level + 0.5,
            f"crop {sides[level]} → {side + 4}",
            ha="center",
            fontsize=8,
            color="gray",
        )
    axis.text(down[0][0] + 0.45, 0.85, f"input 1 x {size}²", ha="center")
    axis.text(up[-1][0] + 0.45, 0.85, f"logits 1 x {side}²", ha="center")
    axis.text(
        5.0,
        -4.6,
        "blue: ContractingBlock (2 valid 3x3 convs + ReLU, 2x2 max-pool)   "
        "orange: ExpandingBlock (upsample, 2x2 conv, concat cropped skip, 2 valid 3x3 convs + ReLU)",
        ha="center",
        fontsize=8,
    )
    axis.set(xlim=(-0.3, 11.2), ylim=(-4.9, 1.2), title="The course's U-Net (valid convolutions): 512 → 373")
    axis.axis("off")
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)


def draw_results(
    images: np.ndarray, labels: np.ndarray, probability: np.ndarray, scores: dict[str, float], path: pathlib.Path
) -> None:
    """Held-out section: input, label, predicted interior probability, and the scores."""
    figure, axes = plt.subplots(1, 3, figsize=(13.5, 4.8))
    panels = [
        (images[0], "held-out section (not trained on)"),
        (labels[0], "label"),
        (probability[0], "U-Net: interior probability"),
    ]
    for axis, (picture, title) in zip(axes, panels):
        axis.imshow(picture, cmap="gray")
        axis.set_title(title)
        axis.axis("off")
    figure.suptitle("  ".join(f"{name} {scores[name]:.3f}" for name in METRICS), y=1.0)
    figure.tight_layout()
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)


def run(out: str | pathlib.Path, full: bool = False) -> dict:
    """Train, evaluate and draw; returns the metrics written to out/metrics.json."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = read_config() if full else read_config(**{**SHORT_RUN, **_environment_overrides()})
    images, labels, _ = load_dataset()
    fit_images, holdout_images = split_holdout(images, config.holdout_slices)
    fit_labels, holdout_labels = split_holdout(labels, config.holdout_slices)
    torch.manual_seed(config.seed)
    model = load_reference().UNet(1, 1, hidden_channels=config.hidden_channels)
    started = time.perf_counter()
    losses = fit(model, fit_images, fit_labels, config, show_figures=False)
    seconds = time.perf_counter() - started
    probability = predict_slices(model, holdout_images)
    scores = evaluate(probability, holdout_labels)
    baseline = evaluate(np.ones(holdout_labels.shape), holdout_labels)
    result = {
        "config": vars(config),
        "device": str(pick_device(config.device)),
        "train_seconds": round(seconds, 1),
        "steps": len(losses),
        "first_loss": losses[0],
        "last_epoch_loss": float(np.mean(losses[-7:])),
        "holdout": scores,
        "all_interior": baseline,
    }
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    draw_data_example(images, labels, out / "data_example.png")
    draw_architecture(out / "unet_architecture.png")
    draw_results(holdout_images, holdout_labels, probability, scores, out / "results.png")
    return result


def _environment_overrides():
    """The settings whose UNET_* variable is set: they win over the short run's."""
    config = read_config()
    return {name: value for name, value in vars(config).items() if env_name(name) in os.environ}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lesson.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/demo", help="folder for metrics.json and the figures")
    parser.add_argument("--full", action="store_true", help="the course's full recipe instead of the short run")
    args = parser.parse_args(argv)
    result = run(args.out, full=args.full)
    print(f"trained {result['steps']} steps in {result['train_seconds']} s on {result['device']}")
    print(f"{'held-out metric':<16}{'U-Net':>8}{'all interior':>14}")
    for name in METRICS:
        print(f"{name:<16}{result['holdout'][name]:>8.4f}{result['all_interior'][name]:>14.4f}")
    print(f"wrote {args.out}/metrics.json and figures")


if __name__ == "__main__":
    main()
