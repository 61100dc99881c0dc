"""Property tests: time-series windowing and normalisation, and the nets' shape arithmetic, over random inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.data.timeseries import SeriesDataModule, SeriesSet, cut_windows, fit_normalisation, to_steps, window_starts
from aelab.nets import GRU, LSTM, MLP, Conv, TemporalConv

FEW = settings(max_examples=20, deadline=None)


@st.composite
def series_sets(draw, min_length: int = 2) -> tuple[SeriesSet, int, int]:
    """A few random series [T, C] with normal labels, a window that fits all of them, and a stride."""
    channels = draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(min_length, 60), min_size=1, max_size=3))
    window = draw(st.integers(2, min(lengths)))
    stride = draw(st.integers(1, window))  # a wider stride skips steps: refused for test windows
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = [rng.normal(size=(n, channels)).astype(np.float32) for n in lengths]
    labels = [np.zeros(n, np.int64) for n in lengths]
    return SeriesSet(values, labels, [f"s{i}" for i in range(len(lengths))]), window, stride


@FEW
@given(length=st.integers(2, 200), data=st.data())
def test_window_starts_cover_every_step_within_bounds(length, data):
    window = data.draw(st.integers(2, length))
    stride = data.draw(st.integers(1, window))
    starts = window_starts(length, window, stride)
    assert starts[0] == 0 and starts[-1] == length - window and (np.diff(starts) > 0).all()
    covered = np.zeros(length, bool)
    for start in starts:
        covered[start : start + window] = True
    assert covered.all()


@FEW
@given(series_sets())
def test_windows_round_trip_to_the_series(drawn):
    series, window, stride = drawn
    channels = series.values[0].shape[1]
    windows = cut_windows(series, window, stride, channels)
    assert tuple(windows.x.shape[1:]) == (window, channels)
    for x, i, start in zip(windows.x.numpy(), windows.series, windows.start):
        np.testing.assert_array_equal(x, series.values[i][start : start + window])
    for c in range(channels):
        for rebuilt, values in zip(to_steps(windows.x[..., c].numpy(), windows), series.values):
            np.testing.assert_allclose(rebuilt, values[:, c], rtol=1e-6)


@FEW
@given(series_sets(), st.integers(0, 2**16))
def test_per_step_scores_average_the_windows_covering_each_step(drawn, seed):
    series, window, stride = drawn
    windows = cut_windows(series, window, stride, series.values[0].shape[1])
    scores = np.random.default_rng(seed).random(len(windows.x))
    per_step = to_steps(np.repeat(scores[:, None], window, axis=1), windows)
    for i, steps in enumerate(per_step):
        for t in range(series.lengths[i]):
            covering = (windows.series == i) & (windows.start <= t) & (t < windows.start + window)
            assert steps[t] == pytest.approx(scores[covering].mean())


class ArraySeries(SeriesDataModule):
    """Series given as arrays, to test the shared machinery without files."""

    def __init__(self, train: SeriesSet, test: SeriesSet, **kwargs) -> None:
        super().__init__(**kwargs)
        self.given = {"train": train, "test": test}

    def read_train(self) -> SeriesSet:
        return self.given["train"]

    def read_test(self) -> SeriesSet:
        return self.given["test"]


@FEW
@given(series_sets(min_length=40), st.floats(-1e3, 1e3), st.floats(0.1, 1e3))
def test_normalisation_uses_the_training_split_only(drawn, shift, scale):
    series, window, _ = drawn
    window = min(window, 8)  # the validation tail (a quarter of each series) must hold a window
    options = {"window": window, "val_fraction": 0.25, "batch_size": 4}
    plain = ArraySeries(series, series, **options)
    plain.setup("fit")
    head, tail = plain.split_val(series)
    assert (plain.hparams.mean, plain.hparams.std) == fit_normalisation(head)
    # Changing the validation tail and the test series leaves the statistics as they were.
    moved = SeriesSet([v.copy() for v in series.values], series.labels, series.names)
    for values, kept in zip(moved.values, head.lengths):
        values[kept:] = values[kept:] * scale + shift
    test = SeriesSet([v * scale + shift for v in series.values], series.labels, series.names)
    other = ArraySeries(moved, test, **options)
    other.setup("fit")
    np.testing.assert_allclose(other.hparams.mean, plain.hparams.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(other.hparams.std, plain.hparams.std, rtol=1e-6, atol=1e-6)
    # The training split comes out standardised: mean 0, standard deviation 1 per channel.
    steps = np.concatenate(plain.sets["train"].values)
    np.testing.assert_allclose(steps.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(steps.std(0), 1, atol=1e-3)


def round_trip(net, shape: tuple[int, ...], latent: int) -> tuple[int, ...]:
    """The shape of decoder(encoder(x)) for a batch of two random inputs of `shape`."""
    x = torch.randn(2, *shape)
    with torch.no_grad():
        code = net.encoder(latent)(x)
        assert code.shape == (2, latent)
        return tuple(net.decoder(latent)(code).shape)


@FEW
@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    hidden=st.lists(st.integers(1, 16), max_size=2),
    latent=st.integers(1, 8),
)
def test_mlp_reconstructs_any_shape(shape, hidden, latent):
    assert round_trip(MLP(shape, hidden_dims=hidden), tuple(shape), latent) == (2, *shape)


@FEW
@given(
    channels=st.integers(1, 3),
    height=st.integers(5, 33),
    width=st.integers(5, 33),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    min_size=st.integers(1, 4),
    latent=st.integers(1, 8),
)
def test_conv_reconstructs_odd_and_even_image_sizes(channels, height, width, widths, min_size, latent):
    shape = (channels, height, width)
    assert round_trip(Conv(shape, channels=widths, min_size=min_size), shape, latent) == (2, *shape)


@FEW
@given(
    window=st.integers(5, 70),
    channels=st.integers(1, 3),
    kernel=st.sampled_from([1, 3, 5]),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    latent=st.integers(1, 8),
)
def test_conv1d_reconstructs_any_window(window, channels, kernel, widths, latent):
    shape = (window, channels)
    assert round_trip(TemporalConv(shape, channels=widths, kernel_size=kernel), shape, latent) == (2, *shape)


@FEW
@given(
    rnn=st.sampled_from([LSTM, GRU]),
    window=st.integers(2, 20),
    channels=st.integers(1, 3),
    hidden=st.integers(1, 8),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    decoder_input=st.sampled_from(["latent", "reverse"]),
    latent=st.integers(1, 8),
)
def test_recurrent_nets_reconstruct_any_window(
    rnn, window, channels, hidden, layers, bidirectional, decoder_input, latent
):
    net = rnn(
        (window, channels),
        hidden_size=hidden,
        num_layers=layers,
        bidirectional=bidirectional,
        decoder_input=decoder_input,
    )
    assert round_trip(net, (window, channels), latent) == (2, window, channels)
