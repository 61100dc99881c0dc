"""The generation analysis (VAE family): prior samples, interpolations, latent traversals and the IWAE bound."""

from __future__ import annotations

import math

import torch

from aelab.callbacks.generative import InterpolationGrid, LatentTraversal, SampleGrid, can_draw
from aelab.metrics.evaluation import Evaluation
from aelab.metrics.pictures import save_grid


def generation(ev: Evaluation) -> dict[str, float]:
    """-ELBO and the IWAE bound on -log p(x) of the test split (nats and bits/dim); the three picture grids."""
    settings = ev.settings("generation")
    samples = int(ev.options.get("iwae_samples", 64))
    dims = ev.test_x[0].numel()
    elbo = ev.iwae_nll(1).mean()  # with one sample the IWAE bound is the ELBO (a Monte Carlo estimate)
    iwae = ev.iwae_nll(samples).mean()
    metrics = {
        "gen/nll_elbo": float(elbo),
        "gen/nll_iwae": float(iwae),
        "gen/bits_per_dim": float(iwae) / (dims * math.log(2)),
        "gen/iwae_samples": float(samples),
    }
    if can_draw(ev.model):
        # The training callbacks' own drawings, so pictures after training match those during it.
        steps = int(settings.get("steps", 10))
        grids = {
            "samples": (SampleGrid(str(ev.out_dir), num_images=int(settings.get("num_samples", 64))), 8),
            "interpolations": (InterpolationGrid(str(ev.out_dir), num_images=4, steps=steps), steps),
            "traversals": (
                LatentTraversal(str(ev.out_dir), num_images=8, steps=steps, span=float(settings.get("span", 3.0))),
                steps,
            ),
        }
        torch.manual_seed(ev.seed)
        with torch.no_grad():
            for name, (grid, nrow) in grids.items():
                save_grid(ev.trainer, ev.path(f"{name}.png"), grid.images(ev.trainer, ev.model), nrow=nrow)
    return metrics
