"""A failed stage names the party that started the failure and its own reason, not the cascade it caused."""

from __future__ import annotations

from coordinator.jobs.failures import CANCELLED, LOST, PartyOutcome, root_cause

OK = {"rows": 1}


def test_a_lost_node_is_the_cause_and_its_peers_complaints_are_not() -> None:
    failure = root_cause([
        PartyOutcome("platform/main", code="PEER_UNAVAILABLE", peer="source/tax",
                     message="peer source/tax at 10.0.0.7:7000 unavailable: connection refused after 5 attempt(s)"),
        PartyOutcome("source/tax", code=LOST, message="connection lost at 10.0.0.7:7000"),
        PartyOutcome("source/utilities", code=CANCELLED, message="cancelled after another party failed"),
    ])
    assert failure.reason == "source/tax: stopped answering during the task (connection lost at 10.0.0.7:7000)"
    assert failure.transient and failure.culprits == ("source/tax",)


def test_a_party_that_cannot_reach_a_live_peer_is_named_with_the_peer() -> None:
    failure = root_cause([
        PartyOutcome("platform/main", code=CANCELLED),
        PartyOutcome("source/tax", code="PEER_UNAVAILABLE", peer="platform/main",
                     message="peer platform/main at 10.0.0.5:7100 unavailable: connection refused after 5 attempt(s)"),
        PartyOutcome("source/utilities", result=OK),
    ])
    assert failure.reason == ("source/tax: PEER_UNAVAILABLE: peer platform/main at 10.0.0.5:7100 unavailable: "
                              "connection refused after 5 attempt(s)")
    assert "Cancelling" not in failure.reason and failure.transient


def test_a_revoked_certificate_is_final() -> None:
    failure = root_cause([
        PartyOutcome("platform/main", code="STAGE_CLOSED", message="the stage was closed"),
        PartyOutcome("source/tax", code="PEER_REFUSED", peer="platform/main",
                     message="peer platform/main at 127.0.0.1:1 unavailable: refused with UNAUTHENTICATED: "
                             "certificate 1f of source/tax was revoked at 2025-01-01T00:00:00+00:00"),
    ])
    assert failure.reason.startswith("source/tax: PEER_REFUSED: ") and "source/tax was revoked" in failure.reason
    assert not failure.transient


def test_a_job_error_wins_over_the_links_it_broke() -> None:
    failure = root_cause([
        PartyOutcome("platform/main", code="BAD_DATA", message="the training rows hold a single class"),
        PartyOutcome("source/tax", code="PEER_UNAVAILABLE", peer="platform/main", message="peer platform/main ..."),
    ])
    assert failure.reason == "platform/main: BAD_DATA: the training rows hold a single class"
    assert not failure.transient


def test_two_parties_that_cannot_reach_each_other_are_both_named() -> None:
    failure = root_cause([
        PartyOutcome("platform/main", code="PEER_TIMEOUT", peer="source/tax", message="no message from source/tax"),
        PartyOutcome("source/tax", code="PEER_UNAVAILABLE", peer="platform/main", message="peer platform/main ..."),
    ])
    assert failure.culprits == ("platform/main", "source/tax") and failure.transient


def test_only_cancellations_still_say_something() -> None:
    failure = root_cause([PartyOutcome("source/tax", code=CANCELLED, message="cancelled")])
    assert failure.reason == "source/tax: cancelled"
