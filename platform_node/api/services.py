"""The composition root of the bank API: every store and worker built once over one database engine.

The API, the CLI and the tests build a `PlatformServices` with `build_services`; the federated scorer (or
the local one) and the public-record source are passed in, so wiring the real federation is one argument.
Everything that writes an audit leaf shares the engine of the `AuditLog`, so a use and its leaf commit in
one transaction.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import Engine

from consent.audit import (
    AuditLog,
    CheckpointPublisher,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    LogTrust,
    Publication,
    WitnessClient,
    open_engine,
)
from consent.authorisation import AuthorisationStore, EnterpriseKeyRegistry
from federation.key_binding import KeyPurpose
from federation.pki import PkiError
from platform_node.api.server_secrets import PlatformSecrets
from platform_node.api.settings import ApiSettings, ApiSettingsError
from platform_node.consent_registry.registry import read_catalogue
from platform_node.consent_registry.schema import relay_metadata
from platform_node.consent_requests import ConsentDesk
from platform_node.console.batch_runs import BatchRuns
from platform_node.console.enterprise_sessions import EnterpriseSessions
from platform_node.console.sessions import ConsoleSessions
from platform_node.declarations import DeclarationBook
from platform_node.enterprises import EnterpriseAccounts, load_identity_provider
from platform_node.governance_link import CatalogueService
from platform_node.institutions.agreements import AgreementBook
from platform_node.institutions.credentials import KeyHasher
from platform_node.institutions.failed_auth import FailedAuthLimiter
from platform_node.institutions.limits import TokenBucketLimiter
from platform_node.institutions.registry import InstitutionRegistry
from platform_node.institutions.webhook_secrets import SecretBox
from platform_node.institutions.webhook_targets import Resolver, system_resolver
from platform_node.monitoring.alerts import AlertBook
from platform_node.monitoring.delivery import WebhookDispatcher, WebhookOutbox
from platform_node.monitoring.eligibility import MonitorAuthorisations, StoreMonitorAuthorisations
from platform_node.monitoring.schema import monitoring_metadata
from platform_node.monitoring.sweep import MonitoringSweep
from platform_node.monitoring.ticker import PeriodicJob, Ticker
from platform_node.reports.public_records import PublicRecordSource
from platform_node.reports.requests import ReportRequestLog
from platform_node.reports.subscriptions import SubscriptionBook, SubscriptionPusher
from platform_node.scoring.async_coalescer import AsyncCoalescingScorer
from platform_node.scoring.challenger import ChallengerShadow
from platform_node.scoring.coalescing import CoalescingScorer
from platform_node.scoring.scorer import Scorer
from platform_node.statistics.directory import CodeDirectory, EnterpriseDirectory
from platform_node.uses.deadlines import OverdueCounter
from platform_node.uses.feedback import FeedbackBook
from platform_node.uses.group_commit import GroupCommitRecorder
from platform_node.uses.lookup_watch import UnknownLookupWatch
from platform_node.uses.loop_batching import LoopBatchedRecorder
from platform_node.uses.records import UseBook

if TYPE_CHECKING:  # the view and the registry load gRPC; an API run without a federation never needs them
    from platform_node.consent_registry import ConsentRegistryNode
    from platform_node.federation_view import FederationView

log = logging.getLogger("xyd.platform.api")

Clock = Callable[[], datetime]


class Publishes(Protocol):
    """Whatever signs and publishes the log's checkpoints: the API's own `CheckpointPublisher` (a standalone
    `xyd api serve`), or the consent registry's witnessed publishing (the platform node: one log, one series)."""

    def publish(self, *, now: datetime) -> Publication: ...


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class PlatformServices:
    settings: ApiSettings
    clock: Clock
    engine: Engine
    audit: AuditLog
    secrets: PlatformSecrets
    institutions: InstitutionRegistry
    agreements: AgreementBook
    limiter: TokenBucketLimiter
    uses: UseBook
    recorder: GroupCommitRecorder
    overdue: OverdueCounter
    feedback: FeedbackBook
    outbox: WebhookOutbox
    dispatcher: WebhookDispatcher
    alerts: AlertBook
    monitoring: MonitoringSweep
    public_records: PublicRecordSource
    report_requests: ReportRequestLog
    subscriptions: SubscriptionBook
    pusher: SubscriptionPusher
    authorisations: AuthorisationStore
    scorer: Scorer
    publisher: Publishes
    log_verifier: Ed25519Verifier
    failed_auth: FailedAuthLimiter
    console_sessions: ConsoleSessions
    enterprises: EnterpriseAccounts
    consent_desk: ConsentDesk
    declarations: DeclarationBook
    # Where enterprises are and what they do (financing statistics by district and industry).
    directory: EnterpriseDirectory = field(default_factory=CodeDirectory)
    # The federation as the platform node sees it (nodes, models, its stages' progress); None for an API run
    # without a federation (`xyd api serve`).
    federation: FederationView | None = None
    # How webhook hosts are resolved (at registration and before each delivery); tests inject one.
    webhook_resolver: Resolver = system_resolver
    ticker: Ticker | None = None
    catalogue: CatalogueService | None = None  # the city-wide list at the coordinator (GET /v1/catalogue)
    # The consent registry this API shares its engine and log with (the platform node), or None (`xyd api
    # serve`): it then publishes the checkpoints itself, with its witnesses, on its own schedule.
    consent: ConsentRegistryNode | None = None
    # `scorer` behind request coalescing; it reads `scorer` per call, so replacing `scorer` takes effect.
    # `async_scoring` serves single scores on the API's event loop when the scorer has `score_async`.
    scoring: CoalescingScorer = field(init=False, repr=False)
    async_scoring: AsyncCoalescingScorer = field(init=False, repr=False)
    # Each purpose's challenger model, scored in the shadow of the answers and recorded (never returned).
    shadow: ChallengerShadow = field(init=False, repr=False)
    # `recorder` for the API's event loop: the uses submitted in one loop iteration commit together.
    loop_recorder: LoopBatchedRecorder = field(init=False, repr=False)
    # The console's batch-scoring runs in progress (in memory; their results are the batch's uses).
    batch_runs: BatchRuns = field(init=False, repr=False)
    # Enterprises' console sessions (opened by a log-in signed in the browser with the enterprise's key).
    enterprise_console_sessions: EnterpriseSessions = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.batch_runs = BatchRuns()
        self.enterprise_console_sessions = EnterpriseSessions(self.engine, self.enterprises,
                                                              ttl=self.console_sessions.ttl,
                                                              limits=self.settings.default_limits)
        self.enterprise_console_sessions.create_schema()
        self.scoring = CoalescingScorer(lambda: self.scorer)
        self.async_scoring = AsyncCoalescingScorer(lambda: self.scorer)
        self.shadow = ChallengerShadow(self.engine, lambda: self.scorer, self.settings.models,
                                       deadline_s=self.settings.scoring_deadline_s)
        self.loop_recorder = LoopBatchedRecorder(self.recorder)

    def scores_on_loop(self) -> bool:
        """Whether the scorer fans out from the event loop (`score_async`) rather than from threads."""
        return hasattr(self.scorer, "score_async")

    async def shutdown_on_loop(self) -> None:
        """On the API's event loop as it stops: answer the queued single scores, close asyncio channels."""
        await self.async_scoring.drain()
        aclose = getattr(self.scorer, "aclose", None)
        if aclose is not None:
            await aclose()

    def now(self) -> datetime:
        return self.clock()

    def log_trust(self) -> LogTrust:
        """The log's key, and (in the platform node) the witnesses' keys, each checked against its certificate,
        with the quorum checkpoints are published with."""
        if self.consent is None:
            return LogTrust(self.log_verifier)
        witnesses = []
        for source in self.consent.registry.sources():
            try:
                bound = self.consent.bindings.verify(source.binding, now=self.now())
            except PkiError:
                continue  # a witness whose certificate no longer holds does not count
            witnesses.append(CosignatureVerifier(bound.identity.party, Ed25519PublicKey.from_public_bytes(
                bound.key(KeyPurpose.WITNESS))))
        return LogTrust(self.log_verifier, tuple(witnesses), self.consent.publishing.quorum(len(witnesses)))

    def publisher_verifier_key(self) -> str:
        """The checkpoint key's C2SP verifier key, for anyone checking receipts."""
        return self.log_verifier.vkey()

    def periodic_jobs(self) -> list[PeriodicJob]:
        s = self.settings
        return [
            # The sweep looks often for loans whose own check (every monitoring_interval_s) is due.
            PeriodicJob("monitoring", s.monitoring_sweep_every_s, lambda now: self.monitoring.run(now=now)),
            PeriodicJob("webhooks", s.delivery_interval_s, lambda now: self.dispatcher.deliver_due(now=now)),
            PeriodicJob("subscriptions", s.push_interval_s, lambda now: self.pusher.run(now=now)),
            PeriodicJob("consent-expiry", s.consent_expiry_every_s, lambda now: self.consent_desk.expire_due(now=now)),
        ] + ([] if self.consent is not None else [
            PeriodicJob("checkpoint", s.checkpoint_interval_s, lambda now: self.publisher.publish(now=now))])

    def start_ticker(self) -> None:
        if self.ticker is None:
            self.ticker = Ticker(self.periodic_jobs(), self.clock)
            self.ticker.start()

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        self.dispatcher.close()
        self.batch_runs.close()
        self.scoring.close()
        self.shadow.close()
        self.recorder.close()
        self.engine.dispose()


