"""Risk monitoring: scheduled and on-demand re-scoring, deterioration alerts, signed webhooks with retries."""

from platform_node.monitoring.alerts import Alert, AlertBook, alert_payload
from platform_node.monitoring.delivery import (
    DeliveryError,
    DeliveryStatus,
    RetrySchedule,
    WebhookDispatcher,
    WebhookOutbox,
)
from platform_node.monitoring.deterioration import DeteriorationRule
from platform_node.monitoring.eligibility import MonitorAuthorisations, StoreMonitorAuthorisations
from platform_node.monitoring.sweep import MonitoringNotAuthorised, MonitoringSweep, NotMonitorable
from platform_node.monitoring.webhooks import WebhookSignatureError, signature_header, verify_signature

__all__ = [
    "Alert",
    "AlertBook",
    "DeliveryError",
    "DeliveryStatus",
    "DeteriorationRule",
    "MonitorAuthorisations",
    "MonitoringNotAuthorised",
    "MonitoringSweep",
    "NotMonitorable",
    "RetrySchedule",
    "StoreMonitorAuthorisations",
    "WebhookDispatcher",
    "WebhookOutbox",
    "WebhookSignatureError",
    "alert_payload",
    "signature_header",
    "verify_signature",
]
