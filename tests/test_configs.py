"""Every option of every config group composes, and the defaults agree with each other."""

from __future__ import annotations

import pytest
from conftest import CONFIGS
from omegaconf import OmegaConf

GROUPS = ["data", "model", "net", "loss", "optimizer", "scheduler", "trainer", "logger", "callbacks", "debug"]


def options(group: str) -> list[str]:
    """The selectable options of a group (files starting with `_` are shared bases)."""
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml") if not p.stem.startswith("_"))


CASES = [(group, option) for group in GROUPS for option in options(group)]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_composes(compose, group, option):
    from hydra.core.hydra_config import HydraConfig

    cfg = compose(f"{group}={option}", fast=False)
    assert HydraConfig.get().runtime.choices[group] == option
    # Resolving every interpolation catches a key that points nowhere; `???` stays for the user.
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


def test_defaults_list_order():
    defaults = OmegaConf.load(CONFIGS / "train.yaml").defaults
    names = [next(iter(d)) if not isinstance(d, str) else d for d in defaults]
    names = [n.removeprefix("optional ") for n in names]
    assert names == [
        "_self_",
        "loss",
        "data",
        "model",
        "net",
        "optimizer",
        "scheduler",
        "trainer",
        "logger",
        "callbacks",
        "eval",
        "paths",
        "hydra",
        "experiment",
        "hparams_search",
        "debug",
        "local",
    ]


@pytest.mark.parametrize("data", ["digits", "mnist_5k", "mnist", "cifar10"])
def test_image_data_picks_bernoulli_loss_unless_overridden(compose, data):
    assert compose(f"data={data}").loss.name == "bce"
    assert compose(f"data={data}", "loss=mse").loss.name == "mse"


def test_every_optimizer_is_a_partial_torch_optimizer(compose):
    for option in options("optimizer"):
        node = compose(f"optimizer={option}").optimizer
        assert node._partial_ and node._target_.startswith("torch.optim.")


def test_checkpoint_names_have_no_equals_sign(compose):
    checkpoint = compose("callbacks=default", fast=False).callbacks.model_checkpoint
    assert "=" not in checkpoint.filename and checkpoint.auto_insert_metric_name is False
