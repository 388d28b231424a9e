"""The training loop and whole-slice prediction, on a tiny U-Net and small synthetic volumes."""

import contextlib

import numpy as np
import pytest
import torch

from data.synthetic import make_em_volume
from lesson import training
from lesson.config import read_config
from lesson.speed import channels_last, channels_last_gradients
from lesson.training import (
    ESTIMATE_STEPS,
    TooSlowForTheCPU,
    _dihedral,
    _undo_dihedral,
    augment,
    center_crop,
    check_run_length,
    checkpoint_path,
    fit,
    output_margin,
    pick_device,
    predict_slices,
    random_crops,
    save_checkpoint,
    to_tensors,
    too_slow_message,
)
from solutions.reference import load_reference

REFERENCE = load_reference()


@pytest.fixture(scope="module")
def volumes():
    return make_em_volume(n_slices=6, size=160, seed=3)


def tiny_config(**settings):
    base = dict(epochs=2, hidden_channels=2, input_size=160, batch_size=4, device="cpu", learning_rate=3e-3)
    return read_config({}, **{**base, **settings})


def tiny_model():
    torch.manual_seed(0)
    return REFERENCE.UNet(1, 1, hidden_channels=2)


def test_to_tensors_scales_inputs_and_marks_interior_as_one():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    labels = np.array([[[255, 0], [0, 255]]], dtype=np.uint8)
    inputs, targets = to_tensors(images, labels, torch.device("cpu"))
    assert inputs.shape == targets.shape == (1, 1, 2, 2)
    assert torch.allclose(inputs[0, 0], torch.tensor([[0.0, 1.0], [0.2, 0.4]]))
    assert torch.equal(targets[0, 0], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))


@pytest.mark.parametrize("size, new, top", [(512, 373, 69), (256, 117, 69), (10, 4, 3), (9, 4, 2), (6, 6, 0)])
def test_center_crop_offset_is_half_the_margin_rounded_down(size, new, top):
    rows = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1).expand(2, 1, size, size)
    cropped = center_crop(rows, new, new)
    assert cropped.shape == (2, 1, new, new)
    assert cropped[0, 0, 0, 0].item() == top


