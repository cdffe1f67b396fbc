"""The platform's `[api.enterprise]` settings: which identity provider proves who an enterprise is, the
audience proofs must name, and the windows of proofs and signed requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import ConfigurationError


@dataclass(frozen=True)
class EnterpriseSettings:
    """`identity_provider` names an installed provider (`local-certificate` ships with xyd; see OPERATIONS.md
    for a city's own); `provider_options` is its own table. Without a provider, enterprises cannot sign up."""

    identity_provider: str | None = None
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    audience: str = "platform/main"
    request_window_s: int = 60
    proof_window_s: int = 300
    base_dir: Path | None = None  # the config file's folder: relative provider paths resolve against it

    def __post_init__(self) -> None:
        if not isinstance(self.provider_options, Mapping):
            raise ConfigurationError("[api.enterprise.provider_options] must be a table")
        if not 5 <= self.request_window_s <= 600 or not 30 <= self.proof_window_s <= 3600:
            raise ConfigurationError("need 5 <= request_window_s <= 600 and 30 <= proof_window_s <= 3600")
