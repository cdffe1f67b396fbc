"""`/v1/enterprise/*`: the enterprise's own side of the API. Every request is signed by the enterprise's bound
key (`Authorization: XYD-Enterprise ...`, checked by the request gate before the body is read); the routes
act for the enterprise that signed, never for another."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from consent.audit import AuditEvent, Checkpoint, issue_receipt, parse_note
from consent.authorisation import AuthorisationRecord, SignedTerms
from consent.authorisation.codec import b64decode, b64encode, format_time
from consent.enterprise.declarations import COMMITMENT_TEXT, COMMITMENT_VERSION, SignedDeclaration
from consent.enterprise.instructions import Action, SignedInstruction
from platform_node.api.deps import CurrentEnterprise, Services
from platform_node.api.routers.consent_requests import request_out
from platform_node.api.routers.enterprise_accounts import key_change_out
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.consents import (
    ApprovalIn,
    ConsentListOut,
    ConsentOut,
    ConsentUseListOut,
    ConsentUseOut,
    EnterpriseRequestListOut,
    EnterpriseRequestOut,
    InstructionIn,
)
from platform_node.api.schemas.declarations import (
    CommitmentOut,
    DeclarationHistoryOut,
    DeclarationIn,
    DeclarationVersionOut,
)
from platform_node.api.schemas.enterprises import (
    EnterpriseAccountOut,
    EnterpriseKeyOut,
    KeyChangeOut,
    RotationIn,
)
from platform_node.api.schemas.uses import InclusionReceiptOut
from platform_node.api.services import PlatformServices
from platform_node.consent_requests import ConsentRequest, RequestStatus
from platform_node.declarations import DeclarationRecord, declaration_json
from platform_node.enterprises import EnterpriseAccount

router = APIRouter(prefix="/v1/enterprise", tags=["enterprise"])


def _time(value) -> str | None:
    return None if value is None else format_time(value)


@router.get("/account", response_model=EnterpriseAccountOut, summary="Own account and keys",
            responses=error_responses(401, 403, 429))
def get_account(enterprise: CurrentEnterprise, services: Services) -> EnterpriseAccountOut:
    account = enterprise.account
    keys = [EnterpriseKeyOut(key_id=k.key_id, public_key=b64encode(k.public_key.public_bytes_raw()),
                             valid_from=format_time(k.valid_from), valid_until=_time(k.valid_until),
                             revoked_at=_time(k.revoked_at))
            for k in services.enterprises.keys.keys(account.credit_code)]
    return EnterpriseAccountOut(credit_code=account.credit_code, name=account.name, signatory=account.signatory,
                                signatory_role=account.signatory_role.value,
                                identity_check=account.identity_check.value, provider=account.provider,
                                status=account.status, created_at=format_time(account.created_at), keys=keys)


@router.post("/keys/rotation", response_model=KeyChangeOut, summary="Rotate the signing key",
             responses=error_responses(401, 403, 422, 429))
def rotate_key(body: RotationIn, enterprise: CurrentEnterprise, services: Services) -> KeyChangeOut:
    """Signed with the current key; the new key proves possession by signing a ROTATE statement. The current
    key closes now: what it signed before stays valid, nothing it signs from now on is accepted."""
    change = services.enterprises.rotate(enterprise, b64decode(body.statement), b64decode(body.key_signature),
                                         now=services.now())
    return key_change_out(change)


# -- consent requests and consents ----------------------------------------------------------------------------

_ERRORS = error_responses(401, 403, 404, 409, 422, 429)
ChangeAction = Annotated[str, Path(pattern="^(pause|resume|revoke)$", description="pause, resume or revoke")]


def _enterprise_request(services: PlatformServices, account: EnterpriseAccount,
                        request: ConsentRequest) -> EnterpriseRequestOut:
    terms = request.terms_for(account).to_json() if request.status is RequestStatus.PENDING else None
    return request_out(services, request, EnterpriseRequestOut, terms=terms)


@router.get("/consent-requests", response_model=EnterpriseRequestListOut,
            summary="Consent requests banks made of this enterprise", responses=_ERRORS)
def list_requests(enterprise: CurrentEnterprise, services: Services, status: RequestStatus | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> EnterpriseRequestListOut:
    """Pending ones carry the exact terms to sign (`terms`, with their id): who asks, which data items at which
    source nodes, for what purpose and loan application, the window and the number of uses."""
    found = services.consent_desk.list(credit_code=enterprise.account.credit_code, status=status, limit=limit)
    return EnterpriseRequestListOut(items=[_enterprise_request(services, enterprise.account, r) for r in found])


@router.get("/consent-requests/{request_id}", response_model=EnterpriseRequestOut,
            summary="One consent request made of this enterprise", responses=_ERRORS)
def get_request(request_id: str, enterprise: CurrentEnterprise, services: Services) -> EnterpriseRequestOut:
    request = services.consent_desk.of_enterprise(enterprise.account, request_id)
    return _enterprise_request(services, enterprise.account, request)


@router.post("/consent-requests/{request_id}/approval", response_model=EnterpriseRequestOut,
             summary="Approve: submit the terms signed with the enterprise's key", responses=_ERRORS)
def approve(request_id: str, body: ApprovalIn, enterprise: CurrentEnterprise, services: Services
            ) -> EnterpriseRequestOut:
    """The platform verifies the signature (it never makes one): the artefact must be exactly the request's
    terms (`422 TAMPERED_TERMS`), name this enterprise (`403 NOT_THE_SUBJECT`), be signed within the last 5
    minutes (`403 STALE_SIGNATURE`) by a key bound to it and valid then (`403 KEY_NOT_VALID`: unknown, rotated
    out or revoked) with a good signature (`403 BAD_SIGNATURE`). The consent is then ACTIVE and the bank is
    told (webhook `consent.changed`)."""
    artefact = SignedTerms(b64decode(body.artefact.payload), b64decode(body.artefact.signature))
    request = services.consent_desk.approve(enterprise.account, request_id, artefact, now=services.now())
    return _enterprise_request(services, enterprise.account, request)


@router.post("/consent-requests/{request_id}/decline", response_model=EnterpriseRequestOut,
             summary="Decline a consent request (signed instruction)", responses=_ERRORS)
def decline(request_id: str, body: InstructionIn, enterprise: CurrentEnterprise, services: Services
            ) -> EnterpriseRequestOut:
    signed = SignedInstruction(b64decode(body.instruction.payload), b64decode(body.instruction.signature))
    request = services.consent_desk.decline(enterprise.account, request_id, signed, now=services.now())
    return _enterprise_request(services, enterprise.account, request)


def consent_out(services: PlatformServices, record: AuthorisationRecord) -> ConsentOut:
    terms = record.terms
    request = services.consent_desk.request_of(terms.id)
    return ConsentOut(
        authorisation_id=terms.id, request_id=None if request is None else request.id, grantee=terms.grantee,
        data_items=list(terms.data_items), categories=[f"{c.name}:{c.sensitivity.value}" for c in terms.categories],
        mode=terms.mode.value, purpose=terms.purpose.value, loan_application_ref=terms.loan_application_ref,
        status=record.status.value, not_before=format_time(terms.not_before), not_after=format_time(terms.not_after),
        max_uses=terms.max_uses, registered_at=format_time(record.registered_at),
        updated_at=format_time(record.updated_at))


@router.get("/consents", response_model=ConsentListOut, summary="This enterprise's consents", responses=_ERRORS)
def list_consents(enterprise: CurrentEnterprise, services: Services) -> ConsentListOut:
    return ConsentListOut(items=[consent_out(services, r) for r in services.consent_desk.consents(enterprise.account)])


@router.get("/consents/{authorisation_id}", response_model=ConsentOut, summary="One of this enterprise's consents",
            responses=_ERRORS)
def get_consent(authorisation_id: str, enterprise: CurrentEnterprise, services: Services) -> ConsentOut:
    return consent_out(services, services.consent_desk.own_consent(enterprise.account, authorisation_id))


@router.post("/consents/{authorisation_id}/{action}", response_model=ConsentOut,
             summary="Pause, resume or revoke a consent (signed instruction)", responses=_ERRORS)
def change_consent(authorisation_id: str, action: ChangeAction, body: InstructionIn, enterprise: CurrentEnterprise,
                   services: Services) -> ConsentOut:
    """The instruction must say this action and this consent, be this enterprise's, fresh, signed by a key valid
    then, and new (`403 REPLAYED_INSTRUCTION`). A change the lifecycle forbids (resuming a revoked consent) is
    `409 ILLEGAL_TRANSITION`. Source nodes refuse the next use at once (they ask the registry online); the
    bank is told through its webhook."""
    signed = SignedInstruction(b64decode(body.instruction.payload), b64decode(body.instruction.signature))
    services.consent_desk.change(enterprise.account, authorisation_id, Action(action.upper()), signed,
                                 now=services.now())
    return consent_out(services, services.consent_desk.own_consent(enterprise.account, authorisation_id))


@router.get("/consents/{authorisation_id}/uses", response_model=ConsentUseListOut,
            summary="Every use made under a consent, with its receipt", responses=_ERRORS)
def list_uses(authorisation_id: str, enterprise: CurrentEnterprise, services: Services) -> ConsentUseListOut:
    """Answers, raw values served, refusals (every request made under it, refused or not), alerts and reads of
    self-declared information, as audit leaves; each with an inclusion proof once a cosigned checkpoint covers
    it."""
    leaves = services.consent_desk.uses(enterprise.account, authorisation_id)
    note = services.audit.latest_checkpoint()
    size = 0 if note is None else Checkpoint.from_body(parse_note(note).text).size
    items = []
    for leaf in leaves:
        event = AuditEvent.from_leaf(leaf.leaf)
        receipt = None
        if leaf.index < size:
            issued = issue_receipt(services.audit, leaf.index, note)
            receipt = InclusionReceiptOut(leaf=b64encode(issued.leaf), index=issued.index,
                                          proof=[b64encode(p) for p in issued.proof], checkpoint=issued.checkpoint)
        items.append(ConsentUseOut(index=leaf.index, kind=event.kind.value, at=event.to_json_object()["at"],
                                   institution=event.institution, source_unit=event.source_unit,
                                   use_id=event.use_id, reason_code=event.reason_code, leaf_hash=leaf.leaf_hash.hex(),
                                   leaf=b64encode(leaf.leaf), receipt=receipt))
    return ConsentUseListOut(authorisation_id=authorisation_id, items=items)


# -- self-declared information ---------------------------------------------------------------------------------


def version_out(record: DeclarationRecord) -> DeclarationVersionOut:
    return DeclarationVersionOut(
        declaration_id=record.id, version=record.version, status=record.status.value,
        visibility=None if record.visibility is None else record.visibility.value,
        recorded_at=format_time(record.recorded_at), digest=record.digest,
        declaration=None if record.statement is None else declaration_json(record))


@router.get("/declarations/commitment", response_model=CommitmentOut, summary="The credit commitment to sign",
            responses=_ERRORS)
def get_commitment(enterprise: CurrentEnterprise) -> CommitmentOut:
    return CommitmentOut(version=COMMITMENT_VERSION, text=COMMITMENT_TEXT)


@router.post("/declarations", response_model=DeclarationVersionOut, status_code=201,
             summary="Declare (or correct) self-declared information under a credit commitment", responses=_ERRORS)
def declare(body: DeclarationIn, enterprise: CurrentEnterprise, services: Services) -> DeclarationVersionOut:
    """The statement must carry the platform's commitment text (`422 COMMITMENT_MISMATCH`), be the next version
    superseding the current one (`422 VERSION_CONFLICT`), and be signed now by a key valid then. PUBLIC
    declarations appear in every reader's report, flagged self-declared; CONSENT ones only to a bank under a
    consent naming `platform/main:self_declared`."""
    signed = SignedDeclaration(b64decode(body.declaration.payload), b64decode(body.declaration.signature))
    return version_out(services.declarations.submit(enterprise.account, signed, now=services.now()))


@router.get("/declarations", response_model=DeclarationHistoryOut, summary="Every version of own declarations",
            responses=_ERRORS)
def list_declarations(enterprise: CurrentEnterprise, services: Services) -> DeclarationHistoryOut:
    return DeclarationHistoryOut(items=[version_out(r) for r in
                                        services.declarations.history(enterprise.account.credit_code)])


@router.post("/declarations/{declaration_id}/withdraw", response_model=DeclarationVersionOut,
             summary="Withdraw the current declaration (signed instruction)", responses=_ERRORS)
def withdraw(declaration_id: str, body: InstructionIn, enterprise: CurrentEnterprise, services: Services
             ) -> DeclarationVersionOut:
    """A new, empty version: reports and reads show no declaration from now on; the history keeps every one."""
    signed = SignedInstruction(b64decode(body.instruction.payload), b64decode(body.instruction.signature))
    return version_out(services.declarations.withdraw(enterprise.account, declaration_id, signed,
                                                      now=services.now()))
