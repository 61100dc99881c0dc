"""Where a model's random draws come from: a generator of its own, seeded from the run's seed.

Every random draw of a variant (reparameterisation noise, input corruption, prior samples) goes through
`Autoencoder.randn_like` / `rand_like`, which draw here. A single run draws from its model's
generator; vectorised replicas (`aelab.replicas`) first record which draws a step makes, then draw
each replica's values from that replica's own generator, in the same order, and replay them inside
the vectorised step. So replica k draws exactly what a single run with its seed draws.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

# Offsets the noise stream from the weights' initialisation, which draws from the global generator seeded alike.
NOISE_STREAM = 7_919


@dataclass
class Draw:
    """One random draw a step makes: its kind (normal or uniform), shape and dtype."""

    kind: str
    shape: tuple[int, ...]
    dtype: torch.dtype


@dataclass
class Recording:
    """Draws recorded instead of made (each answered with zeros): the plan of a step's randomness."""

    draws: list[Draw] = field(default_factory=list)


@dataclass
class Fixed:
    """Draws from a given generator, whatever the model's own (for measurements that must not move a run's stream)."""

    generator: torch.Generator


@dataclass
class Replay:
    """Values drawn beforehand, handed out in order."""

    values: list[torch.Tensor]
    position: int = 0


_mode: list[Recording | Replay | Fixed] = []


def seed_of(run_seed: int) -> int:
    """The seed of a run's noise generator."""
    return int(run_seed) + NOISE_STREAM


def generator_for(run_seed: int, device: torch.device) -> torch.Generator:
    """A fresh noise generator for a run's seed on `device`."""
    return torch.Generator(device).manual_seed(seed_of(run_seed))


def sanity_generator(run_seed: int, device: torch.device) -> torch.Generator:
    """The generator Lightning's sanity check draws from: never the run's own (it runs again on resume)."""
    return torch.Generator(device).manual_seed(seed_of(-1 - seed_of(run_seed)))


def draw(kind: str, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A draw shaped like `like`: from `generator` (torch's global one when None), or as recorded or replayed."""
    if _mode and isinstance(_mode[-1], Recording):
        _mode[-1].draws.append(Draw(kind, tuple(like.shape), like.dtype))
        return torch.zeros_like(like)
    if _mode and isinstance(_mode[-1], Fixed):
        generator = _mode[-1].generator
    elif _mode and isinstance(_mode[-1], Replay):
        replay = _mode[-1]
        value = replay.values[replay.position]
        replay.position += 1
        return value
    sample = torch.randn if kind == "normal" else torch.rand
    if generator is None:
        return sample(like.shape, dtype=like.dtype, device=like.device)
    return sample(like.shape, dtype=like.dtype, device=generator.device, generator=generator).to(like.device)


def make(plan: list[Draw], generator: torch.Generator | None, device: torch.device) -> list[torch.Tensor]:
    """Make the draws of a recorded plan from one generator, in order."""
    values = []
    for entry in plan:
        sample = torch.randn if entry.kind == "normal" else torch.rand
        options = {"dtype": entry.dtype, "generator": generator}
        values.append(sample(entry.shape, device=generator.device if generator else device, **options).to(device))
    return values


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    """Record the draws made inside the block (each answered with zeros)."""
    record = Recording()
    _mode.append(record)
    try:
        yield record
    finally:
        _mode.pop()


@contextlib.contextmanager
def drawing_from(generator: torch.Generator) -> Iterator[None]:
    """Make every draw inside the block from `generator`, leaving the models' own streams where they were."""
    _mode.append(Fixed(generator))
    try:
        yield
    finally:
        _mode.pop()


@contextlib.contextmanager
def replaying(values: list[torch.Tensor]) -> Iterator[Replay]:
    """Answer the draws made inside the block with `values`, in order."""
    replay = Replay(list(values))
    _mode.append(replay)
    try:
        yield replay
    finally:
        _mode.pop()
