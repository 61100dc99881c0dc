"""Each private Lightning or Hydra internal aelab relies on still behaves as assumed; a failure names the change.

When one of these fails after an upgrade, the message says which internal moved and where aelab uses it
(`aelab/internals/`); the end-to-end tests (DDP sweeps, bad input, resume) then show what it broke.
"""

from __future__ import annotations

import inspect

import pytest
import pytorch_lightning as pl
import torch

UPDATE = "update aelab/internals/{} (or drop the path it serves)"


def test_hydra_reports_errors_through_a_module_function_it_looks_up_at_call_time():
    from hydra._internal import utils as hydra_utils

    assert callable(getattr(hydra_utils, "run_and_report", None)), (
        "Hydra no longer has hydra._internal.utils.run_and_report: " + UPDATE.format("hydra.py")
    )
    source = inspect.getsource(hydra_utils._run_hydra)
    assert "run_and_report(" in source, (
        "Hydra's _run_hydra no longer calls run_and_report, so one-sentence errors are lost: "
        + UPDATE.format("hydra.py")
    )


def test_the_hydra_error_wrapper_is_used_and_restored():
    from hydra._internal import utils as hydra_utils

    from aelab.internals.hydra import reporting_errors_with

    original, seen = hydra_utils.run_and_report, []
    with reporting_errors_with(lambda report: seen.append(report) or report):
        assert seen == [original]
    assert hydra_utils.run_and_report is original


def test_lightnings_subprocess_launcher_builds_rank_commands_in_the_function_aelab_swaps():
    from pytorch_lightning.strategies.launchers import subprocess_script

    message = "Lightning changed how _SubprocessScriptLauncher starts DDP ranks under Hydra: " + UPDATE.format(
        "lightning.py (JobLauncher, rank_commands_from)"
    )
    assert callable(getattr(subprocess_script, "_hydra_subprocess_cmd", None)), message
    launcher = subprocess_script._SubprocessScriptLauncher
    assert "_hydra_subprocess_cmd(" in inspect.getsource(launcher._call_children_scripts), message
    for member in ("cluster_environment", "num_processes", "num_nodes", "procs"):
        assert member in inspect.getsource(launcher), message
    from lightning_fabric.strategies.launchers.subprocess_script import _ChildProcessObserver

    assert {"_run", "_terminate_all"} <= set(vars(_ChildProcessObserver)), message


def test_the_swapped_rank_command_is_restored():
    from pytorch_lightning.strategies.launchers import subprocess_script

    from aelab.internals.lightning import rank_commands_from

    original = subprocess_script._hydra_subprocess_cmd
    with rank_commands_from(lambda rank: (["echo"], ".")):
        assert subprocess_script._hydra_subprocess_cmd(0) == (["echo"], ".")
    assert subprocess_script._hydra_subprocess_cmd is original


def test_the_strategy_keeps_its_launcher_where_aelab_replaces_it():
    from aelab.internals.lightning import replace_launcher, strategy_launcher

    trainer = pl.Trainer(accelerator="cpu", strategy="ddp", devices=2, logger=False, enable_progress_bar=False)
    marker = object()
    replace_launcher(trainer, marker)
    assert strategy_launcher(trainer) is marker, (
        "Strategy.launcher no longer returns Strategy._launcher: " + UPDATE.format("lightning.py (replace_launcher)")
    )


class Spy(pl.LightningModule):
    """A module that records the attribute names set on it."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 2)
        object.__setattr__(self, "names", set())

    def __setattr__(self, name, value):
        if "names" in self.__dict__:
            self.names.add(name)
        super().__setattr__(name, value)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_names_each_hook_on_the_module_through_the_attribute_the_fast_path_serves():
    from aelab.internals.lightning import HOOK_NAME_ATTRIBUTE

    spy = Spy()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(spy, data)
    assert HOOK_NAME_ATTRIBUTE in spy.names, (
        f"Lightning no longer sets LightningModule.{HOOK_NAME_ATTRIBUTE} around hooks (it set {sorted(spy.names)}): "
        + UPDATE.format("lightning.py (FastHookName)")
    )


def test_the_fast_path_stores_the_hook_name_like_the_module_would():
    from aelab.internals.lightning import HOOK_NAME_ATTRIBUTE, FastHookName

    class Module(FastHookName, torch.nn.Module):
        pass

    module = Module()
    setattr(module, HOOK_NAME_ATTRIBUTE, "training_step")
    module.layer = torch.nn.Linear(1, 1)  # every other attribute still goes through nn.Module
    assert getattr(module, HOOK_NAME_ATTRIBUTE) == "training_step" and "layer" in dict(module.named_children())


def test_monitors_read_the_metrics_dictionary_aelab_writes_into(compose):
    import aelab

    cfg = compose(
        "data=digits",
        "trainer.max_epochs=2",
        "callbacks=default",
        "callbacks.model_checkpoint.monitor=train/loss",
        "test=false",
    )
    metrics = aelab.train(cfg)
    assert "train/loss_best" in metrics, (
        "ModelCheckpoint no longer sees training metrics written into trainer.callback_metrics: "
        + UPDATE.format("lightning.py (write_train_metrics)")
    )


@pytest.mark.parametrize("hook", ["on_train_epoch_end"])
def test_monitoring_callbacks_run_after_the_modules_epoch_end_hook(hook):
    from pytorch_lightning.loops import fit_loop

    source = inspect.getsource(fit_loop._FitLoop.on_advance_end)
    first_module = source.find(f'_call_lightning_module_hook(trainer, "{hook}"')
    monitors = source.find("monitoring_callbacks=True")
    assert 0 <= first_module < monitors, (
        "Lightning no longer runs checkpointing and early stopping after the module's on_train_epoch_end, where aelab "
        "writes the epoch's training metrics: " + UPDATE.format("lightning.py (write_train_metrics)")
    )


def test_a_detached_module_has_no_trainer_and_its_public_property_raises():
    from aelab.internals.lightning import attached_trainer

    module = pl.LightningModule()
    assert attached_trainer(module) is None, "LightningModule._trainer moved: " + UPDATE.format("lightning.py")
    with pytest.raises(RuntimeError):
        module.trainer  # noqa: B018 - the reason aelab reads _trainer
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    module.trainer = trainer
    assert attached_trainer(module) is trainer
