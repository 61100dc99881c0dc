"""The generation analysis: samples, interpolations and traversals; the ELBO and IWAE bounds given a likelihood."""

from __future__ import annotations

import math

import torch

from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import interpolation_images, sample_images, save_grid, spread, traversal_images


def generation(ev: Evaluation) -> dict[str, float]:
    """The three picture grids (images only); -ELBO and the IWAE bound on -log p(x) (nats, bits/dim) when declared."""
    settings = ev.settings("generation")
    metrics: dict[str, float] = {}
    if ev.model.has_likelihood:
        samples = int(ev.options.get("iwae_samples", 64))
        elbo = ev.iwae_nll(1).mean()  # with one sample the IWAE bound is the ELBO (a Monte Carlo estimate)
        iwae = ev.iwae_nll(samples).mean()
        metrics |= {
            "gen/nll_elbo": float(elbo),
            "gen/nll_iwae": float(iwae),
            "gen/bits_per_dim": float(iwae) / (ev.test_x[0].numel() * math.log(2)),
            "gen/iwae_samples": float(samples),
        }
    if ev.is_image:
        steps = int(settings.get("steps", 10))
        # The training callbacks' draws (seed 0, the same test images), so pictures after training match theirs.
        pairs, pool = spread(ev.test_x, 2 * 4).to(ev.device), spread(ev.test_x, 256).to(ev.device)
        span = float(settings.get("span", 3.0))
        grids = {
            "samples": (lambda: sample_images(ev.model, int(settings.get("num_samples", 64)), seed=0), 8),
            "interpolations": (lambda: interpolation_images(ev.model, pairs, steps), steps),
            "traversals": (lambda: traversal_images(ev.model, pool, 8, steps, span), steps),
        }
        with torch.no_grad():
            for name, (draw, nrow) in grids.items():
                save_grid(ev.trainer, ev.path(f"{name}.png"), draw(), nrow=nrow)
    return metrics