def load_log_signer(settings: ApiSettings, audit: AuditLog | None = None) -> Ed25519Signer:
    """The checkpoint key from `log_key_file` (PEM, or 32 raw bytes); a fresh key if none is configured.

    A missing file is created (mode 0600) while `audit` is still empty; once the log holds entries it was
    signed with the key that file held, so a missing file is an error naming what to restore: a new key
    would leave every earlier checkpoint unverifiable."""
    if settings.log_key_file is None:
        log.warning("no log_key_file configured: checkpoints are signed with an ephemeral key")
        return Ed25519Signer.generate(settings.log_origin)
    path = Path(settings.log_key_file)
    if not path.exists():
        entries = 0 if audit is None else audit.tree_size()
        if entries or (audit is not None and audit.latest_checkpoint() is not None):
            raise ApiSettingsError(
                f"[api] log_key_file {path} does not exist, but the audit log in the API database already "
                f"holds {entries} entries signed with the key it held: restore that file from its backup "
                f"(a new key would leave every earlier checkpoint unverifiable)")
        create_log_key(path)
        log.warning("created a new audit-log checkpoint key (back it up; the compliance officer needs its "
                    "verifier key: xyd audit keys)", extra={"path": str(path)})
    try:
        data = path.read_bytes()
        key = Ed25519PrivateKey.from_private_bytes(data) if len(data) == 32 else load_pem_private_key(data, None)
    except (OSError, ValueError, TypeError) as exc:
        raise ApiSettingsError(f"[api] log_key_file {path} cannot be read as an Ed25519 private key "
                               f"(32 raw bytes or PEM): {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ApiSettingsError(f"[api] log_key_file {path} does not hold an Ed25519 private key")
    return Ed25519Signer(settings.log_origin, key)


def create_log_key(path: Path) -> None:
    """Write a fresh Ed25519 seed (32 raw bytes) to `path`, mode 0600; never overwrites a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.urandom(32))


def build_services(
    settings: ApiSettings,
    *,
    scorer: Scorer,
    public_records: PublicRecordSource,
    secrets: PlatformSecrets,
    engine: Engine | None = None,
    audit: AuditLog | None = None,
    authorisations: AuthorisationStore | None = None,
    enterprise_keys: EnterpriseKeyRegistry | None = None,
    monitor_authorisations: MonitorAuthorisations | None = None,
    clock: Clock = system_clock,
    rng: random.Random | None = None,
    randbytes: Callable[[int], bytes] = os.urandom,
    log_signer: Ed25519Signer | None = None,
    witnesses: Sequence[WitnessClient] = (),
    witness_quorum: int = 0,
    webhook_resolver: Resolver = system_resolver,
    directory: EnterpriseDirectory | None = None,
    federation: FederationView | None = None,
    catalogue: CatalogueService | None = None,
    consent: ConsentRegistryNode | None = None,
) -> PlatformServices:
    """Build (and create the schema of) every store over one engine; nothing starts running.

    With `consent` (the platform node), everything runs over the registry's engine and log: its store, its key
    registry, its checkpoint key and witnessed publishing, its subject-reference key. So consent events,
    verifications, scores, feedback and alerts are leaves of one log with one series of checkpoints."""
    if consent is not None:
        registry = consent.registry
        engine, audit = registry.engine, registry.log
        authorisations, enterprise_keys = registry.store, registry.enterprise_keys
        log_signer = registry.keyring.log_signer
        secrets = replace(secrets, subject_ref_key=registry.keyring.subject_ref_key)
    engine = engine or open_engine(settings.database_url)
    audit = audit or AuditLog(engine)
    audit.create_schema()
    signer = log_signer or load_log_signer(settings, audit)
    if enterprise_keys is None:
        enterprise_keys = EnterpriseKeyRegistry(engine)
        enterprise_keys.create_schema()
    if authorisations is None:
        authorisations = AuthorisationStore(engine, keys=enterprise_keys, audit=audit,
                                            subject_ref_key=secrets.subject_ref_key)
        authorisations.create_schema()
    ent = settings.enterprise
    enterprises = EnterpriseAccounts(
        engine, keys=enterprise_keys, audit=audit, subject_ref_key=secrets.subject_ref_key,
        provider=load_identity_provider(ent.identity_provider, ent.provider_options, base=ent.base_dir),
        audience=ent.audience, proof_window=timedelta(seconds=ent.proof_window_s),
        request_window=timedelta(seconds=ent.request_window_s))
    enterprises.create_schema()
    institutions = InstitutionRegistry(engine, KeyHasher(secrets.api_key_pepper, randbytes=randbytes),
                                       SecretBox(secrets.webhook_seal_key, randbytes=randbytes), randbytes=randbytes)
    institutions.create_schema()
    uses = UseBook(engine, audit, subject_ref_key=secrets.subject_ref_key,
                   feedback_deadline=timedelta(days=settings.feedback_deadline_days), randbytes=randbytes)
    uses.create_schema()
    monitoring_metadata.create_all(engine)
    outbox = WebhookOutbox(engine, randbytes=randbytes)
    relay_metadata.create_all(engine)  # the registry's catalogue of published data items (empty without one)
    declarations = DeclarationBook(engine, keys=enterprise_keys, store=authorisations, audit=audit,
                                   subject_ref_key=secrets.subject_ref_key, provider=settings.enterprise.audience,
                                   randbytes=randbytes)
    declarations.create_schema()
    consent_desk = ConsentDesk(engine, store=authorisations, keys=enterprise_keys, audit=audit, outbox=outbox,
                               subject_ref_key=secrets.subject_ref_key,
                               catalogue=lambda: [*read_catalogue(engine), declarations.catalogue_entry()],
                               respond_within=timedelta(days=settings.consent_respond_within_days),
                               randbytes=randbytes)
    consent_desk.create_schema()
    alerts = AlertBook(engine, audit, outbox, subject_ref_key=secrets.subject_ref_key, randbytes=randbytes)
    agreements = AgreementBook(engine, randbytes=randbytes)
    subscriptions = SubscriptionBook(engine, public_records, randbytes=randbytes)
    subscriptions.create_schema()
    console_sessions = ConsoleSessions(engine, institutions, ttl=timedelta(seconds=settings.console_session_s),
                                       randbytes=randbytes)
    console_sessions.create_schema()
    return PlatformServices(
        settings=settings,
        clock=clock,
        engine=engine,
        audit=audit,
        secrets=secrets,
        institutions=institutions,
        agreements=agreements,
        limiter=TokenBucketLimiter(),
        uses=uses,
        recorder=GroupCommitRecorder(engine, uses,
                                     watch=UnknownLookupWatch(settings.lookup_watch, randbytes=randbytes)),
        overdue=OverdueCounter(engine),
        feedback=FeedbackBook(engine, audit, uses, subject_ref_key=secrets.subject_ref_key, randbytes=randbytes),
        outbox=outbox,
        dispatcher=WebhookDispatcher(outbox, institutions.webhook_target, schedule=settings.webhook_retry,
                                     policy=settings.webhook_policy(), resolver=webhook_resolver,
                                     timeout_s=settings.webhook_timeout_s, rng=rng),
        alerts=alerts,
        monitoring=MonitoringSweep(
            engine, scorer, monitor_authorisations or StoreMonitorAuthorisations(authorisations), alerts,
            rule=settings.deterioration, interval=timedelta(seconds=settings.monitoring_interval_s),
            retry_after=timedelta(seconds=settings.monitoring_retry_s), deadline_s=settings.scoring_deadline_s,
        ),
        public_records=public_records,
        report_requests=ReportRequestLog(engine, audit, subject_ref_key=secrets.subject_ref_key, randbytes=randbytes),
        subscriptions=subscriptions,
        pusher=SubscriptionPusher(engine, subscriptions, public_records, outbox, agreements,
                                  batch_size=settings.push_batch_size),
        authorisations=authorisations,
        scorer=scorer,
        publisher=consent.publishing if consent is not None else
        CheckpointPublisher(audit, signer, witnesses, quorum=witness_quorum),
        log_verifier=signer.verifier(),
        failed_auth=FailedAuthLimiter(settings.failed_auth),
        console_sessions=console_sessions,
        enterprises=enterprises,
        consent_desk=consent_desk,
        declarations=declarations,
        directory=directory or CodeDirectory(),
        federation=federation,
        webhook_resolver=webhook_resolver,
        catalogue=catalogue,
        consent=consent,
    )
