"""The precision and memory layout, measured per CPU and model shape, and cached with the load and time of the
measurement."""

import json

import numpy as np
import pytest
import torch

from lesson import speed
from lesson.config import read_config
from lesson.speed import HIGH_LOAD, MAX_AGE_SECONDS, choose_precision_and_layout, in_layout, time_settings, to_layout
from lesson.training import fit, predict_slices
from solutions.reference import load_reference

REFERENCE = load_reference()
CPU = torch.device("cpu")
# Seconds of a pass on three kinds of CPU (fp32 / bf16, NCHW / NHWC), as benchmarks.training_speed saw them.
AMX_LIKE = {
    ("fp32", "contiguous"): 1.0,
    ("fp32", "channels_last"): 0.9,
    ("bf16", "contiguous"): 0.6,
    ("bf16", "channels_last"): 0.35,
}
AVX2_ONLY = {
    ("fp32", "contiguous"): 0.70,
    ("fp32", "channels_last"): 0.85,
    ("bf16", "contiguous"): 14.0,
    ("bf16", "channels_last"): 17.0,
}
NHWC_ONLY = {
    ("fp32", "contiguous"): 1.0,
    ("fp32", "channels_last"): 0.8,
    ("bf16", "contiguous"): 1.2,
    ("bf16", "channels_last"): 1.1,
}
DTYPES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def tiny_model(width=2):
    torch.manual_seed(0)
    return REFERENCE.UNet(1, 1, hidden_channels=width)


def fake_timer(seconds):
    """A timer for choose_precision_and_layout: seconds of a pass by (precision, layout), and its calls."""
    calls = []

    def timer(amp_dtype, layout):
        calls.append((DTYPES[amp_dtype], layout))
        return seconds[DTYPES[amp_dtype], layout]

    return timer, calls


class Machine:
    """A fake clock (seconds since the epoch, moved by hand) and a fake load average per core; each choice is made
    as a new process would make it (nothing remembered but the cache file), unless `same_process`."""

    def __init__(self, now=1_800_000_000.0, load=0.1):
        self.now, self.load = now, load

    def choose(self, model, seconds, cache_dir, same_process=False, **settings):
        if not same_process:
            speed._IN_THIS_PROCESS.clear()
        timer, calls = fake_timer(seconds)
        chosen = choose_precision_and_layout(
            model, CPU, cache_dir=cache_dir, timer=timer, clock=lambda: self.now, load=lambda: self.load, **settings
        )
        return chosen, calls


def test_bf16_in_channels_last_where_it_is_fastest(tmp_path):
    (precision, layout, reason), calls = Machine().choose(tiny_model(), AMX_LIKE, tmp_path)
    assert (precision, layout) == ("bf16", "channels_last")
    assert reason == (
        "precision bf16, layout channels_last: measured against fp32 in contiguous on this CPU, "
        "fp32 in channels_last 1.11x, bf16 in contiguous 1.67x, bf16 in channels_last 2.86x"
    )
    assert calls == list(AMX_LIKE) * 3, "three passes of each, taking turns, add up to the 1 s budget"


def test_the_course_setting_where_channels_last_and_bf16_are_slower(tmp_path):
    """An AVX2-only AMD EPYC: channels_last 0.82x, bf16 0.05x; the project's loop must not be slower there."""
    (precision, layout, reason), _ = Machine().choose(tiny_model(), AVX2_ONLY, tmp_path)
    assert (precision, layout) == ("fp32", "contiguous")
    assert "fp32 in channels_last 0.82x, bf16 in contiguous 0.05x" in reason


def test_channels_last_alone_where_only_the_layout_helps(tmp_path):
    assert Machine().choose(tiny_model(), NHWC_ONLY, tmp_path)[0][:2] == ("fp32", "channels_last")


def test_the_course_setting_when_nothing_is_clearly_faster(tmp_path):
    close = {key: 1.0 for key in AMX_LIKE} | {("bf16", "channels_last"): 0.97}
    assert Machine().choose(tiny_model(), close, tmp_path)[0][:2] == ("fp32", "contiguous")


