"""A source node's protocol steps: bin its own variables, sum encrypted labels per bin, apply the outcome.

The owner keeps its cut points; it sends bin sizes in the clear and event sums encrypted under the
platform's key, re-randomised (and optionally noised) so the platform cannot tell which label ciphertexts
went into which sum. See docs/protocols/woe.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import woe_pb2
from models.binning import BinningError
from models.he import (
    CipherVector,
    Encryptor,
    FixedPointCodec,
    InlineObfuscators,
    ObfuscatorSupply,
    PackingLayout,
    cipher_vector_from_message,
    cipher_vector_to_message,
    public_key_from_message,
)
from models.he.scheme import PublicKey
from models.woe.label_holder import FORMAT_VERSION
from models.woe.noise import geometric_noise
from models.woe.selection import RankingEntry
from models.woe.variables import OwnedVariable, fine_bins


@dataclass(frozen=True)
class OwnerPolicy:
    """A feature owner's own choices: how finely to bin, whether to publish names, noise on its counts."""

    n_bins: int = 20
    publish_names: bool = False
    noise_epsilon: float | None = None
    min_rows: int = 100
    allow_insecure_for_tests: bool = False

    def __post_init__(self) -> None:
        if self.n_bins < 2:
            raise BinningError("n_bins must be >= 2")
        if self.noise_epsilon is not None and self.noise_epsilon <= 0:
            raise BinningError("noise_epsilon must be positive (or None for no noise)")


@dataclass(frozen=True)
class OwnerResult:
    """What the owner ends with: its variables (merged bins, WOE if shared) and the ranking it may see."""

    variables: list[OwnedVariable]
    ranking: list[RankingEntry]

    def by_name(self) -> dict[str, OwnedVariable]:
        """Variables keyed by name."""
        return {v.name: v for v in self.variables}


class WoeFeatureOwner:
    """One source node's variables (name -> values aligned with the platform's rows) and its policy."""

    def __init__(self, party: str, features: Mapping[str, np.ndarray], *, categories: Mapping[str, str] | str,
                 policy: OwnerPolicy = OwnerPolicy(), rng: np.random.Generator | None = None) -> None:  # noqa: B008
        if not features:
            raise BinningError("a feature owner needs at least one variable")
        self.party = party
        self.policy = policy
        self.features = dict(features)
        self.categories = categories
        self._rng = rng if rng is not None else np.random.default_rng(secrets.randbits(128))
        self._fine = fine_bins(self.features, n_bins=policy.n_bins, categories=categories)
        self.key: PublicKey | None = None

    def count(self, setup: woe_pb2.LabelSetup, chunks: Sequence[woe_pb2.LabelChunk],
              obfuscators: ObfuscatorSupply | None = None) -> woe_pb2.BinCounts:
        """Sum the encrypted labels per bin of every variable; re-randomise, noise and pack the sums."""
        if setup.format_version != FORMAT_VERSION:
            raise BinningError(f"unsupported format version {setup.format_version}")
        if setup.rows < self.policy.min_rows:
            raise BinningError(f"{setup.rows} rows is below this owner's minimum of {self.policy.min_rows}")
        key = public_key_from_message(setup.key, allow_insecure_for_tests=self.policy.allow_insecure_for_tests)
        self.key = key
        ordered = sorted(chunks, key=lambda c: c.index)
        if [c.index for c in ordered] != list(range(setup.chunks)):
            raise BinningError("label chunks are missing or repeated")
        labels = CipherVector.concat([cipher_vector_from_message(c.labels, key) for c in ordered])
        if labels.rows != setup.rows:
            raise BinningError(f"{labels.rows} encrypted labels for {setup.rows} rows")
        for fine in self._fine:
            if fine.index.size != labels.rows:
                raise BinningError(f"{fine.name!r} has {fine.index.size} rows, the job has {labels.rows}")
        sums = CipherVector.concat([labels.bucket_sum(fine.index, fine.bins.n_bins) for fine in self._fine])
        # Adding a fresh encryption (of the noise, or of zeros) re-randomises every sum: without it the
        # platform could test which of its own label ciphertexts multiply to a returned sum.
        if self.policy.noise_epsilon is not None:
            noise = geometric_noise(sums.rows, self.policy.noise_epsilon, bound=int(setup.rows), rng=self._rng)
        else:
            noise = np.zeros(sums.rows, dtype=np.int64)
        noise_layout = PackingLayout(FixedPointCodec(0, float(max(int(setup.rows), 1))), slots=1,
                                     slot_bits=labels.layout.slot_bits)
        supply = obfuscators if obfuscators is not None else InlineObfuscators(key.obfuscator_source())
        noised = sums.add(Encryptor(key, supply).encrypt(noise.astype(np.float64), noise_layout))
        message = woe_pb2.BinCounts(events=cipher_vector_to_message(noised.pack()),
                                    noised=self.policy.noise_epsilon is not None)
        for fine in self._fine:
            message.variables.append(woe_pb2.VariableCounts(
                variable_id=fine.variable_id, name=fine.name if self.policy.publish_names else "",
                category=fine.category, totals=fine.totals.astype(np.int64).tolist(),
                has_missing=fine.bins.has_missing))
        return message

    def absorb(self, outcome: woe_pb2.BinningOutcome) -> OwnerResult:
        """Apply the merge plans to the private cut points and keep WOE, IV, rank and selection."""
        by_id = {v.variable_id: v for v in outcome.variables}
        if set(by_id) != {f.variable_id for f in self._fine}:
            raise BinningError("the outcome does not cover exactly this owner's variables")
        variables = []
        for fine in self._fine:
            result = by_id[fine.variable_id]
            bins = fine.bins.merged(list(result.groups))
            woe = np.asarray(result.woe, dtype=np.float64) if len(result.woe) else None
            if woe is not None and woe.size != bins.n_bins:
                raise BinningError(f"{len(result.woe)} WOE values for {bins.n_bins} merged bins")
            variables.append(OwnedVariable(fine.name, fine.variable_id, fine.category, bins, woe, result.iv,
                                           result.rank, result.selected))
        ranking = [RankingEntry(e.variable, e.iv, e.rank, e.selected, e.own) for e in outcome.ranking]
        names = {f.variable_id: f.name for f in self._fine}
        ranking = [RankingEntry(names.get(e.variable, e.variable) if e.own else e.variable, e.iv, e.rank,
                                e.selected, e.own) for e in ranking]
        return OwnerResult(variables, ranking)
