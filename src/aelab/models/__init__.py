"""Autoencoder variants, each a LightningModule on the shared base class."""

from aelab.models.ae import AE
from aelab.models.base import Autoencoder, StepOutput
from aelab.models.contractive import ContractiveAE
from aelab.models.denoising import DenoisingAE
from aelab.models.sparse import SparseAE
from aelab.models.vae import VAE, BetaVAE
from aelab.models.vq_vae import VQVAE

__all__ = ["AE", "Autoencoder", "BetaVAE", "ContractiveAE", "DenoisingAE", "SparseAE", "StepOutput", "VAE", "VQVAE"]
