"""The public benchmarks' formats read natively (files written here in each format), refused in one sentence when
malformed; data.window=auto; the detector's field metrics for the model and every baseline; aelab-benchmark."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from series_files import write_nab, write_nasa, write_tsb_ad, write_ucr_anomaly
from test_timeseries import CLI_FAST, one_sentence_error

from aelab.data import CSVSeriesDataModule, NABDataModule, NASADataModule, TSBADDataModule, UCRAnomalyDataModule
from aelab.data.nab import probation_period
from aelab.utils.errors import UserError

SMALL = {"window": 24, "stride": 4, "test_stride": 1}


def labelled_steps(datamodule) -> list[np.ndarray]:
    """The test split's step labels, per series."""
    datamodule.setup("fit")
    return datamodule.series("test").labels


# -- UCR anomaly archive ------------------------------------------------------------------------
@pytest.mark.parametrize("one_line", [False, True])
def test_ucr_anomaly_files_in_both_layouts_give_the_prefix_and_the_anomaly(tmp_path, one_line):
    path = write_ucr_anomaly(tmp_path, length=1200, train_end=500, begin=800, end=830, one_line=one_line)
    datamodule = UCRAnomalyDataModule(path=str(tmp_path / "*.txt"), **SMALL)
    (labels,) = labelled_steps(datamodule)
    assert len(datamodule.series("train").values[0]) + len(datamodule.series("val").values[0]) == 500
    assert len(labels) == 700  # values 501..1200 are scored
    assert np.flatnonzero(labels).tolist() == list(range(299, 330))  # values 800..830 (1-based) of the file
    raw = np.loadtxt(path).ravel()
    test = datamodule.series("test").values[0][:, 0] * datamodule.hparams.std[0] + datamodule.hparams.mean[0]
    np.testing.assert_allclose(test, raw[500:], atol=1e-4)
    source = datamodule.sources()[0]
    assert source.dataset == "Seasonal" and source.overrides == {"path": str(path)}


@pytest.mark.parametrize(
    ("name", "text", "phrase"),
    [
        ("001_UCR_Anomaly_Seasonal1_500.txt", "1\n2\n", "is not named as the UCR anomaly archive names its files"),
        ("001_UCR_Anomaly_Seasonal1_500_1300_1310.txt", None, "do not fit its 1200 values"),
        ("001_UCR_Anomaly_Seasonal1_900_800_830.txt", None, "the anomaly after the training part"),
        ("001_UCR_Anomaly_Seasonal1_500_800_830.txt", "1.5\n2.5\nabc\n", "'abc' is not a number"),
    ],
)
def test_malformed_ucr_files_are_refused_in_one_sentence(tmp_path, name, text, phrase):
    values = write_ucr_anomaly(tmp_path / "src").read_text()
    (tmp_path / name).write_text(text if text is not None else values)
    with pytest.raises(UserError, match=phrase):
        UCRAnomalyDataModule(path=str(tmp_path / name), **SMALL).setup("fit")


# -- NAB ------------------------------------------------------------------------------------------
def test_nab_series_take_their_labels_from_the_windows_file_and_a_probationary_prefix(tmp_path):
    write_nab(
        tmp_path, {"realX/a.csv": (3000, [(2000, 2040)]), "artificialY/b.csv": (2000, [(1500, 1510), (1700, 1750)])}
    )
    datamodule = NABDataModule(root=str(tmp_path), series="*/*.csv", **SMALL)
    labels = labelled_steps(datamodule)
    names = datamodule.series("test").names
    assert names == ["artificialY/b", "realX/a"]  # sorted keys, without .csv
    b_start, a_start = probation_period(2000), probation_period(3000)
    assert (b_start, a_start) == (300, 450)  # min(floor(0.15 n), 750)
    assert np.flatnonzero(labels[1]).tolist() == list(range(2000 - a_start, 2041 - a_start))  # window ends included
    assert np.flatnonzero(labels[0]).tolist() == [*range(1200, 1211), *range(1400, 1451)]
    assert datamodule.series("test").times[1][0] == "2014-04-02 13:30:00"  # step 450, kept for scores.csv
    fraction = NABDataModule(root=str(tmp_path), series="realX/*.csv", train_end=0.5, **SMALL)
    assert len(labelled_steps(fraction)[0]) == 1500
    assert [s.overrides for s in fraction.sources()] == [{"series": "realX/a.csv"}]
    assert probation_period(10_000) == 750


