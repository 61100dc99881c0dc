"""Image data modules: the fast path, the splits, torchvision's real file formats, clear errors."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA
from formats import bypass_cifar10_checks, write_fake_cifar10, write_mnist

from aelab.data import (
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    IndexBatches,
    MNIST5kDataModule,
    MNISTDataModule,
    NpyDataModule,
)
from aelab.utils.errors import UserError


def test_index_batches_cover_every_sample_once_in_a_new_order_each_epoch():
    x = torch.arange(103, dtype=torch.uint8)[:, None]
    loader = IndexBatches(x, torch.arange(103), batch_size=10, shuffle=True, seed=1)
    first = torch.cat([y for _, y in loader])
    second = torch.cat([y for _, y in loader])
    assert len(loader) == 11
    assert sorted(first.tolist()) == list(range(103)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    loader.set_epoch(0)  # what Lightning calls on resume: the same order as the first epoch
    assert torch.equal(torch.cat([y for _, y in loader]), first)


def test_index_batches_scale_uint8_to_unit_floats():
    x = torch.tensor([[0, 255]], dtype=torch.uint8)
    ((batch, _),) = list(IndexBatches(x, torch.zeros(1), batch_size=4))
    assert batch.dtype == torch.float32 and batch.tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize(
    ("module", "shape", "n_test"), [(DigitsDataModule, [1, 8, 8], 360), (MNIST5kDataModule, [1, 28, 28], 1000)]
)
def test_embedded_data_splits(module, shape, n_test, data_dir):
    a, b = module(root=str(data_dir), seed=1), module(root=str(data_dir), seed=2)
    a.setup(), b.setup()
    assert a.shape == shape and len(a.test_x) == n_test
    assert torch.bincount(a.test_y).tolist() == [n_test // 10] * 10  # balanced, fixed test split
    assert torch.equal(a.test_x, b.test_x)  # the test split never depends on the seed
    assert not torch.equal(a.val_y, b.val_y)  # the validation split does
    assert len(a.val_x) == round(0.1 * (len(a.val_x) + len(a.train_x)))
    batch, _ = next(iter(a.train_dataloader()))
    assert 0 <= batch.min() and batch.max() <= 1 and batch.max() > 0.9


def test_mnist_5k_is_cached_once(data_dir):
    MNIST5kDataModule(root=str(data_dir)).setup()
    assert (data_dir / "mnist_5k.npz").exists()


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("module", "folder"), [(MNISTDataModule, "MNIST"), (FashionMNISTDataModule, "FashionMNIST")])
def test_idx_files_are_read_by_torchvision(tmp_path, module, folder, gz):
    write_mnist(tmp_path / folder / "raw", n_train=60, n_test=20, gz=gz)
    datamodule = module(root=str(tmp_path), shape=[1, 28, 28], val_fraction=0.1)
    datamodule.setup()
    assert datamodule.train_x.dtype == torch.uint8 and datamodule.shape == [1, 28, 28]
    assert len(datamodule.train_x) + len(datamodule.val_x) == 60 and len(datamodule.test_x) == 20


def test_missing_mnist_names_the_folder_and_files(tmp_path):
    with pytest.raises(UserError, match=r"MNIST files are missing.*MNIST/raw.*train-images-idx3-ubyte\.gz"):
        MNISTDataModule(root=str(tmp_path)).setup()


def test_damaged_mnist_file_is_reported(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(raw)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(UserError, match="missing or damaged"):
        MNISTDataModule(root=str(tmp_path)).setup()


def test_cifar10_pickles_are_read(tmp_path, monkeypatch):
    bypass_cifar10_checks(monkeypatch)
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    datamodule = CIFAR10DataModule(root=str(tmp_path), shape=[3, 32, 32])
    datamodule.setup()
    assert datamodule.shape == [3, 32, 32] and len(datamodule.test_x) == 20


def test_cifar10_checksums_are_checked(tmp_path):
    write_fake_cifar10(tmp_path)  # our files cannot match the real release's md5s
    with pytest.raises(UserError, match="CIFAR-10 files are missing or damaged"):
        CIFAR10DataModule(root=str(tmp_path)).setup()


@pytest.mark.skipif(not (SHARED_DATA / "mnist").exists(), reason="needs ../shared/data/mnist")
def test_real_mnist_test_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED_DATA / "mnist" / name, raw / name)
    datamodule = MNISTDataModule(root=str(tmp_path), test_only=True, test_fraction=0.2)
    datamodule.setup()
    assert len(datamodule.test_x) == 2000 and len(datamodule.train_x) + len(datamodule.val_x) == 8000
    labels = torch.cat([datamodule.train_y, datamodule.val_y, datamodule.test_y])
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    with gzip.open(SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        first = np.frombuffer(f.read()[16 : 16 + 784], dtype=np.uint8)
    assert first.sum() > 0


def test_image_folder(tmp_path):
    from PIL import Image

    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(5):
            Image.fromarray(np.full((20, 30, 3), 40 * i, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    datamodule = ImageFolderDataModule(root=".", path=str(tmp_path), shape=[1, 16, 16], test_fraction=0.2)
    datamodule.setup()
    assert datamodule.shape == [1, 16, 16] and len(datamodule.test_x) == 2
    with pytest.raises(UserError, match="not a folder"):
        ImageFolderDataModule(path=str(tmp_path / "nowhere"), shape=[1, 16, 16]).setup()


def test_npy_standardised_from_train_split_only(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(5, 2, size=(100, 6)).astype(np.float32))
    np.save(tmp_path / "test.npy", rng.normal(50, 2, size=(20, 6)).astype(np.float32))
    datamodule = NpyDataModule(
        path=str(tmp_path / "x.npy"),
        test_path=str(tmp_path / "test.npy"),
        standardize=True,
        output_activation="identity",
    )
    datamodule.setup()
    # Exactly zero mean and unit deviation on the training part: its statistics alone (neither val nor test).
    assert datamodule.train_x.mean(0).abs().max() < 1e-5 and (datamodule.train_x.std(0) - 1).abs().max() < 1e-5
    assert datamodule.val_x.mean(0).abs().max() > 1e-3 and datamodule.test_x.mean() > 10


def test_npy_uint8_images_are_standardised_as_floats_and_never_for_a_sigmoid(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(50, 1, 4, 4), dtype=np.uint8))
    datamodule = NpyDataModule(path=str(tmp_path / "x.npy"), standardize=True, output_activation="identity")
    datamodule.setup()
    assert datamodule.train_x.dtype == torch.float32 and datamodule.test_x.dtype == torch.float32
    assert (datamodule.train_x.std(0) - 1).abs().max() < 1e-5
    with pytest.raises(UserError, match="standardize=true gives values outside"):
        NpyDataModule(path=str(tmp_path / "x.npy"), standardize=True)


def test_npy_out_of_range_for_sigmoid_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.linspace(-3, 3, 60, dtype=np.float32).reshape(10, 6))
    with pytest.raises(UserError, match="sigmoid output needs"):
        NpyDataModule(path=str(tmp_path / "x.npy")).setup()


def test_nan_values_are_refused(tmp_path):
    x = np.ones((10, 4), dtype=np.float32)
    x[3, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(UserError, match="NaN or infinite"):
        NpyDataModule(path=str(tmp_path / "x.npy")).setup()


def test_mnist_is_read_in_place_from_a_read_only_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(raw, n_train=60, n_test=20, gz=True)
    before = sorted(p.name for p in raw.iterdir())
    for path in [*raw.iterdir(), raw]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        datamodule = MNISTDataModule(root=str(tmp_path), shape=[1, 28, 28], val_fraction=0.1)
        datamodule.setup()
        with gzip.open(raw / "t10k-images-idx3-ubyte.gz") as f:
            first = np.frombuffer(f.read()[16 : 16 + 784], dtype=np.uint8).reshape(28, 28)
    finally:
        raw.chmod(0o755)
    assert sorted(p.name for p in raw.iterdir()) == before  # nothing unpacked beside the data (even as root)
    assert len(datamodule.train_x) + len(datamodule.val_x) == 60 and len(datamodule.test_x) == 20
    assert torch.equal(datamodule.test_x[0, 0], torch.from_numpy(first.copy()))
    assert datamodule.test_y.tolist() == [i % 10 for i in range(20)]


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").exists(), reason="needs ../shared/data/MNIST/raw")
def test_full_mnist_is_read_where_it_lies():
    raw = SHARED_DATA / "MNIST" / "raw"
    before = sorted(p.name for p in raw.iterdir())
    datamodule = MNISTDataModule(root=str(SHARED_DATA), shape=[1, 28, 28], val_fraction=0.1)
    datamodule.setup()
    assert sorted(p.name for p in raw.iterdir()) == before
    labels = torch.cat([datamodule.train_y, datamodule.val_y])
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert len(datamodule.test_x) == 10000


def test_dynamic_binarisation_is_a_fresh_bernoulli_sample_of_each_image_every_epoch():
    intensities = torch.linspace(0, 1, 64).reshape(4, 16)
    loader = IndexBatches(intensities, torch.arange(4), batch_size=3, shuffle=True, seed=0, binarize=True)
    epochs = []
    for _ in range(800):
        x, y = map(torch.cat, zip(*loader))
        epochs.append(x[y.argsort()])  # back in the images' order
    draws = torch.stack(epochs)
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    # 800 draws: the standard error of each mean is at most 0.018.
    assert (draws.mean(0) - intensities).abs().max() < 0.07
    assert not torch.equal(draws[0], draws[1])
    loader.set_epoch(1)  # a resumed run draws the same sample again
    x, y = map(torch.cat, zip(*loader))
    assert torch.equal(x[y.argsort()], draws[1])


def epoch_images(datamodule, epoch: int) -> torch.Tensor:
    """The training images as one epoch's batches draw them, in the split's order."""
    loader = datamodule.train_dataloader()
    loader.epoch_of = lambda: epoch
    loader.epoch = epoch
    order = loader.indices()
    return torch.cat([x for x, _ in loader])[order.argsort()]


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_binarised_mnist_fixes_the_test_images_whatever_the_seed(tmp_path, mode):
    write_mnist(tmp_path / "MNIST" / "raw", n_train=200, n_test=50)
    plain = MNISTDataModule(root=str(tmp_path))
    plain.setup()
    modules = [MNISTDataModule(root=str(tmp_path), binarize=mode, seed=seed, batch_size=32) for seed in (1, 2)]
    for datamodule in modules:
        datamodule.setup()
    first, second = modules
    assert torch.equal(first.test_x, second.test_x)  # the same test bits for every run
    assert set(first.test_x.unique().tolist()) <= {0, 255} and set(first.val_x.unique().tolist()) <= {0, 255}
    assert abs(first.test_x.float().mean() - plain.test_x.float().mean()) < 4  # of 255: a sample of the intensities
    zeroth, again, later = epoch_images(first, 0), epoch_images(first, 0), epoch_images(first, 1)
    assert set(zeroth.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(zeroth, again)  # the same epoch draws the same bits (a resumed run too)
    if mode == "static":  # one sample of the pool, whatever the run's seed and epoch
        assert torch.equal(first.arrays.train_x, second.arrays.train_x)
        assert torch.equal(zeroth, later) and torch.equal(zeroth, first.train_x / 255)
    else:  # the intensities stay; every epoch draws anew
        assert torch.equal(first.arrays.train_x, plain.arrays.train_x)
        assert not torch.equal(zeroth, later)


def test_binarising_values_outside_the_unit_interval_is_refused(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.linspace(-1, 1, 400, dtype=np.float32).reshape(100, 4))
    with pytest.raises(UserError, match="data.binarize=dynamic needs intensities in"):
        NpyDataModule(path=str(path), binarize="dynamic", output_activation="identity").setup()


def test_a_zero_validation_fraction_trains_on_every_training_image(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", n_train=60, n_test=20)
    datamodule = MNISTDataModule(root=str(tmp_path), val_fraction=0)
    datamodule.setup()
    assert len(datamodule.train_x) == 60 and len(datamodule.val_x) == 0 and len(datamodule.val_dataloader()) == 0


def test_the_dataloader_path_with_workers_trains_exactly_as_the_in_memory_path(compose):
    import aelab

    losses = {}
    for in_memory in ("true", "false"):
        cfg = compose(
            "data=digits",
            f"data.in_memory={in_memory}",
            "data.num_workers=2",
            "callbacks=none",
            "test=false",
            run=f"in_memory_{in_memory}",
        )
        metrics = aelab.train(cfg)
        losses[in_memory] = (metrics["train/loss"], metrics["val/loss"])
    # The same batches in the same order (EpochPermutation draws the in-memory path's order): the same run.
    assert losses["false"] == pytest.approx(losses["true"], rel=1e-6)


def test_epoch_permutation_is_the_in_memory_order():
    from aelab.data.batches import EpochPermutation

    x = torch.arange(50, dtype=torch.uint8)[:, None]
    batches = IndexBatches(x, torch.arange(50), batch_size=50, shuffle=True, seed=7)
    sampler = EpochPermutation(50, seed=7, shuffle=True)
    for epoch in range(3):
        batches.set_epoch(epoch)
        sampler.set_epoch(epoch)
        assert list(sampler) == next(iter(batches))[1].tolist()
