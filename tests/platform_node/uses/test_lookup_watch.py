"""The look-up watch: an alert once per institution and window when unknown codes pass both thresholds."""

from __future__ import annotations

from datetime import timedelta

from consent.audit import open_engine
from platform_node.uses.lookup_watch import (
    LookupWatchRule,
    UnknownLookupWatch,
    list_lookup_alerts,
    store_lookup_alert,
)
from platform_node.uses.schema import use_metadata
from tests.platform_node.world import T0


def test_an_alert_is_raised_once_per_window_when_both_thresholds_are_passed(tmp_path) -> None:
    watch = UnknownLookupWatch(LookupWatchRule(window_s=3600, min_unknown=5, unknown_share=0.5))
    start = T0.replace(minute=0)
    assert watch.observe("bank/a", unknown=0, lookups=10, now=start) is None
    assert watch.observe("bank/a", unknown=4, lookups=4, now=start) is None  # 4 unknown: below min_unknown
    assert watch.observe("bank/a", unknown=3, lookups=10, now=start) is None  # 7 of 24: below the share
    alert = watch.observe("bank/a", unknown=10, lookups=10, now=start + timedelta(minutes=5))  # 17 of 34
    assert alert is not None and (alert.unknown, alert.lookups, alert.window_start) == (17, 34, start)
    assert watch.observe("bank/a", unknown=50, lookups=50, now=start + timedelta(minutes=6)) is None  # once
    assert watch.observe("bank/b", unknown=4, lookups=4, now=start) is None  # counted per institution
    later = watch.observe("bank/a", unknown=5, lookups=5, now=start + timedelta(hours=1))
    assert later is not None and later.window_start == start + timedelta(hours=1)  # a new window counts anew

    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    use_metadata.create_all(engine)
    with engine.begin() as conn:
        store_lookup_alert(conn, alert)
        store_lookup_alert(conn, later)
    assert [a.id for a in list_lookup_alerts(engine)] == [alert.id, later.id]
    assert list_lookup_alerts(engine, since=start + timedelta(minutes=30)) == [later]
    assert list_lookup_alerts(engine, institution_id="bank/b") == []