def test_malformed_nab_checkouts_are_refused_in_one_sentence(tmp_path):
    write_nab(tmp_path, {"realX/a.csv": (1000, [(700, 720)])})
    pd.DataFrame({"timestamp": ["2014-04-01 00:00:00"] * 400, "value": 1.0}).to_csv(tmp_path / "data/realX/c.csv")
    with pytest.raises(UserError, match=r"names no series realX/c.csv \(1 of the 2 chosen"):
        NABDataModule(root=str(tmp_path), **SMALL).setup("fit")
    labels = tmp_path / "labels" / "combined_windows.json"
    labels.write_text(json.dumps({"realX/a.csv": [["2015-01-01 00:00:00", "2015-01-02 00:00:00"]]}))
    with pytest.raises(UserError, match="outside its timestamps"):
        NABDataModule(root=str(tmp_path), series="realX/a.csv", **SMALL).setup("fit")
    labels.unlink()
    with pytest.raises(UserError, match="must be a NAB checkout"):
        NABDataModule(root=str(tmp_path), **SMALL).setup("fit")


# -- NASA SMAP / MSL ---------------------------------------------------------------------------------
def test_nasa_channels_read_the_telemetry_and_0_based_inclusive_ranges(tmp_path):
    write_nasa(
        tmp_path, {"P-1": ("SMAP", 1500, 1200, [(600, 650), (1100, 1199)]), "M-1": ("MSL", 900, 800, [(300, 340)])}
    )
    datamodule = NASADataModule(root=str(tmp_path), spacecraft="SMAP", channels="all", **SMALL)
    (labels,) = labelled_steps(datamodule)
    assert np.flatnonzero(labels).tolist() == [*range(600, 651), *range(1100, 1200)]  # an anomaly to the last value
    assert datamodule.train_x.shape[2] == 1 and datamodule.series("test").names == ["SMAP P-1"]
    commands = NASADataModule(root=str(tmp_path), spacecraft="MSL", channels=["M-1"], commands=True, **SMALL)
    commands.setup("fit")
    assert commands.train_x.shape[2] == 5 and [s.overrides for s in commands.sources()] == [{"channels": ["M-1"]}]


@pytest.mark.parametrize(
    ("ranges", "num_values", "phrase"),
    [
        ([(600, 1200)], None, r"the range \[600, 1200\], outside its 1200 values"),
        ([(600, 650)], 1201, "has 1200 values but labeled_anomalies.csv says num_values=1201"),
    ],
)
def test_nasa_ranges_outside_the_series_are_refused(tmp_path, ranges, num_values, phrase):
    write_nasa(tmp_path, {"P-1": ("SMAP", 1500, 1200, ranges)})
    if num_values is not None:
        table = pd.read_csv(tmp_path / "labeled_anomalies.csv").assign(num_values=num_values)
        table.to_csv(tmp_path / "labeled_anomalies.csv", index=False)
    with pytest.raises(UserError, match=phrase):
        NASADataModule(root=str(tmp_path), **SMALL).setup("fit")
    with pytest.raises(UserError, match="lists no SMAP channel X-9"):
        NASADataModule(root=str(tmp_path), channels=["X-9"], **SMALL).setup("fit")


# -- TSB-AD -------------------------------------------------------------------------------------------
def test_tsb_ad_files_train_on_the_named_length_and_score_the_whole_file(tmp_path):
    path = write_tsb_ad(tmp_path, length=1500, train=600, spans=((900, 930),), channels=2)
    datamodule = TSBADDataModule(path=str(path), **SMALL)
    (labels,) = labelled_steps(datamodule)
    assert len(labels) == 1500 and np.flatnonzero(labels).tolist() == list(range(900, 930))
    assert datamodule.train_x.shape[2] == 2
    assert sum(len(v) for v in datamodule.series("train").values + datamodule.series("val").values) == 600
    assert datamodule.sources()[0].dataset == "Synth"


