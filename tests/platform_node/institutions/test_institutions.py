"""Onboarding, API-key storage and authentication, agreements, rate limits and quotas."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from consent.audit import open_engine
from platform_node.institutions.agreements import AgreementBook, AgreementScope
from platform_node.institutions.credentials import KeyHasher, parse_token
from platform_node.institutions.errors import (
    DuplicateInstitution,
    InstitutionSuspended,
    InvalidCredentials,
    InvalidInstitution,
    NoAgreement,
    QuotaExhausted,
    RateLimited,
)
from platform_node.institutions.limits import TokenBucketLimiter, consume_quota, quota_used
from platform_node.institutions.model import InstitutionKind, Role
from platform_node.institutions.registry import InstitutionRegistry
from platform_node.institutions.schema import api_keys
from platform_node.institutions.webhook_secrets import SealedSecretError, SecretBox
from platform_node.institutions.webhook_targets import WebhookTargetRefused
from tests.platform_node.world import T0

PEPPER = bytes(range(32))


@pytest.fixture
def registry(tmp_path: Path) -> InstitutionRegistry:
    reg = InstitutionRegistry(open_engine(f"sqlite:///{tmp_path / 'i.db'}"), KeyHasher(PEPPER),
                              SecretBox(bytes(32)))
    reg.create_schema()
    return reg


def test_added_institution_authenticates_with_its_key(registry: InstitutionRegistry) -> None:
    inst, key = registry.add(kind=InstitutionKind.BANK, slug="icbc-sz", name="ICBC Shenzhen", role=Role.BANK, now=T0)
    assert inst.id == "bank/icbc-sz" and inst.role is Role.BANK
    assert registry.authenticate(key.token, now=T0).id == inst.id
    assert "secret" not in repr(key) or "<redacted>" in repr(key)


def test_only_a_keyed_hash_of_the_secret_is_stored(registry: InstitutionRegistry, tmp_path: Path) -> None:
    _, key = registry.add(kind="bank", slug="b", name="B", role="bank", now=T0)
    with registry._engine.connect() as conn:  # noqa: SLF001 - reading the raw row is the point
        stored = conn.execute(select(api_keys.c.secret_hash)).scalar_one()
    assert stored == KeyHasher(PEPPER).digest(key.key_id, key.secret) and key.secret.encode() not in stored
    database = (tmp_path / "i.db").read_bytes() + (tmp_path / "i.db-wal").read_bytes()
    assert key.secret.encode() not in database


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
    lambda t: "xyd.0123456789abcdef." + t.split(".")[2],  # unknown key id
    lambda t: t.replace("xyd.", "abc."),  # malformed
    lambda t: "",
])
def test_wrong_unknown_or_malformed_keys_are_refused_alike(registry: InstitutionRegistry, mutate) -> None:
    _, key = registry.add(kind="bank", slug="b", name="B", role="bank", now=T0)
    with pytest.raises(InvalidCredentials):
        registry.authenticate(mutate(key.token), now=T0)


def test_rotation_revokes_the_old_key(registry: InstitutionRegistry) -> None:
    inst, old = registry.add(kind="bank", slug="b", name="B", role="bank", now=T0)
    new = registry.rotate_key(inst.id, now=T0 + timedelta(hours=1))
    assert registry.authenticate(new.token, now=T0 + timedelta(hours=1)).id == inst.id
    with pytest.raises(InvalidCredentials):
        registry.authenticate(old.token, now=T0 + timedelta(hours=1))


def test_suspended_institution_is_refused_until_reinstated(registry: InstitutionRegistry) -> None:
    inst, key = registry.add(kind="guarantor", slug="g", name="G", role="bank", now=T0)
    registry.suspend(inst.id)
    with pytest.raises(InstitutionSuspended):
        registry.authenticate(key.token, now=T0)
    registry.reinstate(inst.id)
    assert registry.authenticate(key.token, now=T0).active


def test_duplicates_and_bad_ids_are_refused(registry: InstitutionRegistry) -> None:
    registry.add(kind="bank", slug="b", name="B", role="bank", now=T0)
    with pytest.raises(DuplicateInstitution):
        registry.add(kind="bank", slug="b", name="B again", role="bank", now=T0)
    for kind, slug, role in (("shop", "x", "bank"), ("bank", "Upper", "bank"), ("bank", "x", "king"),
                             ("bank", "13800138000", "bank"), ("bank", "6222020200112233445", "bank")):
        with pytest.raises(InvalidInstitution):
            registry.add(kind=kind, slug=slug, name="X", role=role, now=T0)


def test_webhook_secret_is_sealed_to_its_institution(registry: InstitutionRegistry) -> None:
    registry.add(kind="bank", slug="a", name="A", role="bank", now=T0)
    public = lambda host, port: ["93.184.216.34"]  # noqa: E731 - a public address; nothing connects to it
    secret = registry.set_webhook("bank/a", "https://bank-a.example/hook", resolver=public)
    target = registry.webhook_target("bank/a")
    assert target is not None and target.secret == secret and target.url == "https://bank-a.example/hook"
    sealed = SecretBox(bytes(32)).seal(secret, "bank/a")
    with pytest.raises(SealedSecretError):
        SecretBox(bytes(32)).open(sealed, "bank/b")
    with pytest.raises(WebhookTargetRefused):
        registry.set_webhook("bank/a", "http://bank-a.example/hook", resolver=public)  # http refused outside tests


def test_agreement_scope_and_term_are_enforced(registry: InstitutionRegistry) -> None:
    registry.add(kind="bank", slug="a", name="A", role="bank", now=T0)
    book = AgreementBook(registry._engine)  # noqa: SLF001
    with pytest.raises(NoAgreement):
        book.require("bank/a", AgreementScope.BULK_SCORING, now=T0)
    book.record("bank/a", scopes=[AgreementScope.BULK_SCORING], reference="DSA-1", not_before=T0,
                not_after=T0 + timedelta(days=30), now=T0)
    assert book.require("bank/a", AgreementScope.BULK_SCORING, now=T0).reference == "DSA-1"
    with pytest.raises(NoAgreement):
        book.require("bank/a", AgreementScope.SUBSCRIPTIONS, now=T0)
    with pytest.raises(NoAgreement):
        book.require("bank/a", AgreementScope.BULK_SCORING, now=T0 + timedelta(days=30))
    assert book.holders(AgreementScope.BULK_SCORING, now=T0) == {"bank/a"}


def test_token_parsing_accepts_only_the_issued_shape() -> None:
    key = KeyHasher(PEPPER).issue()
    assert parse_token(key.token) == (key.key_id, key.secret)
    with pytest.raises(InvalidCredentials):
        parse_token(key.token + "x")


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 50), st.integers(1, 20), st.lists(st.floats(0, 2), min_size=1, max_size=80))
def test_token_bucket_never_grants_more_than_burst_plus_refill(rate: float, burst: int, gaps: list[float]) -> None:
    limiter, now, granted = TokenBucketLimiter(), 1000.0, 0
    for gap in gaps:
        now += gap
        try:
            limiter.acquire("i", rate_per_s=rate, burst=burst, now=now)
            granted += 1
        except RateLimited as refused:
            assert refused.retry_after_s >= 1
    assert granted <= burst + rate * (now - 1000.0) + 1e-9


def test_rate_limited_request_succeeds_after_retry_after() -> None:
    limiter = TokenBucketLimiter()
    limiter.acquire("i", rate_per_s=0.5, burst=1, now=0.0)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("i", rate_per_s=0.5, burst=1, now=0.1)
    limiter.acquire("i", rate_per_s=0.5, burst=1, now=0.1 + refused.value.retry_after_s)


def test_daily_quota_counts_and_resets_at_the_utc_day(registry: InstitutionRegistry) -> None:
    engine = registry._engine  # noqa: SLF001
    with engine.begin() as conn:
        assert consume_quota(conn, "bank/a", 7, limit=10, now=T0) == 7
    with pytest.raises(QuotaExhausted) as refused, engine.begin() as conn:
        consume_quota(conn, "bank/a", 4, limit=10, now=T0)
    midnight = T0.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    assert refused.value.retry_after_s == int((midnight - T0).total_seconds())
    with engine.begin() as conn:
        assert quota_used(conn, "bank/a", now=T0) == 7
        assert consume_quota(conn, "bank/a", 10, limit=10, now=midnight) == 10


def test_cached_authentication_follows_suspension_and_expires(registry: InstitutionRegistry) -> None:
    inst, key = registry.add(kind="bank", slug="c", name="C", role="bank", now=T0)
    assert registry.authenticate(key.token, now=T0).active
    registry.suspend(inst.id)  # a change through the registry drops the cache at once
    with pytest.raises(InstitutionSuspended):
        registry.authenticate(key.token, now=T0)
    registry.reinstate(inst.id)
    assert registry.authenticate(key.token, now=T0).active
    other = InstitutionRegistry(registry._engine, KeyHasher(PEPPER), SecretBox(bytes(32)))  # noqa: SLF001
    other.suspend(inst.id)  # another process: the cached answer lives at most the TTL
    assert registry.authenticate(key.token, now=T0 + timedelta(seconds=4)).active
    with pytest.raises(InstitutionSuspended):
        registry.authenticate(key.token, now=T0 + timedelta(seconds=5))
