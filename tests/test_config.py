"""The training settings: the course's recipe by default, UNET_* overrides, clear errors."""

import dataclasses

import pytest

from lesson.config import SHORT_RUN, TrainingConfig, env_name, environment_for, read_config


def test_defaults_are_the_course_recipe():
    config = read_config({})
    assert (config.epochs, config.batch_size, config.learning_rate) == (200, 4, 2e-4)
    assert (config.hidden_channels, config.input_size, config.seed) == (64, 512, 0)
    assert config.holdout_slices == 5 and config.device == "auto"


def test_environment_overrides_each_setting():
    environ = {
        "UNET_EPOCHS": "3",
        "UNET_LEARNING_RATE": "1e-3",
        "UNET_HIDDEN_CHANNELS": "16",
        "UNET_INPUT_SIZE": " 256 ",
        "UNET_DEVICE": "cpu",
        "UNET_CHECKPOINT_DIR": "/tmp/x",
    }
    config = read_config(environ)
    assert (config.epochs, config.learning_rate, config.hidden_channels) == (3, 1e-3, 16)
    assert (config.input_size, config.device, config.checkpoint_dir) == (256, "cpu", "/tmp/x")


def test_empty_variable_keeps_the_default():
    assert read_config({"UNET_EPOCHS": ""}).epochs == 200


def test_keyword_overrides_win_over_the_environment():
    assert read_config({"UNET_EPOCHS": "3"}, epochs=7).epochs == 7


def test_every_field_has_a_variable():
    names = {env_name(field.name) for field in dataclasses.fields(TrainingConfig)}
    assert "UNET_EPOCHS" in names and len(names) == len(dataclasses.fields(TrainingConfig))


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"UNET_EPOCHS": "ten"}, "UNET_EPOCHS='ten' is not a valid int"),
        ({"UNET_EPOCHS": "2.5"}, "UNET_EPOCHS='2.5' is not a valid int"),
        ({"UNET_LEARNING_RATE": "fast"}, "UNET_LEARNING_RATE='fast' is not a valid float"),
        ({"UNET_EPOCHS": "0"}, "epochs (UNET_EPOCHS) must be at least 1, got 0"),
        ({"UNET_BATCH_SIZE": "-4"}, "batch_size (UNET_BATCH_SIZE) must be at least 1, got -4"),
        ({"UNET_INPUT_SIZE": "139"}, "input_size (UNET_INPUT_SIZE) must be at least 140"),
        ({"UNET_LEARNING_RATE": "0"}, "learning_rate (UNET_LEARNING_RATE) must be positive"),
        ({"UNET_DEVICE": "tpu"}, "device (UNET_DEVICE) must be 'auto', 'cuda' or 'cpu', got 'tpu'"),
        ({"UNET_TEST_TIME_FLIPS": "maybe"}, "UNET_TEST_TIME_FLIPS='maybe' is not a valid bool: use 1 or 0"),
        (
            {"UNET_PRECISION": "fp8"},
            "precision (UNET_PRECISION) must be one of 'auto', 'fp32', 'bf16', 'fp16', got 'fp8'",
        ),
        (
            {"UNET_LAYOUT": "nhwc"},
            "layout (UNET_LAYOUT) must be one of 'auto', 'contiguous', 'channels_last', got 'nhwc'",
        ),
        ({"UNET_AUGMENT": "rotate"}, "augment (UNET_AUGMENT) must be one of 'none', 'flips', 'flips+elastic'"),
    ],
)
def test_bad_values_raise_with_the_variable_and_value(environ, message):
    with pytest.raises(ValueError) as error:
        read_config(environ)
    assert message in str(error.value)


def test_short_run_settings_round_trip_through_the_environment():
    environ = environment_for(SHORT_RUN)
    assert environ["UNET_EPOCHS"] == str(SHORT_RUN["epochs"])
    config = read_config(environ)
    assert all(getattr(config, name) == value for name, value in SHORT_RUN.items())


def test_augmentation_and_test_time_flips_default_off_and_read_from_the_environment():
    config = read_config({})
    assert config.augment == "none" and config.test_time_flips is False
    config = read_config({"UNET_AUGMENT": "flips+elastic", "UNET_TEST_TIME_FLIPS": "1"})
    assert config.augment == "flips+elastic" and config.test_time_flips is True


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        ("off", False),
    ],
)
def test_bool_settings_parse_words_and_digits(raw, expected):
    assert read_config({"UNET_TEST_TIME_FLIPS": raw}).test_time_flips is expected


def test_precision_is_measured_by_default_and_read_from_the_environment():
    assert read_config({}).precision == "auto"
    assert read_config({"UNET_PRECISION": "fp32"}).precision == "fp32"
    assert read_config({}).layout == "auto"
    assert read_config({"UNET_LAYOUT": "contiguous"}).layout == "contiguous"
