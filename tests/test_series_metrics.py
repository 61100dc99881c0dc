"""The field's series metrics and baselines against a hand computation and the reference packages (vus, tsb-ad)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from aelab.data.period import dominant_period
from aelab.data.synthetic_series import synthetic_series
from aelab.data.timeseries import SeriesSet, centred_steps, cut_windows
from aelab.metrics.baselines import KINDS, WindowedPCA, WindowIForest, load_baselines
from aelab.metrics.series_metrics import range_auc, segments, top1_hit, vus

R = np.sqrt(0.5)  # the ramp one step from an anomaly with a buffer of 2: sqrt(1 - 1/2)


def labelled_cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Labelled series with scores: random and ranked, ties, anomalies at both ends, close anomalies, long buffers."""
    rng = np.random.default_rng(3)
    cases = []
    for n, spans, window, ties in [
        (300, [(100, 110), (200, 203)], 20, False),
        (500, [(0, 12), (480, 500)], 64, False),  # anomalies at the first and the last step
        (400, [(150, 160), (166, 170)], 30, True),  # ramps that meet; tied scores
        (400, [(200, 201)], 125, False),  # one point anomaly, TSB-AD's fallback buffer
        (250, [(40, 90)], 0, True),
        (600, [(100, 130), (300, 305), (450, 470)], 7, False),
    ]:
        labels = np.zeros(n, np.int64)
        for start, stop in spans:
            labels[start:stop] = 1
        score = rng.random(n) + labels * rng.uniform(0.2, 1.0)
        cases.append((labels, np.round(score, 1) if ties else score, window))
    values, labels = synthetic_series(1500, seed=1, part="test", num_anomalies=5)
    smooth = np.convolve(values[:, 0], np.ones(9) / 9, mode="same")
    cases.append((labels, np.abs(values[:, 0] - smooth), 30))  # a detector-like score on the generator's series
    return cases


