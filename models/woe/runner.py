"""The only WOE code that touches a channel: moves the step classes' messages between the parties.

Pass a channel scoped to the job (e.g. `channel.scoped("job-42/woe")`). The platform runs
`run_label_holder`, every source node `run_feature_owner`; both work over InMemoryChannel and GrpcChannel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from federation.channel import Channel
from federation.proto import woe_pb2
from models.he import Decryptor, Encryptor, InlineObfuscators, ObfuscatorSupply
from models.he.scheme import SecretKey
from models.woe.feature_owner import OwnerPolicy, OwnerResult, WoeFeatureOwner
from models.woe.label_holder import DEFAULT_CHUNK_ROWS, WoeLabelHolder, WoeOptions
from models.woe.selection import RankedVariable, RankingEntry, ranking_view
from models.woe.variables import OwnedVariable, VariableReport, fine_bins

DEFAULT_TIMEOUT = 600.0


class Tags:
    """Every message tag of the WOE protocol, named once for both roles."""

    SETUP = "woe/setup"
    COUNTS = "woe/counts"
    OUTCOME = "woe/outcome"

    @staticmethod
    def labels(index: int) -> str:
        return f"woe/labels-{index}"


@dataclass(frozen=True)
class LabelHolderResult:
    """The platform's view: every variable's counts, WOE and IV, its own binned variables, the ranking."""

    reports: list[VariableReport]
    ranking: list[RankedVariable]
    own: list[OwnedVariable]

    def view(self, party: str) -> list[RankingEntry]:
        """The ranking as `party` may see it."""
        return ranking_view(self.ranking, party)


def run_label_holder(channel: Channel, owners: Sequence[str], *, labels: np.ndarray, secret: SecretKey,
                     options: WoeOptions = WoeOptions(),  # noqa: B008 - frozen
                     own_features: Mapping[str, np.ndarray] | None = None, own_category: str = "platform",
                     obfuscators: ObfuscatorSupply | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                     timeout: float = DEFAULT_TIMEOUT) -> LabelHolderResult:
    """Run federated binning as the platform with every feature owner; returns WOE/IV of all variables."""
    holder = WoeLabelHolder(channel.me, labels, options)
    key = secret.public
    supply = obfuscators if obfuscators is not None else InlineObfuscators(secret.obfuscator_source())
    setup, chunks = holder.setup_messages(Encryptor(key, supply), chunk_rows=chunk_rows)
    for owner in owners:
        channel.send(owner, Tags.SETUP, setup)
        for chunk in chunks:
            channel.send(owner, Tags.labels(chunk.index), chunk)
    if own_features:
        holder.count_own(fine_bins(own_features, n_bins=options.n_bins, categories=own_category, rows=holder.rows))
    decryptor = Decryptor(secret)
    for owner in owners:
        holder.absorb_counts(owner, channel.recv(owner, Tags.COUNTS, woe_pb2.BinCounts, timeout), key, decryptor)
    reports, ranking = holder.finish()
    for owner in owners:
        channel.send(owner, Tags.OUTCOME, holder.outcome_for(owner, reports, ranking))
    return LabelHolderResult(reports, ranking, holder.own_variables(reports))


def run_feature_owner(channel: Channel, label_holder: str, *, features: Mapping[str, np.ndarray],
                      categories: Mapping[str, str] | str, policy: OwnerPolicy = OwnerPolicy(),  # noqa: B008
                      obfuscators: ObfuscatorSupply | None = None, rng: np.random.Generator | None = None,
                      timeout: float = DEFAULT_TIMEOUT) -> OwnerResult:
    """Run federated binning as a source node: answer with encrypted per-bin event sums, apply the outcome."""
    owner = WoeFeatureOwner(channel.me, features, categories=categories, policy=policy, rng=rng)
    setup = channel.recv(label_holder, Tags.SETUP, woe_pb2.LabelSetup, timeout)
    chunks = [channel.recv(label_holder, Tags.labels(k), woe_pb2.LabelChunk, timeout) for k in range(setup.chunks)]
    channel.send(label_holder, Tags.COUNTS, owner.count(setup, chunks, obfuscators))
    return owner.absorb(channel.recv(label_holder, Tags.OUTCOME, woe_pb2.BinningOutcome, timeout))
