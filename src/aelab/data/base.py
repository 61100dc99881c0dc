"""The base DataModule: arrays held in memory, a seeded train/val split, a fixed test split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from aelab.data.batches import EpochPermutation, IndexBatches, binarize_once, to_float
from aelab.data.contrast import ImagePreprocessing
from aelab.utils.errors import require
from aelab.utils.record import fingerprint


@dataclass
class Arrays:
    """Train and test samples with integer labels (-1 where unknown)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


# Test splits drawn from one pool use this constant, never the run's seed, so that runs over
# several seeds are scored on the same samples.
TEST_SPLIT_SEED = 0
# Fixed binarisations (static training images; the validation and test images of every mode) use these,
# never the run's seed, so that runs over several seeds and both modes are scored on the same bits.
BINARIZE_SEEDS = {"train": 1, "val": 2, "test": 3}
BINARIZE_MODES = (None, "static", "dynamic")


def fixed_split(x: torch.Tensor, y: torch.Tensor, test_fraction: float) -> Arrays:
    """Split one pool of samples into train and test with a fixed permutation (independent of the seed)."""
    require(0 < test_fraction < 1, f"data.test_fraction must be in (0, 1), not {test_fraction}.")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(TEST_SPLIT_SEED))
    n_test = max(1, round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Arrays(x[train], y[train].long(), x[test], y[test].long())


def _collate_float(batch):
    x, y = torch.utils.data.default_collate(batch)
    return to_float(x), y


class InMemoryDataModule(pl.LightningDataModule):
    """Loads all samples once, splits train/val by seed, and batches by index from memory.

    Subclasses implement `load()` (and `prepare_data()` when files must be fetched). Images
    are kept as uint8 [N, C, H, W] and scaled to [0, 1] per batch, which agrees with a
    sigmoid output and the Bernoulli (`bce`) loss. `binarize` turns intensities into Bernoulli samples:
    `static` once (a fixed seed), `dynamic` afresh every time a training image is drawn; validation and
    test images are binarised once with fixed seeds in both modes. `contrast_norm` and `minmax_scale` preprocess
    every split with statistics of the training images alone (see `aelab.data.contrast`).
    """

    def __init__(
        self,
        root: str = "data",
        shape: list[int] | None = None,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 42,
        num_workers: int = 0,
        pin_memory: bool = False,
        in_memory: bool = True,
        on_device: bool = False,
        output_activation: str = "sigmoid",
        normal_classes: list[int] | None = None,
        binarize: str | None = None,
        contrast_norm: str | None = None,
        minmax_scale: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        require(batch_size > 0, f"data.batch_size must be positive, not {batch_size}.")
        require(0 <= val_fraction < 1, f"data.val_fraction must be in [0, 1), not {val_fraction}.")
        require(
            binarize in BINARIZE_MODES,
            f"Unknown data.binarize={binarize}: choose static, dynamic or null (the intensities themselves).",
        )
        require(num_workers >= 0, f"data.num_workers must be >= 0, not {num_workers}.")
        require(in_memory or not on_device, "data.on_device=true needs data.in_memory=true.")
        require(
            in_memory or binarize != "dynamic",
            "data.binarize=dynamic draws each batch's bits from a stream seeded by the epoch, which the in-memory "
            "batches keep: set data.in_memory=true (or data.binarize=static).",
        )
        self.preprocessing = ImagePreprocessing(contrast_norm, minmax_scale)
        require(
            not (self.preprocessing.active and binarize),
            "data.binarize turns intensities into bits, which data.contrast_norm and data.minmax_scale would undo: "
            "choose one.",
        )
        require(
            output_activation != "sigmoid" or contrast_norm is None or minmax_scale,
            "data.contrast_norm gives values outside [0, 1]: add data.minmax_scale=true for a sigmoid output, or set "
            "data.output_activation=identity with loss=mse.",
        )
        self.root = Path(root)
        self.arrays: Arrays | None = None

    # -- what a subclass provides ----------------------------------------------------------
    def load(self) -> Arrays:
        """Return all train and test samples."""
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.arrays is not None:
            return
        arrays = self.load()
        self._check(arrays)
        if self.hparams.binarize:
            self._check_binarizable(arrays)
            arrays.test_x = binarize_once(arrays.test_x, BINARIZE_SEEDS["test"])
            if self.hparams.binarize == "static":  # the whole pool, so the sample does not depend on the split
                arrays.train_x = binarize_once(arrays.train_x, BINARIZE_SEEDS["train"])
        n = len(arrays.train_x)
        fraction = self.hparams.val_fraction
        n_val = max(1, round(n * fraction)) if fraction > 0 else 0  # 0: every training sample trains
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.hparams.seed))
        val, train = order[:n_val], order[n_val:]
        self.train_x, self.train_y = arrays.train_x[train], arrays.train_y[train]
        self.val_x, self.val_y = arrays.train_x[val], arrays.train_y[val]
        if self.hparams.binarize == "dynamic":
            self.val_x = binarize_once(self.val_x, BINARIZE_SEEDS["val"])
        self.test_x, self.test_y = arrays.test_x, arrays.test_y
        if self.hparams.normal_classes is not None:
            self._keep_normal_classes()
        if self.preprocessing.active:
            # Statistics of the training images only (after the normal classes are kept); the test split never.
            self.preprocessing.fit(torch.cat([self.train_x, self.val_x]))
            self.train_x, self.val_x, self.test_x = map(self.preprocessing, (self.train_x, self.val_x, self.test_x))
        if self.hparams.pin_memory and torch.cuda.is_available():
            self.train_x = self.train_x.pin_memory()
        self.arrays = arrays

    def _keep_normal_classes(self) -> None:
        """One-class protocol (Ruff et al. 2018): train and validate on the normal classes; test on every class."""
        normal = torch.atleast_1d(torch.as_tensor(self.hparams.normal_classes, dtype=torch.long))
        train, val = torch.isin(self.train_y, normal), torch.isin(self.val_y, normal)
        require(
            bool(train.any()) and (bool(val.any()) or len(val) == 0),
            f"data.normal_classes={normal.tolist()} matches no training sample: "
            f"choose among the classes {sorted(set(self.train_y.tolist()))}.",
        )
        self.train_x, self.train_y = self.train_x[train], self.train_y[train]
        self.val_x, self.val_y = self.val_x[val], self.val_y[val]

    def _check_binarizable(self, arrays: Arrays) -> None:
        """Bernoulli samples need intensities in [0, 1]: uint8 images, or floats already in that range."""
        x = arrays.train_x
        require(
            x.dtype == torch.uint8 or (x.is_floating_point() and float(x.min()) >= 0 and float(x.max()) <= 1),
            f"data.binarize={self.hparams.binarize} needs intensities in [0, 1] (images); this data lies outside "
            "that range: set data.binarize=null.",
        )

    def _check(self, arrays: Arrays) -> None:
        shape = list(arrays.train_x.shape[1:])
        if self.hparams.shape is not None:
            require(
                shape == list(self.hparams.shape),
                f"The data's samples have shape {shape} but data.shape is "
                f"{list(self.hparams.shape)}; set data.shape={shape}.",
            )
        for name in ("train_x", "test_x"):
            values = getattr(arrays, name)
            if values.is_floating_point():
                require(
                    bool(torch.isfinite(values).all()),
                    f"The {name.split('_')[0]} data contains NaN or infinite values; clean or drop them.",
                )
        if self.hparams.output_activation == "sigmoid" and arrays.train_x.is_floating_point():
            low, high = float(arrays.train_x.min()), float(arrays.train_x.max())
            require(
                low >= 0 and high <= 1,
                f"The data lies in [{low:.3g}, {high:.3g}] but a sigmoid output needs [0, 1]; "
                "rescale it or set data.output_activation=identity with loss=mse.",
            )

    def preprocessed(self, x: torch.Tensor) -> torch.Tensor:
        """Return samples of this data's files as the splits hold them: floats, preprocessed like the training split."""
        self.setup()
        return self.preprocessing(x) if self.preprocessing.active else to_float(x)

    @property
    def shape(self) -> list[int]:
        """The shape of one sample, as loaded."""
        self.setup()
        return list(self.train_x.shape[1:])

    def fingerprint(self) -> str:
        """Return a hash of the train and test samples."""
        self.setup()
        return fingerprint(self.arrays.train_x, self.arrays.test_x)

    def _move_to_trainer_device(self) -> None:
        """With `on_device`, move every split to the Trainer's device once; batches are then cut there."""
        if not self.hparams.on_device or self.trainer is None:
            return
        device = self.trainer.strategy.root_device
        for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"):
            setattr(self, name, getattr(self, name).to(device))

    def _loader(self, split: str, shuffle: bool = False):
        self._move_to_trainer_device()
        x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
        dynamic = split == "train" and self.hparams.binarize == "dynamic"
        if self.hparams.in_memory:
            return IndexBatches(
                x,
                y,
                self.hparams.batch_size,
                shuffle=shuffle,
                seed=self.hparams.seed,
                epoch_of=self._trainer_epoch,
                binarize=dynamic,
            )
        # The same order as the in-memory path, so the two give the same run (tests/test_data.py checks it).
        return DataLoader(
            TensorDataset(x, y),
            batch_size=self.hparams.batch_size,
            sampler=EpochPermutation(len(x), self.hparams.seed, shuffle),
            num_workers=self.hparams.num_workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.num_workers > 0,
            collate_fn=_collate_float,
        )

    def _trainer_epoch(self) -> int:
        """The epoch the trainer is in (0 before one is attached)."""
        return self.trainer.current_epoch if self.trainer is not None else 0

    def train_dataloader(self):
        # Lightning makes a DataLoader's order sequential to overfit its first batches; these batches do the same.
        overfitting = self.trainer is not None and bool(self.trainer.overfit_batches)
        return self._loader("train", shuffle=not overfitting)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def predict_dataloader(self):
        return self.test_dataloader()
