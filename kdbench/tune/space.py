"""A method's search space: `conf/tune/<method option>.yaml`, read as data.

The file maps config override keys (`distill.T`, `distill.w2`, ...) to Optuna
distributions, plus `fixed` overrides applied to every trial (e.g. `distill.alpha:
null` so the weights are sampled as w1, w2). Keys are override paths, not Python
names, so renaming a method's config key is a one-line edit in its yaml and no
method needs code here:

    fixed:
      distill.alpha: null
    params:
      distill.T: {low: 1, high: 8}               # float, uniform
      distill.w2: {low: 0.1, high: 10, log: true} # float, log scale
      distill.warmup: {low: 0, high: 5, int: true}
      distill.logit_stand: {choices: [false, true]}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from kdbench.errors import ConfigError

_SPEC_KEYS = {"low", "high", "log", "step", "int", "choices"}


@dataclass(frozen=True)
class SearchSpace:
    """One method's distributions (by override key) and the overrides every trial shares."""

    method: str
    path: Path
    params: dict[str, BaseDistribution]
    fixed: dict[str, Any]

    def values(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """A trial's settings by key: the fixed ones, then the `sampled` ones."""
        return {**self.fixed, **sampled}

    def overrides(self, sampled: dict[str, Any]) -> list[str]:
        """The same as command-line overrides, e.g. to rerun a best setting with `kdbench`."""
        return [f"{key}={format_value(value)}" for key, value in self.values(sampled).items()]


def format_value(value: Any) -> str:
    """A value as Hydra's override grammar reads it back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; Hydra parses 1e-05 and inf
    return str(value)


def _distribution(where: str, spec: Any) -> BaseDistribution:
    if not isinstance(spec, dict) or not spec.keys() <= _SPEC_KEYS:
        raise ConfigError(
            f"{where}: expected a mapping with low/high (and log, step, int) or choices, "
            f"got {spec!r}"
        )
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}")
        return CategoricalDistribution(choices)
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: give both low and high (or choices)")
    try:
        if spec.get("int"):
            return IntDistribution(
                int(spec["low"]),
                int(spec["high"]),
                log=bool(spec.get("log")),
                step=spec.get("step", 1),
            )
        return FloatDistribution(
            float(spec["low"]),
            float(spec["high"]),
            log=bool(spec.get("log")),
            step=spec.get("step"),
        )
    except ValueError as exc:  # low > high, log with low <= 0, step with log, ...
        raise ConfigError(f"{where}: {exc}") from None


def load_space(space_dir: Path, method: str) -> SearchSpace:
    """Read `<space_dir>/<method>.yaml`; ConfigError (one line) if missing or malformed."""
    path = Path(space_dir) / f"{method}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(space_dir).glob("*.yaml"))
        raise ConfigError(
            f"no search space for method {method!r}: write {path} "
            f"(methods with one: {', '.join(known) or 'none'})"
        )
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as exc:  # noqa: BLE001 - any YAML error is the user's file
        raise ConfigError(f"{path}: not readable YAML: {exc}") from None
    if not isinstance(raw, dict) or not raw.keys() <= {"params", "fixed", "base"}:
        raise ConfigError(
            f"{path}: expected top-level keys 'params' and optionally 'fixed' and 'base'"
        )
    params, fixed = raw.get("params") or {}, raw.get("fixed") or {}
    if raw.get("base"):  # another option's space, this file's entries on top (dkd_short: dkd)
        base = load_space(space_dir, str(raw["base"]))
        params, fixed = {**base.params, **params}, {**base.fixed, **fixed}
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"{path}: 'params' must map override keys to distributions")
    if not isinstance(fixed, dict):
        raise ConfigError(f"{path}: 'fixed' must map override keys to values")
    return SearchSpace(
        method=method,
        path=path,
        params={
            str(k): v if isinstance(v, BaseDistribution) else _distribution(f"{path}: {k}", v)
            for k, v in params.items()
        },
        fixed={str(k): v for k, v in fixed.items()},
    )
