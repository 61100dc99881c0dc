"""What every analysis works on: a trained model, its data, and quantities computed once and shared."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from aelab.data.batches import to_float
from aelab.metrics.pca import PCA


class Evaluation:
    """A trained model with its data module, the folder for pictures, and cached codes and PCA baseline."""

    def __init__(
        self,
        model: pl.LightningModule,
        datamodule,
        trainer: pl.Trainer,
        out_dir: str | Path,
        options: dict,
        seed: int = 0,
    ) -> None:
        self.model, self.datamodule, self.trainer = model, datamodule, trainer
        self.out_dir = Path(out_dir)
        self.options, self.seed = options, seed
        self.batch_size = int(options.get("batch_size", 512))
        self.device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        self.model.to(self.device).eval()

    def path(self, name: str) -> Path:
        """Return the path of an output file of the analyses."""
        return self.out_dir / name

    def settings(self, analysis: str) -> dict:
        """Return the options of one analysis (an empty dict when the config has none)."""
        return dict(self.options.get(analysis) or {})

    # -- data (read on the CPU: with data.on_device the data module's tensors sit on the GPU) ----
    @cached_property
    def _train_index(self) -> torch.Tensor:
        n, cap = len(self.datamodule.train_x), int(self.options.get("max_train") or 0)
        if not cap or n <= cap:
            return torch.arange(n)
        # A fixed subset, so PCA and probes see the same samples in every evaluation of this data.
        return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:cap].sort().values

    @cached_property
    def train_x(self) -> torch.Tensor:
        """Training samples as floats (at most `max_train`, a fixed subset)."""
        return to_float(self.datamodule.train_x.cpu()[self._train_index])

    @cached_property
    def train_y(self) -> np.ndarray:
        """Labels of `train_x`."""
        return self.datamodule.train_y.cpu()[self._train_index].numpy()

    @cached_property
    def val_x(self) -> torch.Tensor:
        """Validation samples as floats."""
        return to_float(self.datamodule.val_x.cpu())

    @cached_property
    def test_x(self) -> torch.Tensor:
        """Test samples as floats."""
        return to_float(self.datamodule.test_x.cpu())

    @property
    def test_y(self) -> np.ndarray:
        """Labels of the test samples (-1 where unknown)."""
        return self.datamodule.test_y.cpu().numpy()

    @property
    def shown(self) -> torch.Tensor:
        """Indices of the test samples drawn in pictures: `num_images`, evenly spread (test splits may be sorted)."""
        n = min(int(self.options.get("num_images", 8)), len(self.test_x))
        return torch.linspace(0, len(self.test_x) - 1, n).round().long()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample."""
        return tuple(self.test_x.shape[1:])

    @property
    def is_image(self) -> bool:
        """Whether samples are images [C, H, W]."""
        return len(self.test_x.shape) == 4

    @cached_property
    def unit_range(self) -> bool:
        """Whether the data lie in [0, 1], where PSNR and SSIM have a known range."""
        return bool(self.test_x.min() >= 0 and self.test_x.max() <= 1 and self.train_x.min() >= 0)

    @property
    def raw_bits(self) -> int:
        """Bits of one raw sample stored as 8-bit values."""
        return 8 * int(self.test_x[0].numel())

    # -- the model ----------------------------------------------------------------------------
    @torch.no_grad()
    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Return fn over `x` in batches on the model's device, gathered on the CPU."""
        dtype = self.model.dtype if x.is_floating_point() else x.dtype  # a float64 model gets float64 inputs
        outputs = [fn(batch.to(self.device, dtype)).float().cpu() for batch in x.split(self.batch_size)]
        return torch.cat(outputs)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Return the model's deterministic reconstructions of `x`."""
        return self.apply(self.model.reconstruct, x)

    @cached_property
    def test_codes(self) -> torch.Tensor:
        """Codes of the test samples, as the model returns them."""
        return self.apply(self.model.encode, self.test_x)

    @cached_property
    def train_codes(self) -> torch.Tensor:
        """Codes of `train_x`."""
        return self.apply(self.model.encode, self.train_x)

    @cached_property
    def test_recon(self) -> torch.Tensor:
        """Reconstructions of the test samples."""
        return self.reconstruct(self.test_x)

    @property
    def quantised(self) -> bool:
        """Whether the code is a map of codebook indices (VQ-VAE) rather than real numbers."""
        return self.model.quantised

    @cached_property
    def code_size(self) -> int:
        """The PCA components matched to the model: latent values per sample, or code positions for a VQ-VAE."""
        if self.quantised:
            # One index of ~log2(K) bits per position: about one 8-bit PCA coefficient each.
            return int(self.apply(self.model.encode_indices, self.test_x[:1])[0].numel())
        return int(self.test_codes[0].numel())

    @cached_property
    def pca(self) -> PCA:
        """PCA fitted on `train_x` with as many components as the model's code."""
        return PCA.fit(self.train_x, self.code_size, seed=self.seed)

    def iwae_nll(self, samples: int) -> torch.Tensor:
        """Return the IWAE bound on -log p(x) per test sample (nats), computed once per `samples`."""
        cache = self.__dict__.setdefault("_iwae", {})
        if samples not in cache:
            torch.manual_seed(self.seed)
            cache[samples] = self.apply(lambda x: self.model.iwae_nll(x, samples), self.test_x)
        return cache[samples]