def test_a_quiet_measurement_is_cached_per_model_shape(tmp_path):
    machine = Machine()
    machine.choose(tiny_model(), AMX_LIKE, tmp_path)
    chosen, calls = machine.choose(tiny_model(), AVX2_ONLY, tmp_path)
    assert chosen[:2] == ("bf16", "channels_last") and chosen.reason.endswith(" (cached)") and calls == []
    other, calls = machine.choose(tiny_model(width=4), AVX2_ONLY, tmp_path)
    assert other[:2] == ("fp32", "contiguous") and calls, "another shape, measured anew"
    entries = json.loads((tmp_path / "precision.json").read_text())
    assert len(entries) == 2 and all(torch.__version__ in key for key in entries)
    assert all(entry["load_per_core"] == 0.1 and entry["measured_at"] == machine.now for entry in entries.values())


def test_a_measurement_under_load_is_used_once_then_measured_again(tmp_path):
    machine = Machine(load=HIGH_LOAD + 0.4)
    chosen, _ = machine.choose(tiny_model(), AMX_LIKE, tmp_path)
    assert chosen[:2] == ("bf16", "channels_last")
    assert chosen.reason.endswith("(measured under load 0.9 per core: measured again next time)")
    machine.now += 60
    machine.load = 0.2
    chosen, calls = machine.choose(tiny_model(), AVX2_ONLY, tmp_path)
    assert calls and chosen[:2] == ("fp32", "contiguous"), "the loaded figure is not kept"
    machine.now += 60
    assert machine.choose(tiny_model(), AMX_LIKE, tmp_path)[1] == [], "the quiet one is"


def test_within_one_process_the_first_answer_stands(tmp_path):
    """fit() and predict_slices() in one kernel, or two runs in one notebook, train and predict alike."""
    machine = Machine(load=HIGH_LOAD + 1)
    first, _ = machine.choose(tiny_model(), AMX_LIKE, tmp_path)
    again, calls = machine.choose(tiny_model(), AVX2_ONLY, tmp_path, same_process=True)
    assert again[:2] == first[:2] == ("bf16", "channels_last") and calls == []


def test_predicting_after_training_in_set_settings_uses_them(tmp_path):
    """fit() with UNET_PRECISION and UNET_LAYOUT set, then predict_slices() with its defaults ("auto"): no
    measurement, the same settings (a graded kernel: the grader sets both)."""
    machine = Machine()
    machine.choose(tiny_model(), AMX_LIKE, tmp_path, precision="fp32", layout="contiguous")
    chosen, calls = machine.choose(tiny_model(), AMX_LIKE, tmp_path, same_process=True)
    assert chosen[:2] == ("fp32", "contiguous") and calls == []


def test_a_measurement_older_than_the_set_age_is_measured_again(tmp_path):
    machine = Machine()
    machine.choose(tiny_model(), AMX_LIKE, tmp_path)
    machine.now += MAX_AGE_SECONDS
    assert machine.choose(tiny_model(), AVX2_ONLY, tmp_path)[1] == [], "at the age limit: still cached"
    machine.now += 1
    chosen, calls = machine.choose(tiny_model(), AVX2_ONLY, tmp_path)
    assert calls and chosen[:2] == ("fp32", "contiguous")


def test_a_measurement_from_the_future_is_measured_again(tmp_path):
    """A clock set back (or a cache copied from another machine) makes the age negative: not trusted."""
    machine = Machine()
    machine.choose(tiny_model(), AMX_LIKE, tmp_path)
    machine.now -= 3600
    assert machine.choose(tiny_model(), AMX_LIKE, tmp_path)[1]


def test_an_older_version_of_the_cache_is_measured_again(tmp_path):
    key = speed.cache_key(tiny_model(), [(p, lay) for p in ("fp32", "bf16") for lay in speed.LAYOUTS])
    (tmp_path / "precision.json").write_text(json.dumps({key: {"bf16_speedup": 2.0}, "other": 3}))
    chosen, calls = Machine().choose(tiny_model(), AVX2_ONLY, tmp_path)
    assert calls and chosen[:2] == ("fp32", "contiguous")


