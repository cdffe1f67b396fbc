"""Check a local federation's SecureBoost job against an uninterrupted run of the very same job.

Two separate jobs are not comparable tree for tree: each party draws a fresh secret split-id key per job,
and a tie in gain between two candidates (two features, often of two parties, that split a node's sampled
rows the same way) is broken by the lower opaque id, so two uninterrupted jobs can pick different features
there. The reference for "the same model as an uninterrupted run" is therefore the same job replayed in
one process, uninterrupted, from what each party used: the platform's rows and labels, each source node's
aligned rows (its intersection and the alignment it received) and each party's split key (kept in its
checkpoints). Plain and encrypted training give the same trees bit for bit (docs/protocols/secureboost.md
section 1), so the replay trains in the clear.

Sandbox and tests only: it reads every party's files, which in a real deployment sit in different
organisations.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from federation.alignment import apply_alignment
from federation.checkpoints import CheckpointStore
from federation.job_files import read_intersection
from federation.proto import alignment_pb2
from jobspec import Stage, StageParams
from jobspec.spec import parse_job_spec
from models.secureboost import ActiveModel, FeatureTable, PassiveModel
from models.secureboost.local import train_in_process
from models.splits import holdout_split
from sandbox.launcher import PLATFORM, LocalFederation
from sandbox.synthdata import LABEL_COLUMN
from tables import load_table
from tables.features import feature_matrix


def _state(fed: LocalFederation, party: str) -> Path:
    role, name = party.split("/")
    return fed.node_state(role, name)


def _split_key(fed: LocalFederation, party: str, job_id: str) -> bytes:
    """The party's split-id key of the job, from its newest train checkpoint."""
    store = CheckpointStore(_state(fed, party) / "jobs" / job_id, Stage.TRAIN)
    doc = json.loads(store.load(store.units()[-1]))
    return bytes.fromhex(doc["active"]["own"]["key"] if "active" in doc else doc["passive"]["key"])


def replay_secureboost(fed: LocalFederation, job_id: str, spec_toml: str) -> tuple[ActiveModel, dict[str, PassiveModel]]:
    """The model parts an uninterrupted, in-process run of the job's train stage gives with each party's
    inputs and keys of that job."""
    spec = parse_job_spec(spec_toml)
    settings = StageParams.parse(spec.stage_params(Stage.TRAIN)).require_train()
    params = dataclasses.replace(settings.secureboost, encryption=False)
    platform = load_table(fed.platform_data.schema, fed.platform_data.table)
    train_ids, _ = holdout_split(sorted(str(i) for i in platform.ids), settings.holdout, params.seed)
    labels = platform.frame[LABEL_COLUMN].astype("float64").loc[train_ids].to_numpy()
    own = feature_matrix(platform, exclude=[LABEL_COLUMN], rows=train_ids)
    passives = {}
    for party in spec.passive:
        data = fed.sources[party.split("/")[1]]
        folder = _state(fed, party) / "jobs" / job_id
        alignment = alignment_pb2.SplitAlignment.FromString((folder / "secureboost-alignment.bin").read_bytes())
        rows = feature_matrix(load_table(data.schema, data.table), rows=read_intersection(folder))
        passives[party] = FeatureTable(rows.names, apply_alignment(alignment.train, rows.values))
    keys = {party: _split_key(fed, party, job_id) for party in spec.parties}
    result = train_in_process(params, labels, FeatureTable(own.names, own.values), passives,
                              active=PLATFORM.party, split_keys=keys)
    return result.active, result.passives


def published_predictions(fed: LocalFederation, model_id: str) -> np.ndarray:
    """Every platform enterprise scored from the parts each party published for `model_id`."""
    active = ActiveModel.from_bytes(
        (_state(fed, PLATFORM.party) / "models" / model_id / "secureboost-active.bin").read_bytes())
    passives = {p: PassiveModel.from_bytes((_state(fed, p) / "models" / model_id / "secureboost-passive.bin")
                                           .read_bytes()) for p in active.parties}
    return predictions(fed, active, passives)


def predictions(fed: LocalFederation, active: ActiveModel, passives: dict[str, PassiveModel]) -> np.ndarray:
    """Every platform enterprise scored with the given parts (each source's features from its own table)."""
    platform = load_table(fed.platform_data.schema, fed.platform_data.table)
    ids = sorted(str(i) for i in platform.ids)
    own = feature_matrix(platform, exclude=[LABEL_COLUMN], rows=ids)
    masks = {}
    for party, part in passives.items():
        data = fed.sources[party.split("/")[1]]
        table = feature_matrix(load_table(data.schema, data.table), rows=ids)
        masks[party] = part.leaf_masks(FeatureTable(table.names, table.values))
    return active.predict(FeatureTable(own.names, own.values), masks)
