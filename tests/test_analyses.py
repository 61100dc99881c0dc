"""The analyses of aelab-eval on tiny runs: figures that mean what they say, files and pictures that open."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONFIGS, run_cli
from PIL import Image

import aelab
from aelab.utils.errors import UserError, find_user_error

VARIANTS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml") if not p.stem.startswith("_"))
# Whole epochs of digits (21 batches each), so the figures mean something; quiet and on the CPU.
FIT = [
    "data=digits",
    "trainer=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks=none",
    "print_config=false",
    "trainer.max_epochs=10",
    "model.latent_dim=16",
    "eval.enabled=true",
    "eval.finetune.max_epochs=2",  # `all` fine-tunes three classifiers: two epochs each here
]
QUICK = ["trainer.max_epochs=2", "+trainer.limit_train_batches=4", "+trainer.limit_val_batches=2"]
DIGITS_TEST = 360  # 36 test images per class
GRID_CELL = 8 + 2  # an 8x8 digit and make_grid's padding of 2


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """Return a function that trains a configuration once per module: (run folder, metrics)."""
    from hydra.core.global_hydra import GlobalHydra

    done: dict[str, tuple[Path, dict]] = {}

    def train(name: str, *overrides: str) -> tuple[Path, dict]:
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            GlobalHydra.instance().clear()
            cfg = aelab.compose([*FIT, f"paths.data_dir={data_dir}", *overrides], output_dir=str(folder))
            done[name] = (folder, aelab.train(cfg))
        return done[name]

    yield train
    GlobalHydra.instance().clear()


def grid_size(rows: int, columns: int) -> tuple[int, int]:
    """The (width, height) of a make_grid picture of 8x8 digits."""
    return columns * GRID_CELL + 2, rows * GRID_CELL + 2


def test_linear_autoencoder_reaches_pca_on_the_training_split(run):
    # A larger step than the default: 8x8 inputs need larger weights than 28x28 ones (see configs/net/linear.yaml).
    _, metrics = run(
        "linear",
        "net=linear",
        "model.latent_dim=10",
        "optimizer.lr=0.02",
        "scheduler=cosine",
        "trainer.max_epochs=60",
        "eval.analyses=[reconstruction]",
    )
    assert metrics["recon/pca_components"] == 10
    # PCA is the optimum of a linear map on its training data: within 1%, and never clearly below it.
    assert 0.999 < metrics["recon/train_pca_ratio"] < 1.01
    assert metrics["recon/pca_ratio"] < 1.02


def test_reconstruction_agrees_with_the_test_step_and_sets_pca_beside_it(run):
    _, metrics = run("ae", "eval.analyses=all")
    assert metrics["recon/mse"] == pytest.approx(metrics["test/mse"], rel=1e-4)
    assert metrics["recon/psnr"] == pytest.approx(-10 * math.log10(metrics["recon/mse"]), rel=1e-4)
    assert metrics["recon/pca_ratio"] == pytest.approx(metrics["recon/mse"] / metrics["recon/pca_mse"])
    assert metrics["recon/pca_components"] == 16 and 0 < metrics["recon/pca_ssim"] <= 1


def test_linear_probe_and_clusters_beat_chance(run):
    _, metrics = run("ae", "eval.analyses=all")
    assert metrics["probe/chance"] == pytest.approx(0.1)
    for source in ("ae", "pixels", "pca"):
        assert metrics[f"probe/{source}_accuracy"] > metrics["probe/chance"] + 0.5, source
        assert metrics[f"cluster/{source}_nmi"] > 0.3 and metrics[f"cluster/{source}_accuracy"] > 0.3, source


def test_compression_counts_bits_and_loses_fidelity_with_coarser_codes(run):
    _, metrics = run("ae", "eval.analyses=all")
    assert metrics["compress/raw_bits"] == 64 * 8
    assert metrics["compress/bits_8"] == 16 * 8 and metrics["compress/ratio_8"] == 4.0
    assert metrics["compress/psnr_32"] == pytest.approx(metrics["recon/psnr"], rel=1e-5)
    assert abs(metrics["compress/psnr_16"] - metrics["compress/psnr_32"]) < 0.01
    assert metrics["compress/psnr_8"] < metrics["compress/psnr_32"] + 1e-3
    assert metrics["compress/pca_psnr_8"] < metrics["compress/pca_psnr_32"] + 1e-3


def test_codes_are_exported_with_their_labels(run):
    import pandas as pd

    folder, _ = run("ae", "eval.analyses=all")
    codes, labels = np.load(folder / "analyses" / "codes.npy"), np.load(folder / "analyses" / "labels.npy")
    assert codes.shape == (DIGITS_TEST, 16) and np.bincount(labels).tolist() == [36] * 10
    table = pd.read_csv(folder / "analyses" / "codes.csv")
    assert list(table.columns) == [f"z{i}" for i in range(16)] + ["label"]
    np.testing.assert_allclose(table.iloc[:, :16].to_numpy(), codes, rtol=1e-5, atol=1e-6)
    assert (table["label"].to_numpy() == labels).all()


def test_every_picture_is_a_png_of_the_expected_size(run):
    folder, metrics = run("ae", "eval.analyses=all")
    expected = {
        "reconstruction.png": grid_size(3, 8),  # originals, model, PCA
        "denoising.png": grid_size(7, 8),  # clean, then noisy and denoised for each of three noises
        "latents.png": (600, 600),
    }
    pictures = {p.name: p for p in (folder / "analyses").glob("*.png")}
    assert set(pictures) == set(expected)
    for name, size in expected.items():
        with Image.open(pictures[name]) as image:
            assert image.format == "PNG" and image.size == size, name
            image.load()
    assert "gen/nll_iwae" not in metrics and not any(k.startswith("anomaly/") for k in metrics)


def test_denoising_autoencoder_output_is_cleaner_than_its_input(run):
    _, metrics = run("dae", "model=denoising_ae", "eval.analyses=[denoising]")
    for setting in ("gaussian_0.3", "gaussian_0.5", "masking_0.5", "salt_pepper_0.2"):
        assert metrics[f"denoise/{setting}_psnr"] > metrics[f"denoise/{setting}_noisy_psnr"] + 1, setting
    assert metrics["denoise/gaussian_0.1_pca_psnr"] > metrics["denoise/gaussian_0.5_pca_psnr"]


def test_one_class_anomaly_detection_separates_a_digit_from_the_others(run):
    folder, metrics = run("oneclass", "data.normal_classes=[0]", "eval.analyses=default")
    assert metrics["anomaly/anomaly_fraction"] == pytest.approx(0.9)
    assert metrics["anomaly/auroc"] > 0.9 and metrics["anomaly/pca_auroc"] > 0.9
    assert metrics["anomaly/auprc"] > 0.9  # 90% of the test images are anomalies: chance is 0.9
    with Image.open(folder / "analyses" / "anomaly_scores.png") as image:
        assert image.size == (600, 600)
    with Image.open(folder / "analyses" / "anomaly_top.png") as image:
        assert image.size == grid_size(2, 8)


def test_normal_classes_keep_training_on_normal_digits_and_test_on_all(compose):
    from aelab.train import build_datamodule

    datamodule = build_datamodule(compose("data=digits", "data.normal_classes=[3,5]").data)
    assert set(datamodule.train_y.tolist()) == {3, 5} and set(datamodule.val_y.tolist()) == {3, 5}
    assert set(datamodule.test_y.tolist()) == set(range(10)) and len(datamodule.test_x) == DIGITS_TEST
    with pytest.raises(UserError, match="matches no training sample"):
        build_datamodule(compose("data=digits", "data.normal_classes=[42]").data)


def test_vae_generation_bounds_and_pictures(run):
    folder, metrics = run("vae", "model=vae", "eval.analyses=default")
    assert {k.split("/")[0] for k in metrics} >= {"recon", "gen", "test"}
    # The IWAE bound is at least as tight as the ELBO, and bits/dim is the same number in another unit.
    assert metrics["gen/nll_iwae"] <= metrics["gen/nll_elbo"] + 0.05
    assert metrics["gen/bits_per_dim"] == pytest.approx(metrics["gen/nll_iwae"] / (64 * math.log(2)))
    sizes = {"samples.png": grid_size(8, 8), "interpolations.png": grid_size(4, 10), "traversals.png": grid_size(8, 10)}
    for name, size in sizes.items():
        with Image.open(folder / "analyses" / name) as image:
            assert image.format == "PNG" and image.size == size, name


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_runs_the_analyses_that_apply_to_it(run, variant):
    from hydra.utils import get_class
    from omegaconf import OmegaConf

    model_class = get_class(OmegaConf.load(CONFIGS / "model" / f"{variant}.yaml")._target_)
    net = ["net=conv"] if model_class.needs_spatial_features else []
    folder, metrics = run(f"all_{variant}", f"model={variant}", *net, *QUICK, "eval.analyses=all")
    groups = {key.split("/")[0] for key in metrics}
    assert groups >= {"codes", "probe", "cluster", "latents", "finetune"}
    # The reconstruction analyses run for the models that decode, and only for them.
    assert ({"recon", "denoise", "compress"} <= groups) == model_class.can_decode
    assert not ({"recon", "denoise", "compress"} & groups) or model_class.can_decode
    # What each analysis reports follows the capabilities the variant declares, and nothing else.
    assert ("gen/nll_iwae" in metrics) == model_class.has_likelihood
    assert (folder / "analyses" / "samples.png").is_file() == model_class.can_sample
    assert ("compress/bits_index" in metrics) == model_class.quantised
    assert all(math.isfinite(value) for value in metrics.values())


def test_an_analysis_that_does_not_apply_stops_training_before_it_starts(compose, tmp_path):
    with pytest.raises(Exception) as caught:
        aelab.train(compose("data=digits", "eval.enabled=true", "eval.analyses=[generation]"))
    assert "needs a model that samples from a prior" in str(find_user_error(caught.value))
    assert not (tmp_path / "run" / "checkpoints").exists()
    with pytest.raises(Exception) as caught:
        aelab.train(compose("data=digits", "eval.enabled=true", "eval.analyses=[clustering]"))
    assert "Unknown analysis 'clustering'" in str(find_user_error(caught.value))


@pytest.mark.cli
def test_eval_command_line_writes_the_chosen_analyses(run, tmp_path):
    folder, trained = run("ae", "eval.analyses=all")
    checkpoint = next((folder / "checkpoints").glob("epoch_*.ckpt"))
    result = run_cli(
        "aelab-eval",
        f"ckpt_path={checkpoint}",
        f"hydra.run.dir={tmp_path / 'eval'}",
        "trainer.enable_progress_bar=false",
        "eval.analyses=[reconstruction,codes]",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for key in ("test/mse", "recon/mse", "recon/pca_mse", "recon/pca_ratio", "codes/count"):
        assert key in written, key
    assert written["recon/mse"] == pytest.approx(trained["recon/mse"], rel=1e-5)
    assert not any(key.startswith("probe/") for key in written)
    assert (tmp_path / "eval" / "analyses" / "codes.csv").is_file()
    csv = (tmp_path / "eval" / "csv" / "metrics.csv").read_text()
    assert "recon/pca_ratio" in csv.splitlines()[0]  # the loggers got the analyses too


def test_pca_baseline_is_sklearn_pca_at_the_code_size():
    from sklearn.decomposition import PCA as SklearnPCA

    from aelab.metrics.pca import PCA

    x = torch.rand(200, 1, 6, 6)
    baseline = PCA.fit(x, 5)
    reference = SklearnPCA(5).fit(x.flatten(1).double().numpy())
    projected = reference.inverse_transform(reference.transform(x.flatten(1).double().numpy()))
    np.testing.assert_allclose(baseline.reconstruct(x).flatten(1).numpy(), projected, atol=1e-5)
    assert PCA.fit(x[:3], 10).components == 3  # capped at the number of samples
