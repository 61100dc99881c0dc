"""Time series: the generator, windows, normalisation, the series nets, anomaly detection, ECG5000 and aelab-detect."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SHARED_DATA, run_cli

from aelab.data import CSVSeriesDataModule, ECG5000DataModule, SyntheticSeriesDataModule
from aelab.data.synthetic_series import ANOMALY_KINDS, synthetic_series
from aelab.data.timeseries import SeriesSet, cut_windows, to_steps
from aelab.metrics.detector import detect, point_adjust, reference
from aelab.nets import GRU, LSTM, Conv, TemporalConv
from aelab.utils.errors import UserError

ECG_SHARED = SHARED_DATA / "ecg5000"
CLI_FAST = ["trainer=cpu", "trainer.enable_progress_bar=false", "callbacks.progress_bar=null", "print_config=false"]


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """Return the [start, stop) spans of consecutive 1s."""
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def write_series_csv(path, length: int, seed: int, anomalies: int = 0, **columns) -> pd.DataFrame:
    """Write a two-channel synthetic series with a time and a label column; extra columns override."""
    values, labels = synthetic_series(
        length, channels=2, seed=0, part="test" if anomalies else "train", num_anomalies=anomalies
    )
    table = pd.DataFrame(
        {"time": np.arange(length) + seed * length, "a": values[:, 0], "b": values[:, 1], "label": labels, **columns}
    )
    table.to_csv(path, index=False)
    return table


def write_ucr(path, classes, length: int = 140, seed: int = 0, delimiter: str = " ") -> np.ndarray:
    """Write beats in the UCR text layout (class, then values), gzipped when the name ends in .gz."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, length)
    beats = np.sin(t)[None] * (1 + np.asarray(classes)[:, None]) + rng.normal(0, 0.1, (len(classes), length))
    rows = [delimiter.join(f"{v:.7e}" for v in [c, *beat]) for c, beat in zip(classes, beats)]
    text = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(text) if str(path).endswith(".gz") else text)
    return beats