def test_malformed_tsb_ad_files_are_refused(tmp_path):
    path = write_tsb_ad(tmp_path)
    renamed = path.rename(tmp_path / "001_Synth_id_1_Seasonal_624_2087.csv")
    with pytest.raises(UserError, match=r"is not named as TSB-AD names its files"):
        TSBADDataModule(path=str(renamed), **SMALL).setup("fit")
    pd.read_csv(renamed).drop(columns="Label").to_csv(path, index=False)
    with pytest.raises(UserError, match="has no Label column"):
        TSBADDataModule(path=str(path), **SMALL).setup("fit")


# -- plain files --------------------------------------------------------------------------------------
def test_csv_reads_headerless_one_column_files_and_splits_one_file(tmp_path):
    values = write_ucr_anomaly(tmp_path / "u").read_text().split()
    (tmp_path / "series.csv").write_text("\n".join(values) + "\n")  # no header, one column
    datamodule = CSVSeriesDataModule(train=str(tmp_path / "series.csv"), train_end=500, **SMALL)
    datamodule.setup("fit")
    assert len(datamodule.series("test").values[0]) == 700 and datamodule.channels == 1
    fraction = CSVSeriesDataModule(train=str(tmp_path / "series.csv"), train_end=0.25, **SMALL)
    fraction.setup("fit")
    assert len(fraction.series("test").values[0]) == 900
    with pytest.raises(UserError, match="data.test must stay unset"):
        CSVSeriesDataModule(train="a.csv", test="b.csv", train_end=100, **SMALL)
    with pytest.raises(UserError, match="leaves no training or no test steps"):
        CSVSeriesDataModule(train=str(tmp_path / "series.csv"), train_end=1200, **SMALL).setup("fit")


# -- windows ------------------------------------------------------------------------------------------
def test_window_auto_picks_the_training_period_and_says_so(tmp_path, caplog):
    path = write_ucr_anomaly(tmp_path, length=4000, train_end=2000, begin=3000, end=3040)
    datamodule = UCRAnomalyDataModule(path=str(path), window="auto", stride=4, test_stride=1)
    with caplog.at_level("INFO", logger="aelab"):
        datamodule.setup("fit")
    from aelab.data.period import dominant_period

    period = dominant_period(np.loadtxt(path)[:2000])
    assert datamodule.hparams.window == period and datamodule.train_x.shape[1] == period
    assert f"data.window=auto: picked {period} steps" in caplog.text
    short = UCRAnomalyDataModule(path=str(write_ucr_anomaly(tmp_path / "s", length=1200, train_end=300)), window="auto")
    with caplog.at_level("INFO", logger="aelab"):
        short.setup("fit")
    assert short.hparams.window == 30 and "capped to 30" in caplog.text  # the validation part: 10 % of 300 steps


def test_a_window_longer_than_a_part_names_the_longest_that_fits(tmp_path):
    path = write_ucr_anomaly(tmp_path, length=1200, train_end=500)
    with pytest.raises(UserError, match=r"data.window=50 or lower fits"):
        UCRAnomalyDataModule(path=str(path), window=64).setup("fit")
    with pytest.raises(UserError, match="data.window must be a number of steps"):
        UCRAnomalyDataModule(path=str(path), window="long")


