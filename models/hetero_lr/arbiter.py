"""The arbiter's protocol steps (the coordinator: the CKKS secret key, no data, no labels).

It decrypts only masked vectors and returns only their slot sums, plus Gaussian flooding noise: a party
that knew a ciphertext and its exact decryption could learn about the secret key from the CKKS error
(Li and Micciancio 2021); the noise (default 1e-3, about 20x the error of a 4096-slot sum measured here)
hides that error in every value that leaves the arbiter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from federation.proto import he_pb2
from federation.proto import hetero_lr_pb2 as pb
from models.he.ckks import CkksContext, CkksParams
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.params import HeteroLrParams, PlanRefusedError, ProtocolError
from models.hetero_lr.vectors import decrypt_message

DEFAULT_FLOOD_SIGMA = 1e-3


@dataclass(frozen=True)
class ArbiterPolicy:
    """The arbiter's own choices: its CKKS parameters, plaintext mode, noise and a cap on columns."""

    ckks: CkksParams = CkksParams()
    allow_plaintext: bool = False
    flood_sigma: float = DEFAULT_FLOOD_SIGMA
    max_columns: int = 4096


class Arbiter:
    """Holds the CKKS secret key of one training run and answers masked-sum requests."""

    def __init__(self, policy: ArbiterPolicy = ArbiterPolicy(), *, masks: MaskSource | None = None) -> None:  # noqa: B008
        self.policy = policy
        self._masks = masks or MaskSource()
        self._context: CkksContext | None = None
        self.params: HeteroLrParams | None = None
        self.requests = 0

    def setup(self, plan: pb.TrainPlan) -> pb.CkksSetup:
        """Accept the guest's plan and make a fresh key; the parties get the public context only
        (relinearisation keys included, no Galois keys: the protocol never rotates)."""
        params = HeteroLrParams.from_plan(plan, self.policy.ckks)
        if not params.encrypted:
            if not self.policy.allow_plaintext:
                raise PlanRefusedError("the guest asked for plaintext training and the arbiter does not allow it")
            self.params = params
            return pb.CkksSetup()
        self.params = params
        self._context = CkksContext.generate(self.policy.ckks, galois_keys=False)
        public = self._context.public(galois_keys=False)
        return pb.CkksSetup(context=he_pb2.CkksPublicContext(
            context=public.to_bytes(), poly_degree=self.policy.ckks.poly_degree,
            coeff_bits=list(self.policy.ckks.coeff_bits), scale_bits=self.policy.ckks.scale_bits))

    def answer(self, request: pb.MaskedColumns) -> pb.MaskedSums:
        """The (still masked) slot sum of every column, with flooding noise."""
        if self.params is None:
            raise ProtocolError("setup() first")
        if not 0 < len(request.columns) <= self.policy.max_columns:
            raise ProtocolError(f"{len(request.columns)} columns (allowed: 1..{self.policy.max_columns})")
        sums = np.array([decrypt_message(column, self._context).sum() for column in request.columns])
        self.requests += 1
        # Flooding hides the CKKS decryption error; plaintext mode has no key and no error to hide.
        sigma = self.policy.flood_sigma if self._context is not None else 0.0
        return pb.MaskedSums(sums=(sums + self._masks.gaussian(sums.size, sigma)).tolist())
