"""The bad-input table: every way a user can get it wrong ends in one sentence, a non-zero exit and no traceback.

Each row runs the real command line. `{files}` stands for a folder of prepared bad files and `{ckpt}` for a
tiny trained autoencoder (latent 4, one hidden layer of 16, on the 8 x 8 digits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

pytestmark = pytest.mark.cli  # each row starts the real command line

FAST = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
    "callbacks=none",
    "print_config=false",
]
TINY = ["model.latent_dim=4", "net.hidden_dims=[16]"]

# id: (command, arguments, words the one line must contain). Each row that imports Lightning costs ~5 s, so
# near-duplicates of a row (data.batch_size=1.5, data.batch_size=-3) are left out.
ROWS = {
    "unknown_model": ("aelab-train", ["model=nope"], ["There is no model=nope", "vae", "--help"]),
    "unknown_data": ("aelab-train", ["data=nope"], ["There is no data=nope", "digits"]),
    "unknown_key": ("aelab-train", ["model.latnt_dim=4"], ["There is no setting model.latnt_dim", "--cfg job"]),
    "override_syntax": ("aelab-train", ["model.latent_dim=["], ["Cannot read the override", "quote"]),
    "unknown_option_in_multirun": (
        "aelab-train",
        ["-m", "net=nope", "hydra.sweep.dir={files}/sweep"],
        ["There is no net=nope", "conv1d"],
    ),
    "several_values_without_multirun": ("aelab-train", ["model.latent_dim=4,8"], ["lists several values", "-m"]),
    "output_folder_not_writable": (
        "aelab-train",
        ["hydra.run.dir=/proc/nope"],
        ["Cannot write the output folder /proc/nope", "hydra.run.dir="],
    ),
    "output_folder_under_a_file": (
        "aelab-train",
        ["hydra.run.dir={files}/plain.ckpt/run"],
        ["Cannot write the output folder", "not a directory"],
    ),
    "latent_not_a_number": ("aelab-train", ["model.latent_dim=abc"], ["model.latent_dim=abc", "whole number"]),
    "max_epochs_not_a_number": ("aelab-train", ["trainer.max_epochs=x"], ["trainer.max_epochs=x", "whole number"]),
    "zero_latent": ("aelab-train", ["model.latent_dim=0"], ["model.latent_dim", "positive"]),
    "latent_larger_than_input": ("aelab-train", ["model.latent_dim=100"], ["larger than the input", "smaller"]),
    "lstm_on_images": ("aelab-train", ["net=lstm"], ["net=lstm needs series", "net=conv"]),
    "conv_on_series": ("aelab-train", ["data=synthetic_ts", "net=conv"], ["net=conv needs images", "net=lstm"]),
    "bce_on_standardised_series": ("aelab-train", ["data=synthetic_ts", "loss=bce"], ["loss=bce", "loss=mse"]),
    "npy_missing": ("aelab-train", ["data=npy", "data.path={files}/missing.npy"], ["does not exist", "data.path"]),
    "npy_damaged": ("aelab-train", ["data=npy", "data.path={files}/damaged.npy"], ["not a readable .npy"]),
    "npy_with_nan": ("aelab-train", ["data=npy", "data.path={files}/nan.npy"], ["NaN or infinite", "clean"]),
    "required_value_missing": ("aelab-train", ["data=npy"], ["data.path has no value", "data.path="]),
    "csv_with_missing_values": (
        "aelab-train",
        ["data=csv", "data.train={files}/gap.csv", "data.value_columns=[v]"],
        ["missing values", "data.missing=interpolate"],
    ),
    "test_stride_longer_than_window": (
        "aelab-train",
        ["data=synthetic_ts", "data.test_stride=100"],
        ["data.test_stride=100 is longer than data.window", "at most the window"],
    ),
    "csv_with_infinity": (
        "aelab-train",
        ["data=csv", "data.train={files}/inf.csv", "data.value_columns=[v]"],
        ["infinite values", "clean"],
    ),
    "ckpt_path_missing": ("aelab-train", ["ckpt_path={files}/none.ckpt"], ["does not exist", "ckpt_path=last"]),
    "ckpt_not_a_checkpoint": ("aelab-train", ["ckpt_path={files}/junk.ckpt"], ["not a readable checkpoint"]),
    "ckpt_not_from_aelab": ("aelab-eval", ["ckpt_path={files}/plain.ckpt"], ["not written by aelab-train"]),
    "ckpt_of_another_variant": (
        "aelab-train",
        ["model=vae", *TINY, "ckpt_path={ckpt}"],
        ["holds another model", "model AE (this run: VAE)", "leave out ckpt_path"],
    ),
    "eval_without_ckpt_path": ("aelab-eval", [], ["ckpt_path has no value"]),
    "eval_on_data_of_another_shape": (
        "aelab-eval",
        ["ckpt_path={ckpt}", "data=synthetic_ts"],
        ["inputs of shape [1, 8, 8]", "[64, 1]"],
    ),
    "detect_with_an_image_checkpoint": ("aelab-detect", ["ckpt_path={ckpt}"], ["not trained on series", "aelab-eval"]),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A folder of bad inputs: damaged, NaN and infinite data, and files that are not aelab checkpoints."""
    folder = tmp_path_factory.mktemp("bad")
    values = np.random.default_rng(0).random((60, 64), dtype=np.float32)
    values[3, 5] = np.nan
    np.save(folder / "nan.npy", values)
    (folder / "damaged.npy").write_bytes(b"\x93NUMPY damaged")
    wave = np.sin(np.arange(300) / 5)
    wave[50] = np.inf
    (folder / "inf.csv").write_text("v\n" + "\n".join(map(str, wave)) + "\n")
    long_wave = np.sin(np.arange(1000) / 5)
    long_wave[50] = np.nan  # written as "nan": a blank line in a one-column CSV would be skipped, not missing
    (folder / "gap.csv").write_text("v\n" + "\n".join(map(str, long_wave)) + "\n")
    (folder / "junk.ckpt").write_text("junk\n")
    torch.save({"state_dict": {}}, folder / "plain.ckpt")
    return folder


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, data_dir) -> Path:
    """One tiny trained autoencoder, shared by the checkpoint rows."""
    run = tmp_path_factory.mktemp("trained")
    result = run_cli(
        "aelab-train",
        "data=digits",
        *FAST,
        "callbacks=default",
        *TINY,
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run}",
        cwd=run,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return run / "checkpoints" / "last.ckpt"


