"""Checks made before anything is built: value types against constructor hints, and a checkpoint against the run."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from aelab.utils.errors import require

# What a user should type for each simple type, with an example when the default gives none.
EXPECTED = {
    int: ("a whole number", "10"),
    float: ("a number", "0.5"),
    bool: ("true or false", "true"),
    str: ("a string", "name"),
}


def simple_types(hint: Any) -> set[type] | None:
    """The simple types a hint allows (None for a hint this check does not understand, which then passes)."""
    if hint in EXPECTED or hint is type(None):
        return {hint}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        parts = [simple_types(arg) for arg in typing.get_args(hint)]
        return None if any(p is None for p in parts) else set().union(*parts)
    return None


def fits(value: Any, allowed: set[type]) -> bool:
    """Return whether a config value has one of the allowed simple types (an int is a valid float)."""
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int):
        return bool(allowed & {int, float})
    return any(isinstance(value, t) for t in allowed if t is not int)


def parameter_hints(cls: type) -> dict[str, tuple[Any, Any]]:
    """Each constructor parameter's (type hint, default) along the class's bases, nearest first."""
    hints: dict[str, tuple[Any, Any]] = {}
    for base in reversed(cls.__mro__):
        init = base.__dict__.get("__init__")
        if init is None:
            continue
        try:
            resolved = typing.get_type_hints(init)
            defaults = {n: p.default for n, p in inspect.signature(init).parameters.items()}
        except Exception:  # hints naming types only imported for type checkers: skip that class
            continue
        hints |= {name: (hint, defaults.get(name)) for name, hint in resolved.items() if name != "return"}
    return hints


def check_types(options: Mapping[str, Any], cls: type, prefix: str) -> None:
    """Refuse, in one sentence, a value whose type the constructor's hints rule out."""
    hints = parameter_hints(cls)
    for key, value in options.items():
        if key.startswith("_") or key not in hints:
            continue
        hint, default = hints[key]
        allowed = simple_types(hint)
        if allowed is None or fits(value, allowed):
            continue
        wanted = min((t for t in allowed if t in EXPECTED), key=list(EXPECTED).index)
        words, example = EXPECTED[wanted]
        if type(default) is wanted:
            example = str(default).lower()
        require(False, f"{prefix}.{key}={value} should be {words}: pass e.g. {prefix}.{key}={example}.")


def check_config_types(cfg: DictConfig) -> None:
    """Check every top-level group that builds an object (`_target_`) against its constructor's hints."""
    from hydra.utils import get_class

    for group, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            try:
                cls = get_class(node._target_)
            except Exception:  # a function target (e.g. a partial optimizer factory): nothing to check here
                continue
            if inspect.isclass(cls):
                check_types(OmegaConf.to_container(node, resolve=True), cls, str(group))


def short(target: str | None) -> str:
    """The class name of a `_target_`."""
    return str(target).rpartition(".")[2]


def check_checkpoint_fits(path: str | Path, cfg: DictConfig) -> None:
    """Refuse to resume from a checkpoint of another variant, net or latent size, before Lightning loads it."""
    from aelab.callbacks.record import CHECKPOINT_KEY
    from aelab.checkpoint import read_checkpoint

    saved = read_checkpoint(path)[CHECKPOINT_KEY]["config"]
    run = OmegaConf.to_container(cfg, resolve=True)
    differences = [
        f"{what} {was} (this run: {now})"
        for what, was, now in [
            ("model", short(saved["model"].get("_target_")), short(run["model"].get("_target_"))),
            ("net", short(saved["net"].get("_target_")), short(run["net"].get("_target_"))),
            ("model.latent_dim", saved["model"].get("latent_dim"), run["model"].get("latent_dim")),
            ("seeds", saved.get("seeds"), run.get("seeds")),  # stacked replicas resume only as the same replicas
        ]
        if was != now
    ]
    if not differences and saved["net"] != run["net"]:
        changed = sorted(k for k in {*saved["net"], *run["net"]} if saved["net"].get(k) != run["net"].get(k))
        differences = [f"net.{k} {saved['net'].get(k)} (this run: {run['net'].get(k)})" for k in changed]
    require(
        not differences,
        f"{path} holds another model: {'; '.join(differences)}; resume with the settings it was trained with, "
        "or leave out ckpt_path to start afresh.",
    )


def check_data_fits(model, datamodule, ckpt_path: str | Path) -> None:
    """Refuse data whose samples do not have the shape the checkpoint's model was trained on."""
    shape = list(datamodule.shape)
    require(
        list(model.input_shape) == shape,
        f"{ckpt_path} holds a model for inputs of shape {list(model.input_shape)}, but this data gives {shape}: "
        "evaluate on data like the one it was trained on (leave out data=...).",
    )
