"""The model registry and the foundation architectures."""

import pytest
import torch

from kdbench.errors import ConfigError
from kdbench.models import create_model, models_for

# Slow on 2 CPU cores at 32x32; they still run at 8x8 and 16x16.
LARGE = {"resnet110", "resnet32x4", "vgg13", "wrn_40_4", "wrn_16_4"}


@pytest.mark.parametrize("name", models_for("image"))
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_every_model_runs_on_both_input_shapes(name, shape):
    if shape[1] == 32 and name in LARGE:
        shape = (3, 16, 16)  # keeps the suite fast; the 32x32 path is the same code
    model = create_model(name, num_classes=7, in_channels=shape[0]).eval()
    x = torch.randn(2, *shape)
    out = model.forward_features(x)
    assert out.logits.shape == (2, 7)
    assert torch.equal(model(x), out.logits)
    assert len(out.features) >= 2 and out.embedding.shape[0] == 2


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        create_model("resnet21", 10)
    message = str(err.value)
    assert "resnet21" in message and "resnet20" in message and "mlp" in message


def test_unknown_size_key_names_the_accepted_keys():
    with pytest.raises(ConfigError, match="size keys are: width"):
        create_model("cnn", 10, depth=3)


def test_bad_resnet_depth_is_explained():
    with pytest.raises(ConfigError, match="6n\\+2"):
        create_model("resnet20", 10, depth=21)


PUBLISHED = [
    ("resnet8", 100, 0.084),
    ("resnet20", 100, 0.278),
    ("resnet56", 100, 0.862),
    ("resnet110", 100, 1.737),
    ("resnet8x4", 100, 1.234),
    ("resnet32x4", 100, 7.434),
    ("wrn_16_2", 100, 0.703),
    ("wrn_40_2", 100, 2.255),
    ("vgg8", 100, 3.965),
    ("vgg13", 100, 9.462),
    ("resnet20", 10, 0.272),
    ("resnet32", 10, 0.467),
    ("resnet44", 10, 0.661),
    ("resnet56", 10, 0.856),
    ("resnet110", 10, 1.731),
]


@pytest.mark.parametrize(("name", "classes", "params_m"), PUBLISHED)
def test_parameter_counts_match_published(name, classes, params_m):
    model = create_model(name, classes)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 3) == params_m


def test_width_multiplier_scales_channels():
    small = create_model("cnn", 10, width=0.25)
    large = create_model("cnn", 10, width=1.0)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in large.parameters())


def test_wide_and_vgg_size_keys():
    assert create_model("wrn_40_2", 10).stages[0][0].conv1.out_channels == 32
    assert create_model("wrn_16_2", 10, width=1.0).stages[2][0].conv1.out_channels == 64
    with pytest.raises(ConfigError, match="6n\\+4"):
        create_model("wrn_16_2", 10, depth=15)
    with pytest.raises(ConfigError, match="VGG depth must be one of 8, 11, 13, 16"):
        create_model("vgg8", 10, depth=9)
    with pytest.raises(ConfigError, match="size multiplier"):
        create_model("shufflenetv2", 10, width=0.7)


def test_vgg_on_8x8_inputs_skips_pools_below_1x1():
    features = create_model("vgg13", 10, 1).eval().forward_features(torch.randn(2, 1, 8, 8))
    assert [f.shape[-1] for f in features.features] == [8, 4, 2, 1, 1]


def test_width_multipliers_shrink_mobile_models():
    def count(name, width):
        return sum(p.numel() for p in create_model(name, 100, width=width).parameters())

    assert count("mobilenetv2", 0.5) < count("mobilenetv2", 1.0)
    assert count("shufflenetv2", 0.5) < count("shufflenetv2", 1.0)
    assert round(count("mobilenetv2", 0.5) / 1e6, 2) == 0.81  # CRD's MobileNetV2 student
