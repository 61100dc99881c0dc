"""net=lenet: Ruff et al. 2018's LeNet-type net, its mirrored decoder and its initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aelab.nets import LeNet
from aelab.utils.errors import UserError


def layers(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def test_the_encoder_is_ruffs_mnist_lenet():
    net = LeNet([1, 28, 28])
    encoder = net.encoder(32)
    convs = layers(encoder, nn.Conv2d)
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 8, (5, 5)), (8, 4, (5, 5))]
    assert len(layers(encoder, nn.MaxPool2d)) == 2 and len(layers(encoder, nn.LeakyReLU)) == 2
    norms = layers(encoder, nn.BatchNorm2d)
    assert len(norms) == 2 and not any(n.affine for n in norms)
    assert not [name for name, _ in encoder.named_parameters() if "bias" in name]
    (linear,) = layers(encoder, nn.Linear)
    assert linear.in_features == 4 * 7 * 7 and linear.out_features == 32
    # No trainable shift anywhere: an all-zero batch maps to zero codes.
    assert torch.equal(encoder(torch.zeros(2, 1, 28, 28)), torch.zeros(2, 32))
    assert encoder(torch.rand(3, 1, 28, 28)).shape == (3, 32)


def test_the_decoder_mirrors_it_with_upsampling_back_to_each_size():
    for shape in ([1, 28, 28], [3, 32, 32], [1, 8, 8], [1, 9, 7]):
        net = LeNet(shape)
        decoder = net.decoder(16)
        assert decoder(torch.rand(2, 16)).shape == (2, *shape)
        convs = layers(decoder, nn.ConvTranspose2d)
        assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [(4, 8, (1, 1)), (8, shape[0], (1, 1))]
        assert len(layers(decoder, nn.Upsample)) == 2 and not layers(decoder, nn.MaxPool2d)
        assert not [name for name, _ in decoder.named_parameters() if "bias" in name]


def test_glorot_init_with_the_leaky_gain_on_convolutions():
    torch.manual_seed(0)
    conv = layers(LeNet([1, 28, 28], channels=[64, 64]).encoder(32), nn.Conv2d)[1]
    fan_in, fan_out = 64 * 25, 64 * 25
    gain = math.sqrt(2 / (1 + 0.01**2))
    expected = gain * math.sqrt(2 / (fan_in + fan_out))  # the std of Glorot's uniform
    assert float(conv.weight.std()) == pytest.approx(expected, rel=0.05)
    torch.manual_seed(0)
    default = layers(LeNet([1, 28, 28], channels=[64, 64], init="torch").encoder(32), nn.Conv2d)[1]
    assert float(default.weight.std()) == pytest.approx(1 / math.sqrt(3 * fan_in), rel=0.05)  # torch's own


def test_images_too_small_for_the_stages_are_refused():
    with pytest.raises(UserError, match="cannot be halved that often"):
        LeNet([1, 4, 4], channels=[8, 4, 4])
    with pytest.raises(UserError, match="needs images"):
        LeNet([1, 140])


@pytest.mark.parametrize("variant", ["ae", "vq_vae", "contractive_ae"])
def test_autoencoders_train_on_it_and_tie_or_quantise_its_layers(loss_falls, variant):
    # The contractive AE ties the decoder to the encoder (each transposed convolution takes its mirror's weight); the
    # VQ-VAE quantises its feature map.
    loss_falls(f"model={variant}", "net=lenet", "data=mnist_5k", "data.batch_size=32", "optimizer.lr=0.01", steps=12)