def test_a_cache_it_cannot_write_or_read_is_skipped(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert Machine().choose(tiny_model(), AMX_LIKE, blocked / "cache")[0].precision == "bf16"
    (tmp_path / "precision.json").write_text("{not json")
    assert Machine().choose(tiny_model(), AMX_LIKE, tmp_path)[0].precision == "bf16"
    (tmp_path / "precision.json").write_text("[1, 2]")
    assert Machine().choose(tiny_model(), AMX_LIKE, tmp_path)[0].precision == "bf16"


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_unet_precision_fixes_the_precision_and_the_layout_is_still_measured(tmp_path, requested):
    (precision, layout, reason), calls = Machine().choose(tiny_model(), AVX2_ONLY, tmp_path, precision=requested)
    assert precision == requested and layout == "contiguous"
    assert set(calls) == {(requested, "contiguous"), (requested, "channels_last")}
    assert reason.startswith(
        f"precision {requested}, layout contiguous: measured against contiguous on this CPU, channels_last "
    )


def test_unet_layout_fixes_the_layout_and_the_precision_is_still_measured(tmp_path):
    (precision, layout, _), calls = Machine().choose(tiny_model(), AMX_LIKE, tmp_path, layout="contiguous")
    assert (precision, layout) == ("bf16", "contiguous") and {lay for _, lay in calls} == {"contiguous"}


def test_both_set_measure_nothing(tmp_path):
    chosen, calls = Machine().choose(tiny_model(), AMX_LIKE, tmp_path, precision="fp16", layout="channels_last")
    assert (
        chosen
        == ("fp16", "channels_last", "precision fp16, layout channels_last: set by UNET_PRECISION and UNET_LAYOUT")
        and calls == []
    )


def test_on_a_gpu_the_native_rule_and_channels_last(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert choose_precision_and_layout(tiny_model(), torch.device("cuda"))[:2] == ("fp16", "channels_last")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert choose_precision_and_layout(tiny_model(), torch.device("cuda")) == (
        "bf16",
        "channels_last",
        "precision bf16: natively on this GPU",
    )
    assert choose_precision_and_layout(tiny_model(), torch.device("cuda"), "fp32")[:2] == ("fp32", "channels_last")


def test_time_settings_times_real_passes_of_all_four():
    candidates = [(p, lay) for p in ("fp32", "bf16") for lay in speed.LAYOUTS]
    seconds = time_settings(tiny_model(), candidates, budget=0.0)
    assert set(seconds) == set(candidates) and all(0 < value < 10 for value in seconds.values())


@pytest.mark.parametrize("layout", speed.LAYOUTS)
def test_fit_trains_in_the_layout_it_was_given(layout, capsys):
    from data.synthetic import make_em_volume

    images, labels = make_em_volume(n_slices=4, size=160, seed=3)
    model = tiny_model()
    config = read_config({}, epochs=1, hidden_channels=2, input_size=160, device="cpu", precision="fp32", layout=layout)
    losses = fit(model, images, labels, config, show_figures=False)
    assert np.isfinite(losses).all() and f"layout {layout}" in capsys.readouterr().out
    weight = model.contract1.conv1.weight
    assert weight.is_contiguous(memory_format=speed.MEMORY_FORMATS[layout])


def test_predict_slices_gives_the_same_answer_in_either_layout():
    images = np.random.default_rng(0).integers(0, 256, (1, 150, 157), dtype=np.uint8)
    nchw = predict_slices(tiny_model(), images, CPU, precision="fp32", layout="contiguous")
    nhwc = predict_slices(tiny_model(), images, CPU, precision="fp32", layout="channels_last")
    assert np.abs(nchw - nhwc).max() < 1e-5


def test_to_layout_and_in_layout_do_nothing_for_contiguous():
    x = torch.randn(2, 1, 5, 5)
    assert to_layout(x, "contiguous") is x and to_layout(x, "channels_last").stride()[1] == 1
    model = tiny_model()
    with in_layout(model, "contiguous"):
        assert not any(module._forward_hooks for module in model.modules())
    with in_layout(model, "channels_last"):
        assert model.contract1._forward_hooks
