"""The model registry: every published joint model with its parties, parameters, metrics and lineage."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from coordinator.jobs.store import metadata

models = sa.Table(
    "models", metadata,
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("algorithm", sa.String(32), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False),
    sa.Column("parties_json", sa.Text, nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("metrics_json", sa.Text, nullable=False),
    sa.Column("lineage_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", "version"),
)


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    version: int
    name: str
    algorithm: str
    job_id: str
    parties: list[str]
    params: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    created_at: float


class ModelRegistry:
    """Records published models; versions count up per model name."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def record(self, *, model_id: str, name: str, algorithm: str, job_id: str, parties: list[str],
               params: dict[str, Any], metrics: dict[str, Any], lineage: dict[str, Any],
               now: float | None = None) -> ModelRecord:
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            latest = conn.execute(sa.select(sa.func.max(models.c.version)).where(models.c.name == name)).scalar()
            version = (latest or 0) + 1
            conn.execute(models.insert().values(
                model_id=model_id, version=version, name=name, algorithm=algorithm, job_id=job_id,
                parties_json=json.dumps(parties), params_json=json.dumps(params, sort_keys=True),
                metrics_json=json.dumps(metrics, sort_keys=True), lineage_json=json.dumps(lineage, sort_keys=True),
                created_at=now))
        return ModelRecord(model_id, version, name, algorithm, job_id, parties, params, metrics, lineage, now)

    def get(self, model_id: str) -> ModelRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(models).where(models.c.model_id == model_id)).first()
        return None if row is None else _record(row)

    def list(self, name: str | None = None) -> list[ModelRecord]:
        query = sa.select(models).order_by(models.c.created_at.desc())
        if name is not None:
            query = query.where(models.c.name == name)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]


def _record(row: Any) -> ModelRecord:
    return ModelRecord(row.model_id, row.version, row.name, row.algorithm, row.job_id, json.loads(row.parties_json),
                       json.loads(row.params_json), json.loads(row.metrics_json), json.loads(row.lineage_json),
                       row.created_at)
