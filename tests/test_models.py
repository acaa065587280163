"""The model registry and the foundation architectures."""

import pytest
import torch

from kdbench.errors import ConfigError
from kdbench.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_every_model_runs_on_both_input_shapes(name, shape):
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


@pytest.mark.parametrize(
    ("name", "classes", "params_m"),
    [("resnet20", 10, 0.272), ("resnet20", 100, 0.278), ("resnet56", 100, 0.862)],
)
def test_resnet_parameter_counts_match_published(name, classes, params_m):
    model = create_model(name, classes)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 3) == params_m


def test_width_multiplier_scales_channels():
    small = create_model("cnn", 10, width=0.25)
    large = create_model("cnn", 10, width=1.0)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in large.parameters())
