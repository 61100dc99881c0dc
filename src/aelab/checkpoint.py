"""Reading aelab checkpoints safely and rebuilding models from them."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from hydra.utils import get_class

from aelab.callbacks.record import CHECKPOINT_KEY
from aelab.utils.errors import UserError, require


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint without executing code from it; refuse files aelab did not write."""
    path = Path(path)
    require(path.is_file(), f"The checkpoint {path} does not exist: pass ckpt_path=<run>/checkpoints/<file>.ckpt.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise UserError(f"{path} is not a readable checkpoint (damaged, or not written by torch).") from error
    require(
        isinstance(checkpoint, dict) and CHECKPOINT_KEY in checkpoint,
        f"{path} was not written by aelab-train (it carries no aelab run record).",
    )
    return checkpoint


def model_class(checkpoint: dict):
    """Return the LightningModule class that wrote a checkpoint (refusing a checkpoint of stacked replicas)."""
    config = checkpoint[CHECKPOINT_KEY]["config"]
    seeds = config.get("seeds")
    require(
        not seeds,
        f"This checkpoint holds {len(seeds or [])} replicas (seeds={seeds}) stacked for training: load one replica's "
        "checkpoint from <run>/replicas/<k>/checkpoints/ instead.",
    )
    return get_class(config["model"]["_target_"])


def load_model(path: str | Path, map_location: str | torch.device = "cpu"):
    """Load a trained autoencoder from an aelab checkpoint, ready for `encode` and `decode`."""
    checkpoint = read_checkpoint(path)
    model = model_class(checkpoint).load_from_checkpoint(path, map_location=map_location, weights_only=True)
    return model.eval()
