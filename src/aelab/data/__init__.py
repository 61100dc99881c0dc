"""LightningDataModules: embedded, torchvision and the user's own data."""

from aelab.data.base import Arrays, InMemoryDataModule
from aelab.data.batches import IndexBatches
from aelab.data.embedded import DigitsDataModule, MNIST5kDataModule
from aelab.data.files import ImageFolderDataModule, NpyDataModule
from aelab.data.torchvision_sets import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "Arrays",
    "CIFAR10DataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "IndexBatches",
    "MNIST5kDataModule",
    "MNISTDataModule",
    "NpyDataModule",
]
