"""One stage handler per algorithm: a stage of a training job runs the handler of its `[train] algorithm`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.tasks import Handler, TaskContext, TaskFailed
from jobspec.settings import SettingsError, StageParams
from jobspec.stages import Algorithm


def per_algorithm(handlers: Mapping[Algorithm, Handler]) -> Handler:
    """A handler that hands the task to `handlers[algorithm]` of the job, refusing other algorithms."""

    def handle(ctx: TaskContext) -> Mapping[str, Any]:
        try:
            train = StageParams.parse(ctx.params).require_train()
        except SettingsError as exc:
            raise TaskFailed("BAD_PARAMS", str(exc)) from exc
        handler = handlers.get(train.algorithm)
        if handler is None:
            raise TaskFailed("UNKNOWN_STAGE", f"stage {ctx.stage!r} does not run {train.algorithm} here; "
                                              f"it runs {sorted(a.value for a in handlers)}")
        return handler(ctx)

    return handle