def command_line(command: str, arguments: list[str], tmp_path: Path, data_dir: Path) -> list[str]:
    """The row's arguments after the fast defaults: digits unless the row names data, its own run folder."""
    base = [f"paths.data_dir={data_dir}"]
    if command == "aelab-eval":
        base.append("trainer.enable_progress_bar=false")
    if command == "aelab-train":
        base = [*FAST, f"paths.data_dir={data_dir}"]
        if not any(a.startswith("data=") for a in arguments):
            base.append("data=digits")
    if not any(a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in arguments):
        base.append(f"hydra.run.dir={tmp_path / 'run'}")
    flags = [a for a in arguments if a.startswith("-")]  # Hydra reads flags before the overrides
    return [command, *flags, *base, *(a for a in arguments if a not in flags)]


@pytest.mark.parametrize("row", ROWS, ids=list(ROWS))
def test_bad_input_ends_in_one_sentence(row, tmp_path, data_dir, request):
    command, arguments, words = ROWS[row]
    places = {
        "files": request.getfixturevalue("files") if any("{files}" in a for a in arguments) else None,
        "ckpt": request.getfixturevalue("ckpt") if any("{ckpt}" in a for a in arguments) else None,
    }
    arguments = [a.format(**places) for a in arguments]
    result = run_cli(*command_line(command, arguments, tmp_path, data_dir), cwd=tmp_path)
    output = result.stderr + result.stdout
    lines = [line for line in output.splitlines() if line.strip()]
    assert result.returncode != 0, output[-2000:]
    assert "Traceback" not in output
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and all(w in lines[0] for w in words), lines[0]


def test_full_error_shows_the_traceback(tmp_path, data_dir):
    result = run_cli(
        *command_line("aelab-train", ["model=nope"], tmp_path, data_dir), cwd=tmp_path, env={"HYDRA_FULL_ERROR": "1"}
    )
    assert result.returncode != 0 and "Traceback" in result.stderr
