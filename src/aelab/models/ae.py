"""The plain autoencoder: a deterministic latent and a reconstruction loss."""

from aelab.models.base import Autoencoder


class AE(Autoencoder):
    """A deterministic autoencoder minimising the reconstruction term (plus optional weight penalties)."""

    vectorisable = True
