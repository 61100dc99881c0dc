"""The user's own images: a folder of class subfolders, or an array file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aelab.data.base import Arrays, InMemoryDataModule, fixed_split
from aelab.data.batches import to_float
from aelab.utils.errors import UserError, require


class ImageFolderDataModule(InMemoryDataModule):
    """torchvision's ImageFolder (one subfolder per class), resized to `shape` and held in memory."""

    def __init__(
        self, *args, path: str = "???", test_path: str | None = None, test_fraction: float = 0.2, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()

    def _read(self, path: str) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision import transforms
        from torchvision.datasets import ImageFolder

        require(Path(path).is_dir(), f"data.path={path} is not a folder: point it at a folder of class subfolders.")
        channels, height, width = self.hparams.shape
        convert = [transforms.Grayscale(1)] if channels == 1 else [transforms.Lambda(lambda im: im.convert("RGB"))]
        transform = transforms.Compose([*convert, transforms.Resize((height, width)), transforms.PILToTensor()])
        try:
            dataset = ImageFolder(path, transform=transform)
        except (FileNotFoundError, RuntimeError) as error:
            raise UserError(f"No images found under {path}: it needs one subfolder of images per class.") from error
        # Decoded once; every later epoch batches the uint8 tensor by index.
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        return images, torch.as_tensor(dataset.targets, dtype=torch.long)

    def load(self) -> Arrays:
        x, y = self._read(self.hparams.path)
        if self.hparams.test_path:
            test_x, test_y = self._read(self.hparams.test_path)
            return Arrays(x, y, test_x, test_y)
        return fixed_split(x, y, self.hparams.test_fraction)


class NpyDataModule(InMemoryDataModule):
    """An array file [N, ...] (uint8 images, or floats), with optional label and test files."""

    def __init__(
        self,
        *args,
        path: str = "???",
        labels: str | None = None,
        test_path: str | None = None,
        test_labels: str | None = None,
        test_fraction: float = 0.2,
        standardize: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        require(
            not standardize or self.hparams.output_activation != "sigmoid",
            "data.standardize=true gives values outside [0, 1], which a sigmoid output cannot reach: set "
            "data.output_activation=identity with loss=mse.",
        )

    @staticmethod
    def _array(path: str | None, what: str) -> np.ndarray | None:
        if path is None:
            return None
        require(Path(path).is_file(), f"The {what} file {path} does not exist: check data.{what}.")
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise UserError(f"The {what} file {path} is not a readable .npy array: save it with numpy.save.") from error

    def _pair(self, path: str, labels: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self._array(path, "path"))
        y = self._array(labels, "labels")
        y = torch.full((len(x),), -1, dtype=torch.long) if y is None else torch.from_numpy(y).long()
        require(len(y) == len(x), f"{labels} has {len(y)} labels for {len(x)} samples.")
        return (x if x.dtype == torch.uint8 else x.float()), y

    def load(self) -> Arrays:
        x, y = self._pair(self.hparams.path, self.hparams.labels)
        if self.hparams.test_path:
            arrays = Arrays(x, y, *self._pair(self.hparams.test_path, self.hparams.test_labels))
        else:
            arrays = fixed_split(x, y, self.hparams.test_fraction)
        return arrays

    def setup(self, stage: str | None = None) -> None:
        standardised = self.arrays is not None
        super().setup(stage)
        if self.hparams.standardize and not standardised:
            # Statistics of the training part only, after the validation split: nothing leaks from val or test.
            train = to_float(self.train_x)  # uint8 images as intensities in [0, 1]
            mean, std = train.mean(0), train.std(0).clamp_min(1e-8)
            for split in ("train", "val", "test"):
                setattr(self, f"{split}_x", (to_float(getattr(self, f"{split}_x")) - mean) / std)
            if self.hparams.pin_memory and torch.cuda.is_available():
                self.train_x = self.train_x.pin_memory()  # the standardised copy, as the base pins the raw one
