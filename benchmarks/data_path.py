"""Samples per second of the in-memory index path against torchvision's per-sample ToTensor pipeline, and under DDP.

Both read the same 5,000 MNIST images (mnist_5k) on one thread, batch 128, shuffled; the two are
alternated over several rounds and the median of each is reported.

DDP on the CPU: the index path in 2 processes (gloo, one thread each, forked from this one so no start-up is
timed), each iterating its own shard as `IndexBatches` cuts it under torch.distributed. After a warm-up epoch
and a barrier, every rank runs the same number of epochs; the aggregate is all ranks' samples over the
slowest rank's time. The single-process figure beside it runs the same epochs in this process, alternated
with the DDP rounds. Only the data path is timed, no training. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from aelab.data import IndexBatches, MNIST5kDataModule

BATCH = 128
WORLD = 2
DDP_EPOCHS = 400  # per measurement: an epoch of a 2,500-image shard takes well under a millisecond


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


def iterate_epochs(loader, epochs: int) -> tuple[int, float]:
    """Iterate `epochs` epochs; return (samples, seconds)."""
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for x, _ in loader:
            count += len(x)
    return count, time.perf_counter() - start


def free_port() -> int:
    """A TCP port free on this machine now, for the process group's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp_rank(rank: int, port: int, images: torch.Tensor, labels: torch.Tensor, out: torch.Tensor) -> None:
    """One DDP rank: iterate its shard for DDP_EPOCHS epochs after a warm-up; write (samples, seconds) to `out`."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    loader = IndexBatches(images, labels, BATCH, shuffle=True, seed=0)
    samples_per_second(loader)  # warm-up
    dist.barrier()
    out[rank] = torch.tensor(iterate_epochs(loader, DDP_EPOCHS), dtype=torch.float64)
    dist.destroy_process_group()


def ddp_round(images: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
    """Run the ranks once; return the aggregate samples per second and each rank's."""
    out = torch.zeros(WORLD, 2, dtype=torch.float64).share_memory_()
    # Forked, not spawned: the ranks inherit the imports, and no start-up lies inside the timed span.
    mp.start_processes(ddp_rank, args=(free_port(), images, labels, out), nprocs=WORLD, start_method="fork")
    samples, seconds = out[:, 0], out[:, 1]
    return float(samples.sum() / seconds.max()), (samples / seconds).tolist()


def ddp(images: torch.Tensor, labels: torch.Tensor, rounds: int) -> dict:
    """The index path under DDP on the CPU against one process over the same epochs, alternated."""
    single = IndexBatches(images, labels, BATCH, shuffle=True, seed=0)
    samples_per_second(single)  # warm-up
    runs: dict[str, list] = {"single": [], "ddp": [], "per_rank": []}
    for _ in range(rounds):
        samples, seconds = iterate_epochs(single, DDP_EPOCHS)
        runs["single"].append(samples / seconds)
        aggregate, per_rank = ddp_round(images, labels)
        runs["ddp"].append(aggregate)
        runs["per_rank"].append(per_rank)
    single_rate, ddp_rate = statistics.median(runs["single"]), statistics.median(runs["ddp"])
    return {
        "world_size": WORLD,
        "backend": "gloo",
        "threads_per_rank": 1,
        "epochs_per_measurement": DDP_EPOCHS,
        "single_process_samples_per_s": round(single_rate),
        "ddp_samples_per_s": round(ddp_rate),
        "ddp_per_rank_samples_per_s": [round(statistics.median(r)) for r in zip(*runs["per_rank"])],
        "speedup": round(ddp_rate / single_rate, 2),
        "ideal_speedup": min(WORLD, os.cpu_count() or 1),
    }


def main(rounds: int = 5, with_ddp: bool = True) -> dict:
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
    result = {
        "benchmark": "data_path",
        "images": len(images),
        "batch_size": BATCH,
        "threads": 1,
        "index_samples_per_s": round(index),
        "torchvision_samples_per_s": round(torchvision),
        "ratio": round(index / torchvision, 1),
        "target_ratio": 50,
    }
    if with_ddp:
        result["ddp_cpu"] = ddp(images, labels, rounds)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two rounds: a smoke run, not a measurement")
    parser.add_argument("--no-ddp", dest="ddp", action="store_false", help="leave out the DDP measurement")
    args = parser.parse_args()
    print(json.dumps(main(2 if args.quick else args.rounds, args.ddp), indent=2))
