"""The console scripts as a user runs them: train, evaluate, and the one-sentence errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli
from formats import write_mnist

pytestmark = pytest.mark.cli

FAST = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false",
    "print_config=false",
]


def test_help_answers_without_importing_lightning(tmp_path):
    result = run_cli("aelab-train", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "mnist_5k" in result.stdout and "model: aae, ae," in result.stdout
    # The console script's own import path, with a look at what it loaded (Lightning alone costs seconds).
    code = (
        "import sys\nsys.argv = ['aelab-train', '--help']\nfrom aelab.train import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('pytorch_lightning', 'torch', 'lightning_fabric') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "LOADED []" in loaded.stdout, loaded.stdout[-500:] + loaded.stderr[-2000:]


def test_train_then_eval_report_the_same_test_metrics(tmp_path):
    run = tmp_path / "run"
    train = run_cli(
        "aelab-train", "data=digits", "net=conv", "optimizer=sgd", *FAST, f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert train.returncode == 0, train.stderr[-2000:]
    trained = json.loads((run / "metrics.json").read_text())
    best = next((run / "checkpoints").glob("epoch_*.ckpt"))
    evaluated_dir = tmp_path / "eval"
    result = run_cli(
        "aelab-eval",
        f"ckpt_path={best}",
        f"hydra.run.dir={evaluated_dir}",
        "trainer.enable_progress_bar=false",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    evaluated = json.loads((evaluated_dir / "metrics.json").read_text())
    for key in ("test/mse", "test/psnr", "test/ssim", "test/loss"):
        assert abs(evaluated[key] - trained[key]) < 1e-5, key


def test_mnist_files_placed_in_a_folder(tmp_path):
    write_mnist(tmp_path / "files" / "MNIST" / "raw", n_train=100, n_test=30, gz=True)
    result = run_cli(
        "aelab-train",
        "data=mnist",
        f"data.root={tmp_path / 'files'}",
        "data.download=false",
        "net=conv",
        *FAST,
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from aelab.data import MNISTDataModule

    # The run read exactly the files placed there: its record's data fingerprint is theirs.
    placed = MNISTDataModule(root=str(tmp_path / "files"))
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["data_fingerprint"] == placed.fingerprint()


def test_missing_download_is_one_sentence_and_a_nonzero_exit(tmp_path):
    result = run_cli(
        "aelab-train",
        "data=mnist",
        f"data.root={tmp_path / 'empty'}",
        "data.download=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: The MNIST files are missing") and str(tmp_path / "empty") in lines[0]
    assert "train-images-idx3-ubyte.gz" in lines[0] and "data.download=true" in lines[0]


def test_eval_refuses_a_file_that_is_not_an_aelab_checkpoint(tmp_path):
    bogus = tmp_path / "model.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    result = run_cli("aelab-eval", f"ckpt_path={bogus}", f"hydra.run.dir={tmp_path / 'eval'}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a readable checkpoint" in result.stderr