def test_vus_on_a_hand_computed_case():
    # 8 steps, the anomaly at steps 2-3, a buffer of 2; every score is a threshold (8 of them, descending).
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    score = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.0, 0.4, 0.5])
    # Buffers 0 and 1 ramp nothing: thresholds 0.9, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0 find 1 then 2 anomalous steps.
    tpr = [0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    fpr = [0, 1 / 6, 2 / 6, 3 / 6, 3 / 6, 4 / 6, 5 / 6, 1]
    precision = [1, 1 / 2, 1 / 3, 1 / 4, 2 / 5, 2 / 6, 2 / 7, 2 / 8]
    # Buffer 2: steps 1 and 4 get the ramp R; TP = anomalous found + R * ramped found, P = 2 + R * ramped found / 2.
    ramped = [0, 1, 1, 1, 1, 2, 2, 2]  # ramped steps (4, then 1) at or above each threshold
    found = [1, 1, 1, 1, 2, 2, 2, 2]
    count = [1, 2, 3, 4, 5, 6, 7, 8]
    tp = [f + R * r for f, r in zip(found, ramped)]
    positive = [2 + R * r / 2 for r in ramped]
    tpr2 = [min(t / p, 1) for t, p in zip(tp, positive)]
    fpr2 = [(c - t) / (8 - p) for c, t, p in zip(count, tp, positive)]
    precision2 = [t / c for t, c in zip(tp, count)]

    def areas(tpr, fpr, precision):
        tpr, fpr = [0, *tpr, 1], [0, *fpr, 1]
        roc = sum((fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2 for i in range(len(fpr) - 1))
        pr = sum((tpr[i + 1] - tpr[i]) * precision[i] for i in range(len(precision)))
        return roc, pr

    (roc0, pr0), (roc2, pr2) = areas(tpr, fpr, precision), areas(tpr2, fpr2, precision2)
    assert roc0 == pytest.approx(0.75) and pr0 == pytest.approx(0.7)  # with no buffer: AUROC, and AP with existence
    expected = ((2 * roc0 + roc2) / 3, (2 * pr0 + pr2) / 3)  # the mean over buffers 0, 1, 2
    assert vus(labels, score, window=2, count=8) == pytest.approx(expected, abs=1e-12)
    assert vus(labels, score, window=2) == pytest.approx(expected, abs=1e-12)  # 250 thresholds repeat these 8
    assert vus(labels, score, window=0, count=8) == pytest.approx((0.75, 0.7), abs=1e-12)


def test_range_auc_top1_and_segments_on_hand_computed_cases():
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    score = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.0, 0.4, 0.5])
    # A buffer of 0: TP is the anomalous steps found, P stays 2; PR trapezoids (vus's RangeAUC).
    roc, pr = range_auc(labels, score, window=0, count=8)
    precision = [1, 1, 1 / 2, 1 / 3, 1 / 4, 2 / 5, 2 / 6, 2 / 7, 2 / 8]
    tpr = [0, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    expected_pr = sum((tpr[i + 1] - tpr[i]) * (precision[i + 1] + precision[i]) / 2 for i in range(8))
    assert roc == pytest.approx(0.75) and pr == pytest.approx(expected_pr)
    assert segments(np.array([1, 1, 0, 0.5, 0.2, 0, 1])).tolist() == [[0, 1], [3, 4], [6, 6]]
    peak_at = np.zeros(1000)
    labels = np.zeros(1000, np.int64)
    labels[500:520] = 1
    for peak, hit in [(400, 1.0), (399, 0.0), (619, 1.0), (620, 0.0), (510, 1.0)]:
        peak_at[:] = 0
        peak_at[peak] = 1
        assert top1_hit(labels, peak_at) == hit, peak  # within 100 steps of the anomaly, ends included
    with pytest.raises(ValueError, match="both normal and anomalous"):
        vus(np.zeros(10), np.arange(10.0), 2)


def test_vus_and_range_auc_match_the_reference_packages():
    basic = pytest.importorskip("TSB_AD.evaluation.basic_metrics", reason="tsb-ad 1.5 (make install adds it)")
    reference = pytest.importorskip("vus.utils.metrics", reason="vus 0.0.6 (make install adds it)")
    for labels, score, window in labelled_cases():
        tsb = basic.basic_metricor().RangeAUC_volume_opt(labels, score, window)[-2:]
        old = reference.metricor().RangeAUC_volume_opt(labels, score, window)[-2:]
        ours = vus(labels, score, window)
        assert ours == pytest.approx(tsb, abs=1e-9) and ours == pytest.approx(old, abs=1e-9), (window, ours, tsb)
        expected = reference.metricor().RangeAUC(labels, score, window=window, plot_ROC=True)[:2]
        assert range_auc(labels, score, window) == pytest.approx(expected, abs=1e-9), window
    # tsb-ad 1.5's own RangeAUC finds no segments in ramped (non-binary) labels and divides by zero:
    # aelab's range-AUC follows vus 0.0.6's.
    labels, score, _ = labelled_cases()[0]
    with pytest.raises(ZeroDivisionError):
        basic.basic_metricor().RangeAUC(labels, score, window=20)


def test_vus_differs_from_auroc_where_a_detector_fires_next_to_the_anomaly():
    # A detector firing just before the anomaly: the buffer credits it, point-wise AUROC does not.
    labels = np.zeros(400, np.int64)
    labels[200:210] = 1
    late = np.zeros(400)
    late[195:200] = 1.0
    early_roc, _ = vus(labels, late, window=0)
    buffered_roc, _ = vus(labels, late, window=20)
    assert buffered_roc > early_roc + 0.1


def test_dominant_period_matches_tsb_ads_find_length():
    sliding = pytest.importorskip("TSB_AD.utils.slidingWindows", reason="tsb-ad 1.5 and statsmodels")
    rng = np.random.default_rng(0)
    for n, period in [(3000, 37.0), (800, 12.5), (25000, 210.0), (500, 350.0), (60, 9.0)]:
        series = np.sin(2 * np.pi * np.arange(n) / period) + rng.normal(0, 0.3, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = sliding.find_length_rank(series.reshape(-1, 1), rank=1)
        assert dominant_period(series) == expected, (n, period)
    noise = rng.normal(size=2000)
    assert dominant_period(noise) == sliding.find_length_rank(noise.reshape(-1, 1), rank=1)
    assert dominant_period(np.ones(500)) == 125  # TSB-AD's fallback for a series with no period


def test_dominant_period_finds_a_sine_period():
    t = np.arange(4000)
    assert dominant_period(np.sin(2 * np.pi * t / 50)) == 50
    assert dominant_period(np.column_stack([np.sin(2 * np.pi * t / 30), np.sin(2 * np.pi * t / 80)])) == 30  # channel 0


def windows_of(values: np.ndarray, window: int) -> tuple[torch.Tensor, object]:
    series = SeriesSet([values.astype(np.float32)], [np.zeros(len(values), np.int64)], ["s"])
    cut = cut_windows(series, window, 1, values.shape[1])
    return cut.x, cut


def test_windowed_pca_matches_tsb_ads_pca_fitted_on_training_data(monkeypatch):
    tsb_pca = pytest.importorskip("TSB_AD.models.PCA", reason="tsb-ad 1.5, statsmodels and hurst")
    # Its decision_function asks scikit-learn >= 1.6's check_is_fitted for tags its class lacks: skip that check.
    monkeypatch.setattr(tsb_pca, "check_is_fitted", lambda *args, **kwargs: None)
    train, _ = synthetic_series(1500, channels=2, seed=4)
    test, _ = synthetic_series(800, channels=2, seed=4, part="test", num_anomalies=3)
    window = 24
    reference = tsb_pca.PCA(slidingWindow=window).fit(train).decision_function(test)  # centred, padded per step
    ours = WindowedPCA.fit(windows_of(train, window)[0])
    x, cut = windows_of(test, window)
    steps = centred_steps(ours.errors(x)[0], cut)[0]
    np.testing.assert_allclose(steps, reference, rtol=1e-5)  # scores near 1e6: float32 windows on both sides


def test_baselines_rebuild_from_their_checkpoint_state_and_find_the_anomalies():
    train, _ = synthetic_series(2000, seed=2)
    # Level shifts and noise bursts: TSB-AD's PCA (distances to the components' points) sees those, not every kind.
    test, labels = synthetic_series(1500, seed=2, part="test", num_anomalies=6, kinds=("level_shift", "noise"))
    x_train, _ = windows_of(train, 32)
    x_test, cut = windows_of(test, 32)
    for name, kind in KINDS.items():
        fitted = kind.fit(x_train, 2)
        again = load_baselines({"baselines": {name: fitted.state()}})[name]
        np.testing.assert_allclose(again.errors(x_test)[0], fitted.errors(x_test)[0], rtol=1e-9)
        scores = centred_steps(fitted.errors(x_test)[0], cut)[0]
        assert roc_auc_score(labels, scores) > 0.9, name  # chance is 0.5
    assert len(WindowIForest.fit(torch.zeros(5000, 4, 1)).sample) == 2048  # a fixed draw of the training windows


def test_centred_steps_place_each_window_score_at_its_centre():
    x, cut = windows_of(np.zeros((10, 1)), 4)  # 7 windows starting at 0..6, centres 2..8
    steps = centred_steps(np.arange(7.0), cut)[0]
    assert steps.tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 6]
