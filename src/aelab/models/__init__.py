"""Autoencoder variants, each a LightningModule on the shared base class."""

from aelab.models.ae import AE
from aelab.models.base import Autoencoder, StepOutput

__all__ = ["AE", "Autoencoder", "StepOutput"]
