"""Learning-rate schedules: Burda et al.'s staged decay, stepped once an epoch and resumed from checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from aelab.schedulers import StagedDecayLR


def rates(scheduler: StagedDecayLR, epochs: int) -> list[float]:
    """The learning rate of each epoch, stepping the scheduler at every epoch's end."""
    optimizer = scheduler.optimizer
    seen = []
    for _ in range(epochs):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def adam(lr: float = 1e-3) -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_burdas_schedule_runs_three_to_the_i_passes_at_a_tenth_every_seven_stages():
    scheduler = StagedDecayLR(adam())
    seen = rates(scheduler, 3300)
    assert scheduler.total_epochs == 3280
    start = 0
    for i in range(8):
        stage = seen[start : start + 3**i]
        assert stage == pytest.approx([1e-3 * 10 ** (-i / 7)] * 3**i, rel=1e-12), f"stage {i}"
        start += 3**i
    assert seen[3280:] == pytest.approx([1e-4] * 20)  # the last rate stays


def test_a_resumed_schedule_continues_mid_stage():
    scheduler = StagedDecayLR(adam())
    rates(scheduler, 20)  # inside stage 3 (epochs 13..39)
    resumed = StagedDecayLR(adam())  # as Lightning resumes: build both afresh, then load their states
    resumed.optimizer.load_state_dict(scheduler.optimizer.state_dict())
    resumed.load_state_dict(scheduler.state_dict())
    expected = rates(StagedDecayLR(adam()), 45)[20:]
    assert rates(resumed, 25) == pytest.approx(expected) == rates(scheduler, 25)
    assert expected[19] > expected[20] == pytest.approx(1e-3 * 10 ** (-4 / 7))  # epoch 40 starts stage 4


def test_scheduler_staged_steps_once_an_epoch_in_a_run(compose, tmp_path):
    import aelab

    cfg = compose("model=vae", "scheduler=staged", "optimizer.lr=0.002", "trainer.max_epochs=2")
    aelab.train(cfg)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["lr_schedulers"][0]
    assert state["last_epoch"] == 2
    assert state["_last_lr"] == [pytest.approx(0.002 * 10 ** (-1 / 7))]  # epochs 1..3 form stage 1
    assert math.isclose(state["base_lrs"][0], 0.002)