# -- the generator and windows ----------------------------------------------------------------
def test_generator_is_deterministic_and_labels_exactly_the_injected_steps():
    values, labels = synthetic_series(3000, channels=3, seed=7, part="test", num_anomalies=10)
    again, labels_again = synthetic_series(3000, channels=3, seed=7, part="test", num_anomalies=10)
    assert np.array_equal(values, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(values, synthetic_series(3000, channels=3, seed=8, part="test", num_anomalies=10)[0])
    # Same seed and part without anomalies: the same noise, so the difference is the anomalies alone.
    clean, clean_labels = synthetic_series(3000, channels=3, seed=7, part="test", num_anomalies=0)
    assert clean_labels.sum() == 0
    changed = (np.abs(values - clean) > 1e-6).any(1)
    assert not changed[labels == 0].any(), "values changed outside the labelled steps"
    spans = segments(labels)
    assert len(spans) == 10
    assert all(changed[start:stop].any() for start, stop in spans), "a labelled anomaly changed nothing"
    # The kinds take turns: two of each here, spikes short and the others long.
    lengths = sorted(stop - start for start, stop in spans)
    assert max(lengths[:2]) < 4 and min(lengths[2:]) >= 30
    assert len(ANOMALY_KINDS) == 5
    assert synthetic_series(500, seed=7, part="train")[1].sum() == 0  # training series are normal


def test_windows_round_trip_to_the_series_and_label_any_anomalous_step():
    rng = np.random.default_rng(0)
    series = SeriesSet(
        [rng.normal(size=(103, 2)).astype(np.float32), rng.normal(size=(50, 2)).astype(np.float32)],
        [np.zeros(103, np.int64), np.zeros(50, np.int64)],
        ["first", "second"],
    )
    series.labels[0][40:43] = 1
    windows = cut_windows(series, window=16, stride=5, channels=2)
    assert windows.x.shape[1:] == (16, 2)
    for channel in range(2):
        steps = to_steps(windows.x[..., channel].numpy(), windows)
        for rebuilt, original in zip(steps, series.values):
            np.testing.assert_allclose(rebuilt, original[:, channel], atol=1e-6)
    covers = (windows.series == 0) & (windows.start <= 42) & (windows.start + 16 > 40)
    assert np.array_equal(windows.y.numpy() == 1, covers)
    with pytest.raises(UserError, match="fewer than data.window=64"):
        cut_windows(series, window=64, stride=1, channels=2)


def test_normalisation_sees_only_the_training_split(tmp_path):
    train = write_series_csv(tmp_path / "train.csv", 1000, seed=0)
    write_series_csv(tmp_path / "test.csv", 400, seed=1, a=np.full(400, 1000.0))

    def module(test: str) -> CSVSeriesDataModule:
        datamodule = CSVSeriesDataModule(
            train=str(tmp_path / "train.csv"),
            test=test,
            value_columns=["a", "b"],
            label_column="label",
            window=20,
            stride=5,
            shape=[20, 2],
            val_fraction=0.2,
        )
        datamodule.setup("fit")
        return datamodule

    datamodule = module(str(tmp_path / "test.csv"))
    head = train[["a", "b"]].to_numpy()[:800]  # the validation part (the last 20%) is left out too
    np.testing.assert_allclose(datamodule.hparams.mean, head.mean(0), rtol=1e-5)
    np.testing.assert_allclose(datamodule.hparams.std, head.std(0), rtol=1e-4)
    assert abs(float(datamodule.train_x.mean())) < 0.05 and float(datamodule.test_x[..., 0].mean()) > 100
    write_series_csv(tmp_path / "other.csv", 400, seed=2)
    assert module(str(tmp_path / "other.csv")).hparams.mean == datamodule.hparams.mean


def test_synthetic_module_trains_on_normal_windows_and_tests_on_labelled_ones():
    datamodule = SyntheticSeriesDataModule(window=32, stride=4, shape=[32, 2], channels=2)
    datamodule.setup("fit")
    assert datamodule.train_x.shape[1:] == (32, 2) and datamodule.label_level == "step"
    assert (datamodule.train_y == 0).all() and (datamodule.val_y == 0).all()
    assert 0.1 < float(datamodule.test_y.float().mean()) < 0.7
    assert isinstance(datamodule.hparams.mean[0], float)  # plain values: checkpoints load with weights_only


def test_point_adjustment_marks_whole_segments():
    label = np.array([0, 1, 1, 1, 0, 1, 1, 0])
    prediction = np.array([0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    adjusted = point_adjust(prediction, label, np.zeros(8, np.int64))
    assert adjusted.tolist() == [0, 1, 1, 1, 0, 0, 0, 1]


# -- nets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", ["lstm", "gru", "conv1d", "mlp"])
def test_each_net_learns_the_synthetic_series(loss_falls, net):
    loss_falls("data=synthetic_ts", f"net={net}", "data.window=32", "data.stride=8", steps=15)


def test_lstm_options_encdec_ad_and_bidirectional(loss_falls):
    loss_falls(
        "data=synthetic_ts",
        "net=lstm",
        "net.decoder_input=reverse",
        "net.bidirectional=true",
        "net.num_layers=2",
        "data.window=32",
        "data.stride=8",
        steps=50,
    )


@pytest.mark.parametrize("model", ["vae", "denoising_ae"])
def test_variants_detect_the_injected_anomalies_after_a_short_fit(compose, model):
    import pytorch_lightning as pl

    from aelab.train import build_datamodule, build_model

    cfg = compose("data=synthetic_ts", "net=conv1d", f"model={model}", "data.window=32", "data.stride=4")
    pl.seed_everything(0, verbose=False)
    datamodule = build_datamodule(cfg.data)
    autoencoder = build_model(cfg, datamodule)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=150,
        limit_val_batches=0,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(autoencoder, datamodule=datamodule)
    _, thresholds, report = detect(autoencoder, datamodule, reference(autoencoder, datamodule))
    assert report["score"] == autoencoder.anomaly_score  # the VAE scores by its negative ELBO, the DAE by error
    assert report["model"]["auroc"] > 0.8, report["model"]  # the anomalies are plain to see; chance is 0.5
    assert report["model"]["detected_fraction"] < 0.5 and np.isfinite(thresholds["model"])


def test_vq_vae_quantises_conv1d_features(compose):
    from aelab.train import build_datamodule, build_model

    cfg = compose("data=synthetic_ts", "net=conv1d", "model=vq_vae", "model.latent_dim=16", "data.window=32")
    datamodule = build_datamodule(cfg.data)
    autoencoder = build_model(cfg, datamodule)
    assert autoencoder(datamodule.val_x[:4]).shape == (4, 32, 1)


@pytest.mark.parametrize("net", [LSTM, GRU, TemporalConv])
def test_series_nets_refuse_images_in_one_sentence(net):
    with pytest.raises(UserError, match=rf"net={net.name} needs series shaped \[window, channels\], not \[1, 28, 28\]"):
        net([1, 28, 28])


def test_image_conv_refuses_series():
    with pytest.raises(UserError, match="net=conv needs images"):
        Conv([64, 1])


# -- detection --------------------------------------------------------------------------------
@pytest.mark.slow
def test_short_lstm_run_detects_the_injected_anomalies(compose):
    import pytorch_lightning as pl

    from aelab.train import build_datamodule, build_model

    cfg = compose("data=synthetic_ts", "net=lstm", "data.window=32")
    pl.seed_everything(0, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=20,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    _, _, report = detect(model, datamodule, reference(model, datamodule))
    assert report["level"] == "step"
    assert report["model"]["auroc"] >= 0.9, report
    assert report["model"]["auroc"] > report["pca"]["auroc"], report


# -- ECG5000 ----------------------------------------------------------------------------------
def test_ecg5000_reads_ucr_files_and_trains_on_normal_beats(tmp_path):
    train_classes = np.array([1, 1, 2, 1, 1, 3, 1, 1, 1, 1, 5, 1])
    write_ucr(tmp_path / "ECG5000_TRAIN.txt", train_classes, delimiter=",")
    write_ucr(tmp_path / "ECG5000_TEST.txt.gz", np.array([1, 0, 1, 0, 0]), seed=1)
    datamodule = ECG5000DataModule(root=str(tmp_path), window=140, stride=140, shape=[140, 1], val_fraction=0.2)
    datamodule.setup("fit")
    assert datamodule.label_level == "series"
    assert len(datamodule.train_x) + len(datamodule.val_x) == 9  # the normal beats only
    assert len(datamodule.val_x) == 2 and datamodule.test_x.shape == (5, 140, 1)
    assert datamodule.test_y.tolist() == [0, 1, 0, 1, 1]


def test_ecg5000_missing_files_name_the_folder_and_the_files(tmp_path):
    datamodule = ECG5000DataModule(root=str(tmp_path / "none"), window=140, stride=140, shape=[140, 1])
    with pytest.raises(UserError) as error:
        datamodule.setup("fit")
    message = str(error.value)
    assert str(tmp_path / "none") in message and "ECG5000_TRAIN.txt" in message and "ECG5000_TEST.txt" in message
    assert "data.download=true" in message


@pytest.mark.shared_data
@pytest.mark.skipif(not ECG_SHARED.is_dir(), reason="needs ../shared/data/ecg5000")
def test_ecg5000_real_files_and_the_pca_bar(compose):
    from aelab.train import build_datamodule, build_model

    cfg = compose("data=ecg5000", f"data.root={ECG_SHARED}", "data.test=ECG5000_TEST_reconstructed.txt.gz", "net=mlp")
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    assert len(datamodule.train_x) + len(datamodule.val_x) == 292
    assert len(datamodule.test_x) == 4500 and int(datamodule.test_y.sum()) == 1873
    _, _, report = detect(model, datamodule, reference(model, datamodule, pca_components=2))
    assert report["pca"]["auroc"] > 0.99 and report["pca"]["auprc"] > 0.98


# -- the command line -------------------------------------------------------------------------
def one_sentence_error(result) -> str:
    """Assert a non-zero exit with one line of output and no traceback; return that line."""
    output = result.stderr + result.stdout
    assert result.returncode != 0 and "Traceback" not in output, output[-2000:]
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.mark.slow
def test_train_then_detect_new_data_without_the_training_files(tmp_path):
    data = tmp_path / "series"
    data.mkdir()
    write_series_csv(data / "normal.csv", 1500, seed=0)
    write_series_csv(data / "test.csv", 1000, seed=1, anomalies=6)
    run = tmp_path / "run"
    trained = run_cli(
        "aelab-train",
        "data=csv",
        f"data.train={data / 'normal.csv'}",
        f"data.test={data / 'test.csv'}",
        "data.value_columns=[a,b]",
        "data.time_column=time",
        "data.label_column=label",
        "data.window=32",
        "data.stride=4",
        "net=conv1d",
        "trainer.max_epochs=15",  # five steps an epoch: three epochs leave conv1d barely trained
        *CLI_FAST,
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    trained_metrics = json.loads((run / "metrics.json").read_text())
    assert trained_metrics["test/auroc"] > 0.7  # chance is 0.5
    assert {"test/vus_pr", "test/vus_pr_pca", "test/top1_iforest", "test/range_auc_pr_tsb_pca"} <= set(trained_metrics)
    assert list((run / "images").glob("reconstruction_epoch_*.png"))

    (data / "normal.csv").unlink()  # scoring new data needs only the checkpoint
    write_series_csv(data / "new.csv", 800, seed=2, anomalies=4)
    out = tmp_path / "detect"
    ckpt = run / "checkpoints" / "last.ckpt"
    detected = run_cli(
        "aelab-detect", f"ckpt_path={ckpt}", f"data.test={data / 'new.csv'}", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert detected.returncode == 0, detected.stderr[-3000:]
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == [
        "series",
        "step",
        "time",
        "score",
        "label",
        "prediction",
        "pca_score",
        "pca_prediction",
        "tsb_pca_score",
        "tsb_pca_prediction",
        "iforest_score",
        "iforest_prediction",
    ]
    assert len(scores) == 800 and scores["time"].iloc[0] == 1600
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["level"] == "step" and metrics["detectors"] == ["model", "pca", "tsb_pca", "iforest"]
    field = {"auroc", "auprc", "best_f1", "f1", "f1_point_adjusted", "vus_pr", "vus_roc", "range_auc_roc", "top1"}
    assert all(field <= set(metrics[name]) for name in metrics["detectors"])
    assert (scores["prediction"] == (scores["score"] > metrics["threshold"]["model"])).all()
    assert (out / "detection.png").stat().st_size > 10_000

    pd.read_csv(data / "new.csv").rename(columns={"b": "c"}).to_csv(data / "renamed.csv", index=False)
    refused = run_cli(
        "aelab-detect",
        f"ckpt_path={ckpt}",
        f"data.test={data / 'renamed.csv'}",
        f"hydra.run.dir={tmp_path / 'refused'}",
        cwd=tmp_path,
    )
    assert "has no column 'b'" in one_sentence_error(refused)


def bad_inputs(folder) -> dict[str, tuple[list[str], str]]:
    """Each bad input of the issue: the overrides that produce it and a phrase of its one sentence."""
    good = write_series_csv(folder / "good.csv", 400, seed=0)
    good.assign(a=good["a"].where(good.index != 17)).to_csv(folder / "gaps.csv", index=False)
    good.assign(a=good["a"].astype(str).where(good.index != 5, "n/a?")).to_csv(folder / "text.csv", index=False)
    good.assign(label=good["label"].where(good.index != 9, 2)).to_csv(folder / "labels.csv", index=False)
    good.drop(columns="b").to_csv(folder / "fewer.csv", index=False)
    csv = ["data=csv", "data.value_columns=[a,b]", "data.label_column=label", "data.window=32"]

    def files(train: str, test: str = "good.csv") -> list[str]:
        return [f"data.train={folder / train}", f"data.test={folder / test}"]

    return {
        "missing values": ([*csv, *files("gaps.csv")], "missing values (first in column 'a', data row 18)"),
        "window longer than the series": ([*csv, *files("good.csv"), "data.window=500"], "fewer than data.window=500"),
        "non-numeric column": ([*csv, *files("text.csv")], "Column 'a' of"),
        "labels not 0/1": ([*csv, *files("good.csv", "labels.csv")], "holds values other than 0 and 1"),
        "test columns differ": ([*csv, *files("good.csv", "fewer.csv")], "has no column 'b'"),
        "no value columns": (["data=csv", *files("good.csv")], "data.value_columns"),
        "ECG5000 files missing": (["data=ecg5000", f"data.root={folder / 'none'}"], "ECG5000_TRAIN.txt"),
        "lstm on images": (["data=digits", "net=lstm"], "net=lstm needs series"),
    }


BAD_INPUTS = [
    "missing values",
    "window longer than the series",
    "non-numeric column",
    "labels not 0/1",
    "test columns differ",
    "no value columns",
    "ECG5000 files missing",
    "lstm on images",
]


@pytest.mark.cli
@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_ends_in_one_sentence(tmp_path, case):
    overrides, phrase = bad_inputs(tmp_path)[case]
    result = run_cli("aelab-train", *overrides, *CLI_FAST, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert phrase in one_sentence_error(result)


def test_missing_values_are_filled_when_asked_and_said(tmp_path, caplog):
    bad_inputs(tmp_path)
    datamodule = CSVSeriesDataModule(
        train=str(tmp_path / "gaps.csv"),
        test=str(tmp_path / "good.csv"),
        value_columns=["a", "b"],
        window=32,
        shape=[32, 2],
        missing="interpolate",
    )
    with caplog.at_level("WARNING", logger="aelab"):
        datamodule.setup("fit")
    assert "Filled 1 missing values" in caplog.text and "data.missing=interpolate" in caplog.text
    assert torch.isfinite(datamodule.train_x).all()


def test_npy_series_are_read_by_column_index(tmp_path):
    values, labels = synthetic_series(600, channels=2, seed=3, part="test", num_anomalies=3)
    np.save(tmp_path / "train.npy", synthetic_series(600, channels=2, seed=3)[0])
    np.save(tmp_path / "test.npy", np.column_stack([values, labels]))
    datamodule = CSVSeriesDataModule(
        train=str(tmp_path / "train.npy"),
        test=str(tmp_path / "test.npy"),
        value_columns=[0, 1],
        label_column=2,
        window=32,
        shape=[32, 2],
    )
    datamodule.setup("fit")
    assert datamodule.test_x.shape[2] == 2 and int(datamodule.test_y.max()) == 1
