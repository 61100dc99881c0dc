"""Samples per second of the in-memory index path against torchvision's per-sample ToTensor pipeline.

Both read the same 5,000 MNIST images (mnist_5k) on one thread, batch 128, shuffled; the two are
alternated over several rounds and the median of each is reported. Prints JSON.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from aelab.data import IndexBatches, MNIST5kDataModule

BATCH = 128


class PerSampleImages(Dataset):
    """What torchvision's MNIST does per sample: a PIL image from the array, then ToTensor."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels
        self.transform = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.images[index, 0].numpy(), mode="L")
        return self.transform(image), int(self.labels[index])


def samples_per_second(loader) -> float:
    """Iterate one epoch and return samples per second."""
    start, count = time.perf_counter(), 0
    for x, _ in loader:
        count += len(x)
    return count / (time.perf_counter() - start)


def main(rounds: int = 5) -> dict:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        datamodule = MNIST5kDataModule(root=root)
        datamodule.setup()
    images = torch.cat([datamodule.train_x, datamodule.val_x, datamodule.test_x])
    labels = torch.cat([datamodule.train_y, datamodule.val_y, datamodule.test_y])
    fast = IndexBatches(images, labels, BATCH, shuffle=True, seed=0)
    slow = DataLoader(PerSampleImages(images, labels), batch_size=BATCH, shuffle=True, num_workers=0)
    samples_per_second(fast), samples_per_second(slow)  # warm-up
    runs = {"index": [], "torchvision": []}
    for _ in range(rounds):  # alternated, so drifts in machine load hit both alike
        runs["index"].append(samples_per_second(fast))
        runs["torchvision"].append(samples_per_second(slow))
    index, torchvision = statistics.median(runs["index"]), statistics.median(runs["torchvision"])
    return {
        "benchmark": "data_path",
        "images": len(images),
        "batch_size": BATCH,
        "threads": 1,
        "index_samples_per_s": round(index),
        "torchvision_samples_per_s": round(torchvision),
        "ratio": round(index / torchvision, 1),
        "target_ratio": 50,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
