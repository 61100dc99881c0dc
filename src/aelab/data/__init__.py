"""LightningDataModules: embedded, torchvision and the user's own data."""

from aelab.data.base import Arrays, InMemoryDataModule
from aelab.data.batches import IndexBatches
from aelab.data.csv_series import CSVSeriesDataModule
from aelab.data.ecg5000 import ECG5000DataModule
from aelab.data.embedded import DigitsDataModule, MNIST5kDataModule
from aelab.data.files import ImageFolderDataModule, NpyDataModule
from aelab.data.nab import NABDataModule
from aelab.data.nasa import NASADataModule
from aelab.data.synthetic_series import SyntheticSeriesDataModule
from aelab.data.timeseries import SeriesDataModule
from aelab.data.torchvision_sets import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from aelab.data.tsb_ad import TSBADDataModule
from aelab.data.ucr_anomaly import UCRAnomalyDataModule

__all__ = [
    "Arrays",
    "CIFAR10DataModule",
    "CSVSeriesDataModule",
    "DigitsDataModule",
    "ECG5000DataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "IndexBatches",
    "MNIST5kDataModule",
    "MNISTDataModule",
    "NABDataModule",
    "NASADataModule",
    "NpyDataModule",
    "SeriesDataModule",
    "SyntheticSeriesDataModule",
    "TSBADDataModule",
    "UCRAnomalyDataModule",
]
