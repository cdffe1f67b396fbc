"""Public information: the `PublicRecordSource` interface, standard reports, subscriptions pushed in batches."""

from platform_node.reports.public_records import (
    InMemoryPublicRecords,
    PublicCategory,
    PublicRecord,
    PublicRecordSource,
    load_public_records,
)
from platform_node.reports.report import PublicReport, UnknownEnterprise, build_report
from platform_node.reports.subscriptions import SubscriptionBook, SubscriptionPusher

__all__ = [
    "InMemoryPublicRecords",
    "PublicCategory",
    "PublicRecord",
    "PublicRecordSource",
    "PublicReport",
    "SubscriptionBook",
    "SubscriptionPusher",
    "UnknownEnterprise",
    "build_report",
    "load_public_records",
]
