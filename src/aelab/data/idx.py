"""LeCun's IDX format (MNIST, Fashion-MNIST), read in place from plain or gzipped files."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np

UNSIGNED_BYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Return the uint8 array of an IDX file with `ndim` dimensions; a `.gz` file is decompressed in memory."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = bytearray(file.read())
    header = 4 + 4 * ndim
    if len(data) < header or data[:4] != bytes([0, 0, UNSIGNED_BYTE, ndim]):
        raise ValueError(f"{path} is not an IDX file of unsigned bytes with {ndim} dimensions")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(shape):
        raise ValueError(f"{path} holds {len(data) - header} values, not the {math.prod(shape)} its header gives")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, name: str) -> Path:
    """Return the path of `name` in `folder`, unpacked or gzipped (the unpacked file when both are there)."""
    path = folder / name
    return path if path.exists() else path.with_name(f"{name}.gz")
