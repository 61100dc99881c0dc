"""Interrupted runs: SIGTERM saves and explains, SIGKILL then `ckpt_path=last` ends as if never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import BIN, run_cli

pytestmark = pytest.mark.slow  # real runs killed and resumed

RUN = [
    "data=digits",
    "trainer=cpu",
    "trainer.deterministic=true",
    "trainer.enable_progress_bar=false",
    "print_config=false",
    "callbacks=none",
    "data.batch_size=32",
]


def start(run: Path, *overrides: str) -> subprocess.Popen:
    """Start aelab-train in the background, writing into `run`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [str(BIN / "aelab-train"), *RUN, *overrides, f"hydra.run.dir={run}"],
        cwd=run.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_epoch(checkpoint: Path, epoch: int, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until `checkpoint` holds at least `epoch` finished epochs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= epoch:
                return
        except (RuntimeError, EOFError, OSError):
            pass  # caught between the write of the temporary file and its rename
        time.sleep(0.2)
    raise TimeoutError(f"{checkpoint} did not reach epoch {epoch}")


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    process = start(run, "trainer.max_epochs=500")
    wait_for_epoch(run / "checkpoints" / "last.ckpt", 0, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-2000:]
    assert (run / "checkpoints" / "interrupted.ckpt").exists()
    assert f"hydra.run.dir={run} ckpt_path=last" in stderr


def test_sigkill_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    epochs = "trainer.max_epochs=4"
    reference = run_cli("aelab-train", *RUN, epochs, f"hydra.run.dir={tmp_path / 'reference'}", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr[-2000:]

    run = tmp_path / "killed"
    process = start(run, epochs)
    wait_for_epoch(run / "checkpoints" / "last.ckpt", 1, process)
    process.kill()
    process.communicate()
    assert not (run / "metrics.json").exists()
    resumed = run_cli("aelab-train", *RUN, epochs, f"hydra.run.dir={run}", "ckpt_path=last", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    got = json.loads((run / "metrics.json").read_text())
    for key in ("val/loss_best", "test/mse", "test/loss"):
        assert abs(got[key] - expected[key]) <= 1e-6 * abs(expected[key]), (key, got[key], expected[key])


def test_a_diverging_loss_stops_with_the_step_and_the_term(tmp_path):
    run = tmp_path / "run"
    result = run_cli(
        "aelab-train",
        *RUN,
        "loss=mse",
        "data.output_activation=identity",
        "optimizer=sgd",
        "optimizer.lr=1e4",
        "trainer.max_epochs=3",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "The loss became" in result.stderr and "in the recon term" in result.stderr
    assert "gradient_clip_val" in result.stderr


def test_checkpoints_carry_and_restore_the_cuda_generators_too(monkeypatch):
    """On a CPU machine, with a stand-in for two CUDA devices' generator states."""
    from aelab.callbacks.record import CHECKPOINT_KEY, RunRecordCallback

    states = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4, 5, 6], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in states])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.extend)
    callback, checkpoint = RunRecordCallback({}, {}), {}
    callback.on_save_checkpoint(None, None, checkpoint)
    cpu = torch.get_rng_state()
    torch.rand(10)  # the run goes on: the CPU state moves
    callback.on_load_checkpoint(None, None, checkpoint)
    assert [s.tolist() for s in checkpoint[CHECKPOINT_KEY]["cuda_rng"]] == [[1, 2, 3], [4, 5, 6]]
    assert [s.tolist() for s in restored] == [[1, 2, 3], [4, 5, 6]] and torch.equal(torch.get_rng_state(), cpu)
