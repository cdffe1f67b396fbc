"""Synthetic enterprise data for demos and tests: source-unit tables driven by a latent creditworthiness."""

from sandbox.synthdata.generate import MANIFEST_NAME, Manifest, UnitFile, generate
from sandbox.synthdata.units.platform import LABEL_COLUMN

__all__ = ["LABEL_COLUMN", "MANIFEST_NAME", "Manifest", "UnitFile", "generate"]
