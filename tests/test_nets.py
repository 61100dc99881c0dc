"""Nets: options that change what a net starts from."""

from __future__ import annotations

import pytest
import torch

from aelab.nets import MLP


def test_mlp_init_std_draws_every_weight_and_bias_from_a_zero_mean_normal():
    torch.manual_seed(0)
    net = MLP([1, 28, 28], hidden_dims=[500], activation="tanh", init_std=0.1)
    layers = [m for part in (net.encoder(40), net.decoder(20)) for m in part if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 4
    for layer in layers:
        for parameter in (layer.weight, layer.bias):
            assert float(parameter.std()) == pytest.approx(0.1, rel=0.15)
            assert abs(float(parameter.mean())) < 0.02
    default = MLP([1, 28, 28], hidden_dims=[500]).encoder(40)[1]
    assert float(default.weight.std()) == pytest.approx((3 * 784) ** -0.5, rel=0.05)  # torch's own, left alone
