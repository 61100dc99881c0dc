"""Writers of small files in the real MNIST IDX and CIFAR-10 pickle formats, for loader tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

MNIST_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_bytes(array: np.ndarray) -> bytes:
    # IDX: magic = 0x08 (uint8) << 8 | number of dimensions, then big-endian int32 sizes.
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(raw: Path, n_train: int = 60, n_test: int = 20, gz: bool = False, seed: int = 0) -> None:
    """Write random 28x28 digits and labels 0..9 as IDX files (optionally gzipped) into `raw`."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    for train, n in ((True, n_train), (False, n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for name, array in zip(MNIST_NAMES[train], (images, labels)):
            data = _idx_bytes(array)
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def fake_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Return uint8 RGB images [n, 3, 32, 32]: a blocky pattern per class plus noise, something a model can learn."""
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(0).choice([20, 230], size=(10, 3, 4, 4)).repeat(8, axis=2).repeat(8, axis=3)
    noisy = templates[labels] + rng.normal(0, 15, size=(len(labels), 3, 32, 32))
    return noisy.clip(0, 255).astype(np.uint8)


def write_fake_cifar10(root: str | Path, n_train: int = 500, n_test: int = 100, seed: int = 0) -> Path:
    """Write a tiny CIFAR-10 in the official python format under root/cifar-10-batches-py; return root.

    torchvision checks the official MD5 sums, so tests that read these files must bypass that check
    (see `bypass_cifar10_checks`).
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def dump(name: str, n: int) -> None:
        labels = rng.integers(0, 10, size=n)
        images = fake_images(labels, seed=int(rng.integers(1 << 31)))
        entry = {"data": images.reshape(n, 3072), "labels": labels.tolist(), "batch_label": name}
        with open(folder / name, "wb") as file:
            pickle.dump(entry, file)

    for i, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        dump(f"data_batch_{i}", len(part))
    dump("test_batch", n_test)
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump({"label_names": CIFAR10_CLASSES, "num_cases_per_batch": n_train // 5}, file)
    return Path(root)


def bypass_cifar10_checks(monkeypatch) -> None:
    """Make torchvision's CIFAR10 accept files without the official MD5 sums (tests only)."""
    from torchvision.datasets import CIFAR10

    def load_meta(self) -> None:
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as file:
            self.classes = pickle.load(file, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(CIFAR10, "_load_meta", load_meta)
