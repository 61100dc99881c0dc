"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own download and file readers."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from aelab.data.base import Arrays, InMemoryDataModule, fixed_split
from aelab.data.idx import find_idx, read_idx
from aelab.utils.errors import UserError


class TorchvisionDataModule(InMemoryDataModule):
    """Reads a torchvision dataset once into uint8 tensors; `download` fetches it when a network is there."""

    name = "base"
    folder = ""  # where torchvision keeps the files, relative to `root`
    files: tuple[str, ...] = ()
    packing = ""  # how the files may be stored, said in the missing-files message

    def __init__(
        self, *args, download: bool = False, test_only: bool = False, test_fraction: float = 0.2, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()

    def dataset_class(self):
        """Return the torchvision dataset class."""
        raise NotImplementedError

    @property
    def folder_path(self) -> Path:
        """The folder that must hold the files."""
        return self.root / self.folder

    def _missing_message(self) -> str:
        return (
            f"The {self.name} files are missing or damaged in {self.folder_path.resolve()}: "
            f"place {', '.join(self.needed())} there{self.packing} (from the official {self.name} release), "
            "or set data.download=true on a machine with a network."
        )

    def prepare_data(self) -> None:
        if not self.hparams.download:
            return
        quiet = io.StringIO()
        try:  # torchvision prints every mirror it tries; keep the user's terminal to one sentence.
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                for train in (True, False):
                    self.dataset_class()(str(self.root), train=train, download=True)
        except Exception as error:  # noqa: BLE001 - any network or file failure gets the same advice
            reason = type(error).__name__
            raise UserError(f"Could not download {self.name} ({reason}). {self._missing_message()}") from error

    def needed(self) -> tuple[str, ...]:
        """The files this configuration reads."""
        return self.files

    def _read(self, train: bool):
        try:
            return self.dataset_class()(str(self.root), train=train, download=False)
        except Exception as error:  # noqa: BLE001 - torchvision raises RuntimeError, EOFError, ...
            raise UserError(self._missing_message()) from error

    @staticmethod
    def to_tensor(data) -> torch.Tensor:
        """Return uint8 images shaped [N, C, H, W]."""
        images = torch.as_tensor(np.asarray(data))
        return images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2).contiguous()

    def load(self) -> Arrays:
        if self.hparams.test_only:
            # Only the official test files are at hand: split them with a fixed seed, never the run's.
            test = self._read(False)
            return fixed_split(self.to_tensor(test.data), torch.as_tensor(test.targets), self.hparams.test_fraction)
        train, test = self._read(True), self._read(False)
        return Arrays(
            self.to_tensor(train.data),
            torch.as_tensor(train.targets, dtype=torch.long),
            self.to_tensor(test.data),
            torch.as_tensor(test.targets, dtype=torch.long),
        )


class MNISTFormatDataModule(TorchvisionDataModule):
    """The IDX-format datasets, read in place from the raw folder, gzipped or not."""

    files = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )

    packing = ", gzipped or not"

    def needed(self) -> tuple[str, ...]:
        return self.files[2:] if self.hparams.test_only else self.files

    def _read(self, train: bool):
        prefix = "train" if train else "t10k"
        try:
            # Read where the files lie (gzipped or not), never unpacking beside them: data folders may be shared.
            images = read_idx(find_idx(self.folder_path, f"{prefix}-images-idx3-ubyte"), ndim=3)
            labels = read_idx(find_idx(self.folder_path, f"{prefix}-labels-idx1-ubyte"), ndim=1)
        except (OSError, ValueError, EOFError) as error:  # missing, truncated or wrong-magic files alike
            raise UserError(self._missing_message()) from error
        return SimpleNamespace(data=images, targets=labels.astype(np.int64))


class MNISTDataModule(MNISTFormatDataModule):
    """MNIST: 60,000 training and 10,000 test digits, 28x28 grey."""

    name, folder = "MNIST", "MNIST/raw"

    def dataset_class(self):
        from torchvision.datasets import MNIST

        return MNIST


class FashionMNISTDataModule(MNISTFormatDataModule):
    """Fashion-MNIST: 60,000 training and 10,000 test clothing images, 28x28 grey."""

    name, folder = "FashionMNIST", "FashionMNIST/raw"

    def dataset_class(self):
        from torchvision.datasets import FashionMNIST

        return FashionMNIST


class CIFAR10DataModule(TorchvisionDataModule):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32."""

    name, folder = "CIFAR-10", "cifar-10-batches-py"
    files = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

    def dataset_class(self):
        from torchvision.datasets import CIFAR10

        return CIFAR10