def test_random_crops_cut_the_same_window_from_input_and_target():
    inputs = torch.arange(2 * 20 * 20, dtype=torch.float32).view(2, 1, 20, 20)
    x, y = random_crops(inputs, inputs.clone(), 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (2, 1, 8, 8) and torch.equal(x, y)


def test_fit_learns_and_is_deterministic(volumes):
    images, labels = volumes
    first = fit(tiny_model(), images, labels, tiny_config(epochs=6), show_figures=False)
    second = fit(tiny_model(), images, labels, tiny_config(epochs=6), show_figures=False)
    assert len(first) == 6 * 2, f"6 slices in batches of 4 is 2 steps per epoch; got {len(first)} losses"
    assert first == second, "the same seed and settings must give the same losses"
    assert np.mean(first[-2:]) < np.mean(first[:2]), f"the loss should fall: {first}"


def test_fit_resumes_from_its_checkpoint_exactly(volumes, tmp_path):
    images, labels = volumes
    straight = fit(tiny_model(), images, labels, tiny_config(epochs=4), show_figures=False)
    checkpoint = tmp_path / "run.pt"
    fit(
        tiny_model(),
        images,
        labels,
        tiny_config(epochs=2, checkpoint_every=1),
        checkpoint=checkpoint,
        show_figures=False,
    )
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 2
    resumed = fit(tiny_model(), images, labels, tiny_config(epochs=4), checkpoint=checkpoint, show_figures=False)
    assert resumed == pytest.approx(straight, rel=1e-6), "a resumed run must continue exactly where it stopped"
    assert not list(tmp_path.glob("*.partial")), "no partial checkpoint may be left behind"


def test_fit_with_crops_smaller_than_the_slices(volumes):
    images, labels = volumes
    losses = fit(tiny_model(), images, labels, tiny_config(epochs=1, input_size=144), show_figures=False)
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_fit_rejects_crops_larger_than_the_slices(volumes):
    images, labels = volumes
    with pytest.raises(ValueError, match="input_size 192 is larger than the slices"):
        fit(tiny_model(), images, labels, tiny_config(input_size=192), show_figures=False)


def test_save_checkpoint_replaces_atomically(tmp_path):
    path = tmp_path / "sub" / "run.pt"
    save_checkpoint(path, {"epoch": 1})
    save_checkpoint(path, {"epoch": 2})
    assert torch.load(path)["epoch"] == 2 and [p.name for p in path.parent.iterdir()] == ["run.pt"]


def test_checkpoint_path_names_the_settings_and_honours_the_folder():
    path = checkpoint_path(tiny_config(checkpoint_dir="/tmp/ckpt"))
    assert str(path) == "/tmp/ckpt/unet-w2-px160-b4-lr0.003-seed0.pt"
    assert checkpoint_path(tiny_config()).parent.name == "checkpoints"


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_last_gives_channel_stride_1_and_the_same_values(channels):
    x = torch.randn(2, channels, 5, 7)
    nhwc = channels_last(x)
    assert nhwc.stride() == (5 * 7 * channels, 1, 7 * channels, channels)
    assert torch.equal(nhwc, x)


def test_a_1_channel_input_makes_the_first_convolution_answer_in_nhwc():
    """The reason for channels_last(): x.contiguous(memory_format=torch.channels_last) is not enough for C = 1."""
    conv = torch.nn.Conv2d(1, 4, 1).to(memory_format=torch.channels_last)
    x = torch.randn(2, 1, 6, 6)
    assert not conv(x.contiguous(memory_format=torch.channels_last)).is_contiguous(memory_format=torch.channels_last)
    assert conv(channels_last(x)).is_contiguous(memory_format=torch.channels_last)


def _skip_gradients(model, x, hooks):
    """The gradient reaching each contracting block's output (the skips), and the weight gradients."""
    seen = []

    def watch(module, inputs, output):
        output.register_hook(seen.append)

    with hooks(model):
        for block in (model.contract1, model.contract2):  # after the hooks under test
            block.register_forward_hook(watch)
        model(x).sum().backward()
    return seen, [p.grad for p in model.parameters()]


def test_channels_last_gradients_lays_skip_gradients_out_nhwc_and_changes_no_value():
    x = channels_last(torch.randn(2, 1, 160, 160))
    plain_model, nhwc_model = (tiny_model().to(memory_format=torch.channels_last) for _ in range(2))
    plain_skips, plain_grads = _skip_gradients(plain_model, x, hooks=contextlib.nullcontext)
    nhwc_skips, nhwc_grads = _skip_gradients(nhwc_model, x, hooks=channels_last_gradients)
    assert not all(g.is_contiguous(memory_format=torch.channels_last) for g in plain_skips)  # the crops' NCHW
    assert all(g.is_contiguous(memory_format=torch.channels_last) for g in nhwc_skips)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, nhwc_grads))


def test_channels_last_gradients_removes_its_hooks_on_leaving():
    model = tiny_model()
    with channels_last_gradients(model):
        assert model.contract1._forward_hooks
    assert not any(module._forward_hooks for module in model.modules())


def test_output_margin_of_the_course_unet_is_139():
    assert output_margin(tiny_model(), torch.device("cpu")) == 139


@pytest.mark.parametrize("size", [160, 150, 203])
def test_predict_slices_covers_whole_slices(size):
    images = np.random.default_rng(0).integers(0, 256, (2, size, size + 7), dtype=np.uint8)
    probability = predict_slices(tiny_model(), images, torch.device("cpu"))
    assert probability.shape == (2, size, size + 7) and probability.dtype == np.float32
    assert 0 <= probability.min() and probability.max() <= 1


def test_predict_slices_lines_up_with_training_crops():
    """The prediction for the slice's centre equals the plain forward pass on that slice."""
    model = tiny_model().eval()
    image = np.random.default_rng(1).integers(0, 256, (1, 256, 256), dtype=np.uint8)
    with torch.no_grad():
        centre = torch.sigmoid(model(torch.as_tensor(image, dtype=torch.float32)[None] / 255))[0, 0].numpy()
    whole = predict_slices(model, image, torch.device("cpu"))[0]
    assert np.abs(center_crop(torch.as_tensor(whole)[None, None], 117, 117)[0, 0].numpy() - centre).max() < 0.02


def test_pick_device_refuses_cuda_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="Change runtime type"):
        pick_device("cuda")


# ---------------------------------------------------------------- augmentation and test-time flips


