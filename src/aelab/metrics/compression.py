"""The compression analysis: the code as a compressed file, against raw 8-bit samples and PCA at the same bits.

Codes are stored at float32, float16 or b-bit uniform quantisation (b <= 15) between each
dimension's minimum and maximum over the training codes (side information shared by every sample,
not counted per sample). A VQ-VAE stores one codebook index, log2(K) bits, per code position.
"""

from __future__ import annotations

import math

import torch

from aelab.metrics.evaluation import Evaluation
from aelab.metrics.reconstruction import distortion
from aelab.utils.errors import require


def quantise(codes: torch.Tensor, bits: int, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Return codes [N, D] as stored at `bits` per value: float32, float16 or uniform levels in [low, high]."""
    if bits == 32:
        return codes
    if bits == 16:
        return codes.half().float()
    levels = 2**bits - 1
    span = (high - low).clamp_min(1e-12)
    steps = ((codes.clamp(low, high) - low) / span * levels).round()
    return steps / levels * span + low


def coded(encode_train: torch.Tensor, encode_test: torch.Tensor, bits: int) -> torch.Tensor:
    """Return test codes quantised with the range of the training codes."""
    train, test = encode_train.flatten(1), encode_test.flatten(1)
    return quantise(test, bits, train.min(0).values, train.max(0).values).view_as(encode_test)


def compression(ev: Evaluation) -> dict[str, float]:
    """Bits per sample, compression ratio and PSNR (MSE off [0, 1]) at each storage precision; NLL in bits/dim."""
    settings = ev.settings("compression")
    precisions = [int(b) for b in settings.get("bits") or (32, 16, 8)]
    require(
        all(b in (16, 32) or 1 <= b <= 15 for b in precisions),
        f"eval.compression.bits={precisions}: use 32 (float32), 16 (float16) or 1 to 15 (uniform levels).",
    )
    unit = "psnr" if ev.unit_range else "mse"
    metrics = {"compress/raw_bits": float(ev.raw_bits)}
    pca_train = ev.pca.encode(ev.train_x)
    pca_test = ev.pca.encode(ev.test_x)
    if ev.quantised:
        bits = ev.code_size * math.log2(ev.model.hparams.num_codes)
        metrics.update(
            {
                "compress/bits_index": bits,
                "compress/ratio_index": ev.raw_bits / bits,
                f"compress/{unit}_index": distortion(ev.test_recon, ev.test_x, ev.unit_range),
            }
        )
        # One 8-bit PCA coefficient per code position.
        pca_recon = ev.pca.decode(coded(pca_train, pca_test, 8), ev.sample_shape)
        metrics[f"compress/pca_{unit}_index"] = distortion(pca_recon, ev.test_x, ev.unit_range)
    else:
        for b in precisions:
            bits = ev.code_size * b
            recon = ev.apply(ev.model.decode, coded(ev.train_codes, ev.test_codes, b))
            pca_recon = ev.pca.decode(coded(pca_train, pca_test, b), ev.sample_shape)
            metrics.update(
                {
                    f"compress/bits_{b}": float(bits),
                    f"compress/ratio_{b}": ev.raw_bits / bits,
                    f"compress/{unit}_{b}": distortion(recon, ev.test_x, ev.unit_range),
                    f"compress/pca_{unit}_{b}": distortion(pca_recon, ev.test_x, ev.unit_range),
                }
            )
    if ev.model.has_likelihood:
        # The unit of the generative-model papers: -log2 p(x) per value, from the IWAE bound.
        nll = ev.iwae_nll(int(ev.options.get("iwae_samples", 64))).mean()
        metrics["compress/nll_bits_per_dim"] = float(nll) / (ev.test_x[0].numel() * math.log(2))
    return metrics
