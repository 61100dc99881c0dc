"""The denoising analysis: corrupted test inputs, their reconstructions and PCA projections against the clean ones."""

from __future__ import annotations

import torch

from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import save_grid
from aelab.metrics.reconstruction import distortion
from aelab.models.denoising import NOISES, corrupt
from aelab.utils.errors import require

DEFAULT_NOISE = {"gaussian": [0.1, 0.3, 0.5], "masking": [0.25, 0.5], "salt_pepper": [0.1, 0.2]}


def denoising(ev: Evaluation) -> dict[str, float]:
    """For each noise and level: PSNR (MSE for data not in [0, 1]) of the noisy input, the model's and PCA's outputs."""
    noise = ev.settings("denoising").get("noise") or DEFAULT_NOISE
    unknown = sorted(set(noise) - set(NOISES))
    require(not unknown, f"Unknown noise {unknown} in eval.denoising.noise: choose among {list(NOISES)}.")
    require(all(noise.values()), "Every noise in eval.denoising.noise needs a list of levels, e.g. gaussian: [0.3].")
    unit = "psnr" if ev.unit_range else "mse"
    shown = ev.shown
    metrics, rows = {}, [ev.test_x[shown]]
    for kind, levels in noise.items():
        for level in levels:
            # The same corruption as model=denoising_ae trains with, so its figures compare to training.
            noisy = corrupt(ev.test_x, kind, float(level))
            denoised = ev.reconstruct(noisy)
            key = f"denoise/{kind}_{level}"
            metrics[f"{key}_noisy_{unit}"] = distortion(noisy, ev.test_x, ev.unit_range)
            metrics[f"{key}_{unit}"] = distortion(denoised, ev.test_x, ev.unit_range)
            metrics[f"{key}_pca_{unit}"] = distortion(ev.pca.reconstruct(noisy), ev.test_x, ev.unit_range)
        rows += [noisy[shown], denoised[shown]]  # the strongest level of each noise: input above output
    if ev.is_image:
        save_grid(ev.trainer, ev.path("denoising.png"), torch.cat(rows), nrow=len(shown))
    return metrics