def _blobs(count=3, size=96, seed=0):
    """Smooth random images in [0, 1] (N, 1, size, size) and their thresholded targets."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand((count, 1, 6, 6), generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True).clamp(0, 1)
    return images, (images > 0.5).float()


def test_dihedral_gives_8_different_views_and_undo_inverts_them():
    square = torch.arange(16.0).view(1, 4, 4)
    views = {tuple(_dihedral(square, turn).flatten().tolist()) for turn in range(8)}
    assert len(views) == 8
    oblong = torch.arange(12.0).view(1, 3, 4)
    for turn in range(8):
        assert torch.equal(_undo_dihedral(_dihedral(oblong, turn), turn), oblong)


def test_augment_flips_image_and_target_alike():
    images, targets = _blobs()
    x, y = augment(images, targets, torch.Generator().manual_seed(0), elastic=False)
    assert x.shape == y.shape == images.shape
    assert torch.equal((x > 0.5).float(), y), "the target must be flipped and turned exactly like its image"


def test_augment_elastic_warps_image_and_target_alike():
    images, targets = _blobs()
    x, y = augment(images, targets, torch.Generator().manual_seed(1))
    assert x.shape == y.shape == images.shape
    assert set(y.unique().tolist()) <= {0.0, 1.0}, "nearest-neighbour sampling keeps the target 0 or 1"
    agreement = ((x > 0.5).float() == y).float().mean().item()
    assert agreement > 0.98, f"the target must be warped like its image; they agree on {agreement:.3f} of pixels"
    unwarped, _ = augment(images, targets, torch.Generator().manual_seed(1), elastic=False)
    assert not torch.allclose(x, unwarped), "the elastic deformation must move pixels"


def test_augment_is_reproducible_from_the_generator():
    images, targets = _blobs()
    first = augment(images, targets, torch.Generator().manual_seed(5))
    second = augment(images, targets, torch.Generator().manual_seed(5))
    other = augment(images, targets, torch.Generator().manual_seed(6))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("augmentation", ["flips", "flips+elastic"])
def test_fit_with_augmentation_learns_and_is_deterministic(volumes, augmentation):
    images, labels = volumes
    config = tiny_config(epochs=3, input_size=144, augment=augmentation)
    first = fit(tiny_model(), images, labels, config, show_figures=False)
    assert first == fit(tiny_model(), images, labels, config, show_figures=False)
    assert len(first) == 6 and all(np.isfinite(first))
    assert first != fit(tiny_model(), images, labels, tiny_config(epochs=3, input_size=144), show_figures=False)


def test_checkpoint_path_names_the_augmentation():
    assert (
        checkpoint_path(tiny_config(checkpoint_dir="/c", augment="flips+elastic")).name
        == "unet-w2-px160-b4-lr0.003-flips+elastic-seed0.pt"
    )


def test_predict_slices_with_flips_averages_the_8_views():
    model = tiny_model()
    images = np.random.default_rng(2).integers(0, 256, (2, 150, 157), dtype=np.uint8)
    flipped = predict_slices(model, images, torch.device("cpu"), flips=True)
    assert flipped.shape == images.shape and flipped.dtype == np.float32
    views = []
    for turn in range(8):
        turned = _dihedral(torch.as_tensor(images), turn).numpy()
        views.append(_undo_dihedral(torch.as_tensor(predict_slices(model, turned, torch.device("cpu"))), turn))
    assert np.abs(torch.stack(views).mean(0).numpy() - flipped).max() < 1e-5
    assert np.abs(flipped - predict_slices(model, images, torch.device("cpu"))).max() > 1e-4


def test_fit_says_which_precision_it_chose(volumes, capsys):
    images, labels = volumes
    fit(tiny_model(), images, labels, tiny_config(epochs=1, precision="fp32", layout="contiguous"), show_figures=False)
    assert "precision fp32, layout contiguous: set by UNET_PRECISION and UNET_LAYOUT" in capsys.readouterr().out


# ---------------------------------------------------------------- a long run on the CPU by mistake


class FakeClock:
    """time.perf_counter for lesson.training: every call moves on by `tick` seconds."""

    def __init__(self, tick):
        self.now, self.tick = 0.0, tick

    def perf_counter(self):
        self.now += self.tick
        return self.now


def test_a_long_run_without_a_gpu_stops_with_the_estimate_and_what_to_do(volumes, monkeypatch):
    images, labels = volumes
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "time", FakeClock(tick=10.0))  # each step "takes" 10 s
    with pytest.raises(TooSlowForTheCPU) as stopped:
        fit(tiny_model(), images, labels, tiny_config(epochs=200, device="auto", precision="fp32"), show_figures=False)
    message = str(stopped.value)
    assert "about 1 h 7 min" in message and "400 steps of about 10.0 s each" in message
    assert "Runtime > Change runtime type > GPU" in message and "UNET_DEVICE=cpu" in message


def test_a_long_run_with_unet_device_cpu_trains(volumes, monkeypatch):
    images, labels = volumes
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "time", FakeClock(tick=10.0))
    losses = fit(
        tiny_model(), images, labels, tiny_config(epochs=3, device="cpu", precision="fp32"), show_figures=False
    )
    assert len(losses) == 6


def test_a_short_run_without_a_gpu_trains(volumes, monkeypatch):
    images, labels = volumes
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "time", FakeClock(tick=10.0))  # 6 steps of 10 s: 1 minute
    losses = fit(
        tiny_model(), images, labels, tiny_config(epochs=3, device="auto", precision="fp32"), show_figures=False
    )
    assert len(losses) == 6


@pytest.mark.parametrize(
    "device, setting, per_step, steps, stops",
    [
        ("cpu", "auto", 2.0, 901, True),
        ("cpu", "auto", 2.0, 900, False),
        ("cpu", "cpu", 50.0, 1400, False),
        ("cuda", "auto", 50.0, 1400, False),
    ],
)
def test_check_run_length_stops_only_long_auto_runs_on_the_cpu(device, setting, per_step, steps, stops):
    config = tiny_config(device=setting)
    step_seconds = [100.0] + [per_step] * (ESTIMATE_STEPS - 1)  # the first step is left out
    if stops:
        with pytest.raises(TooSlowForTheCPU, match="about 30 minutes"):
            check_run_length(config, torch.device(device), step_seconds, steps)
    else:
        check_run_length(config, torch.device(device), step_seconds, steps)
    check_run_length(config, torch.device(device), step_seconds[:-1], 10**6)  # too few steps timed yet


def test_too_slow_message_is_friendly_and_exact():
    assert too_slow_message(24.0, 1400) == (
        "This training run would take about 9 h 20 min on this computer's CPU (1,400 steps of about 24.0 s "
        "each), because PyTorch found no GPU. In Colab: Runtime > Change runtime type > GPU, then run all "
        "cells again. To train on the CPU anyway, set UNET_DEVICE=cpu (in a cell above the config cell: "
        'import os; os.environ["UNET_DEVICE"] = "cpu"), or choose a shorter run with fewer UNET_EPOCHS '
        "or a smaller UNET_HIDDEN_CHANNELS or UNET_INPUT_SIZE."
    )


def test_the_specifications_convolutions_are_listed_in_the_order_the_reference_builds_them():
    """SPEC_CONVS, the order draw_weights draws in, is the reference UNet's own and the grader's checks' list."""
    from autograder.authoring.checks import UNET_CONVS

    model = load_reference().UNet(1, 1, hidden_channels=2)
    built = [name for name, layer in model.named_modules() if isinstance(layer, torch.nn.Conv2d)]
    assert list(training.SPEC_CONVS) == built == UNET_CONVS


