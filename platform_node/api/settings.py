"""The bank API's settings: one frozen object, read from the `[api]` table of a TOML file.

Handlers read settings through the `Settings` dependency, so tests override them per app
(`app.dependency_overrides[get_settings]`). Unknown keys are refused, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from errors import ConfigurationError
from platform_node.api.http_protocol import HEAD_TIMEOUT_S, MAX_HEAD_BYTES
from platform_node.enterprises.settings import EnterpriseSettings
from platform_node.institutions.failed_auth import FailedAuthLimits
from platform_node.institutions.model import InstitutionLimits
from platform_node.institutions.webhook_targets import DEFAULT_WEBHOOK_PORTS, WebhookPolicy
from platform_node.monitoring.delivery import RetrySchedule
from platform_node.monitoring.deterioration import DeteriorationRule
from platform_node.scoring.availability import AvailabilityPolicy, AvailabilityRule, Mode
from platform_node.scoring.model_choice import ModelChoice
from platform_node.scoring.privacy import PrivacySettings
from platform_node.scoring.scorer import PartialFailurePolicy
from platform_node.uses.deadlines import OverdueAction, OverduePolicy
from platform_node.uses.lookup_watch import LookupWatchRule

MAX_BATCH = 10_000
# Request bodies: a JSON request of this API is a few hundred bytes (a horizontal model's variables a few
# KiB); a batch of 10,000 credit codes is about 220 KB of JSON.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_BATCH_BODY_BYTES = 1024 * 1024


class ApiSettingsError(ConfigurationError):
    """The `[api]` configuration is missing a required setting or holds an invalid one."""


@dataclass(frozen=True)
class ApiSettings:
    """Every knob of the bank API; defaults are the documented production defaults."""

    database_url: str = "sqlite:///platform-api.db"
    host: str = "127.0.0.1"
    port: int = 8080
    secrets_file: Path | None = None
    log_origin: str = "xyd.platform/audit"
    log_key_file: Path | None = None
    feedback_deadline_days: int = 30
    max_batch: int = MAX_BATCH
    scoring_deadline_s: float = 2.0
    partial_failure_policy: PartialFailurePolicy = PartialFailurePolicy.FAIL_ENTERPRISE
    # Per purpose: refuse, degrade, or degrade below an importance share when a source does not answer a
    # federated score in time (`[api.availability]`); None: refuse, or degrade for every purpose if
    # partial_failure_policy is SCORE_DEGRADED.
    availability: AvailabilityPolicy | None = None
    # Which published joint model scores a request that names none (per purpose), and the challenger scored
    # in the shadow per purpose (`[api.models]`, `[api.models.challengers]`); default: the latest, none.
    models: ModelChoice = field(default_factory=ModelChoice)
    # Private queries (`[api.privacy]`): direct, precomputed or cover (docs/protocols/private-scoring.md).
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    default_limits: InstitutionLimits = field(default_factory=InstitutionLimits)
    overdue: OverduePolicy = field(default_factory=OverduePolicy)
    monitoring_interval_s: float = 86_400.0
    monitoring_sweep_every_s: float = 300.0
    monitoring_retry_s: float = 3_600.0
    deterioration: DeteriorationRule = field(default_factory=DeteriorationRule)
    webhook_retry: RetrySchedule = field(default_factory=RetrySchedule)
    webhook_timeout_s: float = 5.0
    webhook_ports: tuple[int, ...] = DEFAULT_WEBHOOK_PORTS
    # Tests and the loopback sandbox only: webhooks over http and to loopback addresses on any port.
    allow_insecure_webhooks_for_tests: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_body_bytes: int = DEFAULT_MAX_BATCH_BODY_BYTES
    max_request_head_bytes: int = MAX_HEAD_BYTES  # request line and headers
    request_head_timeout_s: float = HEAD_TIMEOUT_S  # from a request's first byte (or the connection) to its last header
    failed_auth: FailedAuthLimits = field(default_factory=FailedAuthLimits)
    # Reverse proxies whose X-Forwarded-For names the client (addresses or networks); none by default, so
    # the client address is the TCP peer's.
    trusted_proxies: tuple[str, ...] = ()
    lookup_watch: LookupWatchRule = field(default_factory=LookupWatchRule)
    enterprise: EnterpriseSettings = field(default_factory=EnterpriseSettings)
    run_ticker: bool = True
    delivery_interval_s: float = 5.0
    push_interval_s: float = 60.0
    push_batch_size: int = 500
    checkpoint_interval_s: float = 60.0
    consent_expiry_every_s: float = 60.0  # consent requests not answered in time and ended consents expire
    consent_respond_within_days: int = 14  # a pending consent request expires after this
    scorer_model_file: Path | None = None
    public_records_file: Path | None = None
    # Published horizontal (banks') models, `<model_id>.json`; the platform node defaults it to
    # `<state_dir>/models/horizontal`, a standalone API serves none without it.
    horizontal_models_dir: Path | None = None
    # How long a console log-in lasts (seconds); rotating the key or suspending the institution ends it sooner.
    console_session_s: int = 8 * 3600

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_BATCH:
            raise ApiSettingsError(f"max_batch must be within [1, {MAX_BATCH}]")
        if self.feedback_deadline_days < 1:
            raise ApiSettingsError("feedback_deadline_days must be at least 1")
        if self.scoring_deadline_s <= 0 or self.webhook_timeout_s <= 0:
            raise ApiSettingsError("deadlines and timeouts must be positive")
        if not 0 <= self.port < 65536:
            raise ApiSettingsError("port must be within [0, 65535]")
        if not 60 <= self.console_session_s <= 7 * 86_400:
            raise ApiSettingsError("console_session_s must be within [60, 604800]")
        if self.push_batch_size < 1:
            raise ApiSettingsError("push_batch_size must be at least 1")
        object.__setattr__(self, "webhook_ports", tuple(self.webhook_ports))
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        try:
            self.webhook_policy()
            for proxy in self.trusted_proxies:
                ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ApiSettingsError(str(exc)) from None
        if not 1024 <= self.max_body_bytes <= self.max_batch_body_bytes:
            raise ApiSettingsError("need 1024 <= max_body_bytes <= max_batch_body_bytes")
        if self.max_request_head_bytes < 4096 or not self.request_head_timeout_s > 0:
            raise ApiSettingsError("need max_request_head_bytes >= 4096 and a positive request_head_timeout_s")

    def availability_policy(self) -> AvailabilityPolicy:
        """The per-purpose availability policy of federated scores (see platform_node.scoring.availability)."""
        if self.availability is not None:
            return self.availability
        degrade = self.partial_failure_policy is PartialFailurePolicy.SCORE_DEGRADED
        return AvailabilityPolicy(AvailabilityRule(Mode.DEGRADE if degrade else Mode.REFUSE))

    def webhook_policy(self) -> WebhookPolicy:
        """The rules webhook targets are checked against, at registration and before each delivery."""
        return WebhookPolicy(self.webhook_ports, self.allow_insecure_webhooks_for_tests)


_NESTED = {
    "default_limits": InstitutionLimits,
    "overdue": OverduePolicy,
    "deterioration": DeteriorationRule,
    "webhook_retry": RetrySchedule,
    "failed_auth": FailedAuthLimits,
    "lookup_watch": LookupWatchRule,
    "enterprise": EnterpriseSettings,
}
_PATHS = ("secrets_file", "log_key_file", "scorer_model_file", "public_records_file", "horizontal_models_dir")


def _nested(name: str, value: Any, base: Path | None = None) -> Any:
    kind = _NESTED[name]
    if not isinstance(value, Mapping):
        raise ApiSettingsError(f"[api.{name}] must be a table")
    known = {f.name for f in fields(kind)} - {"base_dir"}
    unknown = set(value) - known
    if unknown:
        raise ApiSettingsError(f"unknown keys in [api.{name}]: {sorted(unknown)}")
    values = dict(value)
    if kind is EnterpriseSettings:
        values["base_dir"] = base
    if kind is OverduePolicy and "action" in values:
        values["action"] = OverdueAction(values["action"])
    if kind is DeteriorationRule and "grade_order" in values:
        values["grade_order"] = tuple(values["grade_order"])
    return kind(**values)


def settings_from_mapping(table: Mapping[str, Any], *, base: Path | None = None) -> ApiSettings:
    """Build settings from an `[api]` table; relative paths are resolved against `base`."""
    known = {f.name for f in fields(ApiSettings)}
    unknown = set(table) - known
    if unknown:
        raise ApiSettingsError(f"unknown keys in [api]: {sorted(unknown)}")
    values: dict[str, Any] = {}
    try:
        for key, value in table.items():
            if key in _NESTED:
                values[key] = _nested(key, value, base)
            elif key in _PATHS:
                path = Path(value)
                values[key] = path if path.is_absolute() or base is None else base / path
            elif key == "partial_failure_policy":
                values[key] = PartialFailurePolicy(value)
            elif key == "availability":
                values[key] = AvailabilityPolicy.from_mapping(value)
            elif key == "privacy":
                if not isinstance(value, Mapping):
                    raise ApiSettingsError("[api.privacy] must be a table")
                values[key] = PrivacySettings.from_mapping(value)
            elif key == "models":
                values[key] = ModelChoice.from_mapping(value)
            else:
                values[key] = value
        if "database_url" in values and base is not None and values["database_url"].startswith("sqlite:///"):
            relative = values["database_url"].removeprefix("sqlite:///")
            if relative and not Path(relative).is_absolute():
                values["database_url"] = f"sqlite:///{base / relative}"
        return ApiSettings(**values)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ApiSettingsError):
            raise
        raise ApiSettingsError(f"invalid [api] setting: {exc}") from exc


def load_settings(path: Path) -> ApiSettings:
    """Read the `[api]` table of a TOML file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ApiSettingsError(f"configuration file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ApiSettingsError(f"{path} is not valid TOML: {exc}") from exc
    table = raw.get("api")
    if not isinstance(table, Mapping):
        raise ApiSettingsError(f"{path} has no [api] table")
    return settings_from_mapping(table, base=path.parent)
