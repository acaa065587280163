"""Config validation: bad values fail at start with the key and the allowed values."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from kdbench.data import DATASETS
from kdbench.errors import ConfigError
from kdbench.validate import validate

from .conftest import compose_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("distill.T=0", "distill.T=0.0 is invalid: the temperature must be > 0"),
        ("distill.T=-2", "distill.T=-2.0 is invalid"),
        ("distill.alpha=1.5", "distill.alpha=1.5 is invalid: must be in [0, 1]"),
        ("distill.alpha=-0.1", "distill.alpha=-0.1 is invalid"),
        ("student.name=resnet21", "student.name='resnet21' is invalid: known models: bilstm, cct,"),
        ("teacher.name=swin", "teacher.name='swin' is invalid: known models:"),
        ("train.epochs=0", "train.epochs=0 is invalid: must be >= 1"),
        ("train.batch_size=0", "train.batch_size=0 is invalid"),
        (
            "data.name=imagenet",
            # every registered data set, in order (other loaders register more)
            f"data.name='imagenet' is invalid: known data sets: {', '.join(DATASETS)}",
        ),
        ("distill.name=magic", "distill.name='magic' is invalid: known methods:"),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(override, message):
    with pytest.raises(ConfigError) as err:
        validate(compose_config([override]))
    assert message in str(err.value)


def test_a_wrong_type_fails_at_compose_time():
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose_config(["train.epochs=many"])


def test_a_wrong_method_setting_fails_in_one_line_naming_key_and_method():
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["distill.T=hot"]))
    assert str(err.value) == "distill.T='hot' is invalid for method 'kd': expected float"
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["distill=dkd", "distill.dkd_beta=lots"]))
    assert "distill.dkd_beta='lots' is invalid for method 'dkd'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["distill=dkd", "+distill.dkd_bta=2"]))
    message = str(err.value)
    assert "\n" not in message and "distill.dkd_bta" in message and "'dkd'" in message
    assert "did you mean distill.dkd_beta?" in message


def test_unknown_config_group_option_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="student"):
        compose_config(["student=resnet21"])


def test_both_weight_forms():
    alpha = validate(compose_config(["distill.alpha=0.25"]))
    assert alpha.distill.loss_weights() == (0.75, 0.25)
    explicit = validate(
        compose_config(["distill.alpha=null", "+distill.w1=0.6", "+distill.w2=0.4"])
    )
    assert explicit.distill.loss_weights() == (0.6, 0.4)


def test_half_of_the_explicit_form_is_rejected():
    with pytest.raises(ConfigError, match="give both w1 and w2"):
        validate(compose_config(["distill.w1=0.6"]))


def test_every_experiment_composes_and_validates():
    from pathlib import Path

    from kdbench.cli import CONF_DIR

    for path in sorted(Path(CONF_DIR, "experiment").glob("*.yaml")):
        validate(compose_config([f"experiment={path.stem}"]))
