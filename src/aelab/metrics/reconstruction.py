"""The reconstruction analysis: MSE, PSNR and SSIM of the test split, beside PCA with as many components."""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio
from torchmetrics.functional.regression import mean_squared_error

from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import save_grid


def mse(recon: torch.Tensor, x: torch.Tensor) -> float:
    """Return the mean squared error per value."""
    return float(mean_squared_error(recon, x))


def psnr(recon: torch.Tensor, x: torch.Tensor) -> float:
    """Return the PSNR in dB of data in [0, 1], from the MSE over the whole set (as test/psnr is)."""
    return float(peak_signal_noise_ratio(recon, x, data_range=1.0))


def distortion(recon: torch.Tensor, x: torch.Tensor, unit_range: bool) -> float:
    """Return the PSNR for data in [0, 1], else the MSE (data with no fixed range have no PSNR)."""
    return psnr(recon, x) if unit_range else mse(recon, x)


def ssim(ev: Evaluation, recon: torch.Tensor, x: torch.Tensor) -> float | None:
    """Return the SSIM with the model's own test settings (kernel fitted to the image size), or None."""
    template = getattr(ev.model, "test_ssim", None)
    if template is None or not ev.unit_range:
        return None
    metric = template.clone().cpu()
    metric.reset()
    for r, t in zip(recon.split(ev.batch_size), x.split(ev.batch_size)):
        metric.update(r.clamp(0, 1), t)
    return float(metric.compute())


def reconstruction(ev: Evaluation) -> dict[str, float]:
    """Test MSE, PSNR and SSIM of the model and of PCA; their ratio on the test and training splits."""
    pca_recon = ev.pca.reconstruct(ev.test_x)
    train_recon, train_pca = ev.reconstruct(ev.train_x), ev.pca.reconstruct(ev.train_x)
    metrics = {
        "recon/mse": mse(ev.test_recon, ev.test_x),
        "recon/pca_mse": mse(pca_recon, ev.test_x),
        "recon/train_mse": mse(train_recon, ev.train_x),
        "recon/train_pca_mse": mse(train_pca, ev.train_x),
        "recon/pca_components": float(ev.pca.components),
    }
    metrics["recon/pca_ratio"] = metrics["recon/mse"] / metrics["recon/pca_mse"]
    metrics["recon/train_pca_ratio"] = metrics["recon/train_mse"] / metrics["recon/train_pca_mse"]
    if ev.unit_range:
        metrics["recon/psnr"] = psnr(ev.test_recon, ev.test_x)
        metrics["recon/pca_psnr"] = psnr(pca_recon, ev.test_x)
    for name, recon in (("ssim", ev.test_recon), ("pca_ssim", pca_recon)):
        value = ssim(ev, recon, ev.test_x)
        if value is not None:
            metrics[f"recon/{name}"] = value
    if ev.is_image:
        shown = ev.shown
        rows = torch.cat([ev.test_x[shown], ev.test_recon[shown], pca_recon[shown]])  # originals, model, PCA
        save_grid(ev.trainer, ev.path("reconstruction.png"), rows, nrow=len(shown))
    return metrics