# -- the detector's metrics and aelab-benchmark --------------------------------------------------------
def test_detect_reports_the_field_metrics_for_the_model_and_every_baseline(compose, tmp_path):
    import pytorch_lightning as pl

    from aelab.metrics.detector import METRICS, detect, reference
    from aelab.train import build_datamodule, build_model

    path = write_ucr_anomaly(tmp_path, length=2000, train_end=1000, begin=1500, end=1530)
    cfg = compose("data=ucr_anomaly", f"data.path={path}", "data.window=32", "data.stride=4", "net=conv1d")
    pl.seed_everything(0, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    _, _, report = detect(model, datamodule, reference(model, datamodule))
    assert report["detectors"] == ["model", "pca", "tsb_pca", "iforest"]
    for name in report["detectors"]:
        assert set(METRICS) <= set(report[name]), name
        assert 0 <= report[name]["vus_pr"] <= 1 and report[name]["top1"] in (0.0, 1.0)
    assert report["pca"]["top1"] == 1.0 and report["pca"]["vus_pr"] > 0.5  # a shift of 4 standard deviations
    assert report["vus_window"] == "auto"


@pytest.mark.cli
@pytest.mark.slow
def test_benchmark_runs_every_series_counts_failures_summarises_and_resumes(tmp_path):
    folder = tmp_path / "ucr"
    write_ucr_anomaly(folder, number=1, name="Seasonal1", length=1400, train_end=600, begin=1000, end=1030)
    write_ucr_anomaly(folder, number=2, name="Seasonal2", length=1400, train_end=600, begin=900, end=905, seed=1)
    write_ucr_anomaly(folder, number=3, name="Seasonal3", length=80, train_end=40, begin=60, end=62)  # too short
    out = tmp_path / "bench"
    command = [
        "aelab-benchmark",
        "data=ucr_anomaly",
        f"data.path={folder}/*.txt",
        "data.window=40",
        "data.stride=4",
        "detectors=[mlp,pca,iforest]",
        "seeds=[0,1]",
        "train=['trainer=cpu','trainer.max_epochs=1','+trainer.limit_train_batches=3','model.latent_dim=8']",
        f"out={out}",
        f"hydra.run.dir={tmp_path / 'log'}",
    ]
    first = run_cli(*command, cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 3 * (2 + 2)  # 3 series x (2 baselines + mlp x 2 seeds)
    short = rows[rows.series.str.contains("Seasonal3")]
    assert (short.status == "failed").all() and short.error.str.contains("data.window").all()
    scored = rows[~rows.series.str.contains("Seasonal3")]
    assert (scored.status == "finished").all()
    assert scored[["vus_pr", "vus_roc", "range_auc_pr", "auroc", "top1", "fit_seconds"]].notna().all().all()
    assert set(scored[scored.detector == "mlp"].seed) == {0, 1}
    summary = (out / "summary.md").read_text()
    assert "| Seasonal | `mlp` | 2 | 4 |" in summary and "wins vs `pca`" in summary
    assert (out / "ranks.png").stat().st_size > 5_000
    again = run_cli(*command, cwd=tmp_path, timeout=300)
    assert again.returncode == 0 and "0 new rows" in again.stderr, again.stderr[-2000:]
    assert len(pd.read_csv(out / "results.csv")) == len(rows)
    assert len(list((out / "runs").iterdir())) == 1  # no second sweep


@pytest.mark.cli
def test_malformed_benchmark_files_end_in_one_sentence(tmp_path):
    (tmp_path / "001_UCR_Anomaly_x.txt").write_text("1\n2\n3\n")
    result = run_cli(
        "aelab-train", "data=ucr_anomaly", f"data.path={tmp_path}/*.txt", *CLI_FAST, f"hydra.run.dir={tmp_path / 'r'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert "is not named as the UCR anomaly archive names its files" in one_sentence_error(result)
    unknown = run_cli("aelab-benchmark", "detectors=[mlp,svm]", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert "Unknown detectors ['svm']" in one_sentence_error(unknown)


@pytest.mark.cli
@pytest.mark.slow
def test_a_window_picked_by_auto_is_kept_for_aelab_detect(tmp_path):
    train_file = write_ucr_anomaly(tmp_path / "a", number=1, length=2000, train_end=900, begin=1500, end=1530)
    new_file = write_ucr_anomaly(tmp_path / "b", number=2, length=1600, train_end=700, begin=1000, end=1020, seed=1)
    run = tmp_path / "run"
    trained = run_cli(
        "aelab-train", "data=ucr_anomaly", f"data.path={train_file}", "data.stride=4", "net=mlp", "model.latent_dim=8",
        "trainer.max_epochs=2", *CLI_FAST, f"hydra.run.dir={run}", cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    picked = json.loads((run / "metrics.json").read_text())
    assert {"test/vus_pr", "test/top1", "test/vus_pr_tsb_pca", "test/fit_seconds"} <= set(picked)
    out = tmp_path / "detect"
    detected = run_cli(
        "aelab-detect", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "data=ucr_anomaly", f"data.path={new_file}",
        f"hydra.run.dir={out}", cwd=tmp_path,
    )  # fmt: skip
    assert detected.returncode == 0, detected.stderr[-3000:]
    report = json.loads((out / "metrics.json").read_text())
    assert report["detectors"] == ["model", "pca", "tsb_pca", "iforest"] and "vus_pr" in report["model"]
    assert len(pd.read_csv(out / "scores.csv")) == 900  # values 701..1600 of the new file