def test_draw_weights_starts_a_unet_built_in_any_order_as_the_specifications():
    """After draw_weights(model, 3), a U-Net whose layers were built in another order (and from another seed) holds
    the weights of the specification's UNet built after torch.manual_seed(3)."""
    reference = load_reference()
    torch.manual_seed(3)
    course = reference.UNet(1, 1, hidden_channels=4).state_dict()
    torch.manual_seed(99)
    model = reference.UNet(1, 1, hidden_channels=4)
    model._modules = dict(reversed(model._modules.items()))  # as if __init__ built downfeature first
    assert not torch.equal(model.state_dict()["upfeature.conv.weight"], course["upfeature.conv.weight"])
    assert training.draw_weights(model, 3) is model
    drawn = model.state_dict()
    different = [name for name in course if not torch.equal(drawn[name], course[name])]
    assert different == [], f"these weights differ from the specification's start: {different}"


def test_draw_weights_skips_a_convolution_the_model_lacks():
    """A U-Net without a downfeature block still gets its other convolutions drawn, and no error."""
    reference = load_reference()
    torch.manual_seed(3)
    course = reference.UNet(1, 1, hidden_channels=4).state_dict()
    model = reference.UNet(1, 1, hidden_channels=4)
    del model.downfeature
    training.draw_weights(model, 3)
    assert torch.equal(model.state_dict()["expand4.conv3.weight"], course["expand4.conv3.weight"])
