"""Autoencoder variants, each a LightningModule on the shared base class."""

from aelab.models.aae import AdversarialAE
from aelab.models.ae import AE
from aelab.models.base import Autoencoder, StepOutput
from aelab.models.contractive import ContractiveAE
from aelab.models.deep_svdd import DeepSVDD
from aelab.models.denoising import DenoisingAE
from aelab.models.ksparse import KSparseAE
from aelab.models.sparse import SparseAE
from aelab.models.stacked import StackedAE
from aelab.models.vae import VAE, BetaVAE
from aelab.models.vq_vae import VQVAE
from aelab.models.wae import WAE

__all__ = [
    "AE",
    "AdversarialAE",
    "Autoencoder",
    "BetaVAE",
    "ContractiveAE",
    "DeepSVDD",
    "DenoisingAE",
    "KSparseAE",
    "SparseAE",
    "StackedAE",
    "StepOutput",
    "VAE",
    "VQVAE",
    "WAE",
]
