"""One name per model: the README's model list, the config options and the registry agree,
and the name a user types (`student=cnn_small`) is the name every output prints."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import yaml

from kdbench.config import CONF_DIR, ModelConfig, model_label
from kdbench.models import list_models

README = Path(__file__).resolve().parent.parent / "README.md"


def options(group: str) -> dict[str, dict]:
    """conf/<group>/*.yaml of single models (ensembles are lists of members)."""
    out = {}
    for path in sorted(Path(CONF_DIR, group).glob("*.yaml")):
        node = yaml.safe_load(path.read_text())
        if not node.get("ensemble"):
            out[path.stem] = node
    return out


def expand(token: str) -> list[str]:
    """`wrn_{16,28}_{1,2}` -> wrn_16_1, wrn_16_2, wrn_28_1, wrn_28_2 (shell brace expansion)."""
    parts = re.split(r"\{([^}]*)\}", token)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def readme_models() -> tuple[set[str], set[str]]:
    """(architectures, sized variants) as the README's Models bullet lists them."""
    text = README.read_text()
    bullet = text[text.index("* Models (") : text.index("Parameter counts match")]
    archs, _, variants = bullet.partition("sized variants:")
    names = re.compile(r"`([a-z][a-z0-9_{},]*)`")
    return (
        {n for t in names.findall(archs) for n in expand(t)},
        {n for t in names.findall(variants) for n in expand(t)},
    )


def test_readme_lists_every_registered_model_and_only_those():
    archs, _ = readme_models()
    assert "wrn_28_4" in archs and "resnet110" in archs  # the list is really read
    assert archs == set(list_models())


def test_every_listed_model_is_an_option_of_both_groups():
    archs, variants = readme_models()
    assert {"cnn_small", "mlp_small"} <= variants
    students, teachers = set(options("student")), set(options("teacher"))
    # a file of logits stands in for a teacher that cannot run here: no student of that name
    assert archs | variants == students == teachers - {"logits_file"}


NOT_SIZE = ("name", "recipe", "seed", "ensemble", "path", "augment")


def _num(v):
    """2 and 2.0 are one size (yaml writes either)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def test_an_option_name_means_one_model_and_a_model_has_one_option():
    seen: dict[tuple, str] = {}
    for group in ("student", "teacher"):
        for option, node in options(group).items():
            if option == "logits_file":
                continue
            # every key but how a teacher is trained (recipe, seed) names the model
            size = (
                node["name"],
                *sorted((k, str(v)) for k, v in node.items() if k not in NOT_SIZE),
            )
            assert seen.setdefault(size, option) == option, (group, option, seen[size])
    by_option: dict[str, set] = {}
    for size, option in seen.items():
        by_option.setdefault(option, set()).add(size)
    assert {o: s for o, s in by_option.items() if len(s) > 1} == {}


def test_the_printed_name_is_the_option_name():
    for group in ("student", "teacher"):
        for option, node in options(group).items():
            if option == "logits_file":
                continue  # not a model: a file of a teacher's logits
            m = ModelConfig(**{k: v for k, v in node.items() if k not in NOT_SIZE[1:]})
            assert model_label(m) == option, (group, option)


def test_a_size_no_option_has_names_the_model_and_its_size_keys():
    assert model_label(ModelConfig("cnn", None, 0.3)) == "cnn-w0.3"
    assert model_label(ModelConfig("resnet20", 8, None)) == "resnet20-d8"
    assert model_label(ModelConfig("mlp", 3, 0.5)) == "mlp-d3-w0.5"
    assert model_label(ModelConfig("cnn", None, 0.25)) == "cnn_small"  # however it was asked


def test_a_composed_cell_prints_the_typed_name(smoke_config):
    from kdbench.records import report_settings

    c = report_settings(smoke_config("student=cnn_tiny", "teacher=cnn_half", "distill=kd"))
    assert (c["student"], c["teacher"]) == ("cnn_tiny", "cnn_half")
    c = report_settings(smoke_config("student=cnn_tiny", "student.width=0.3", "distill=kd"))
    assert c["student"] == "cnn-w0.3"
