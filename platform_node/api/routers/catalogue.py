"""`GET /v1/catalogue`: one catalogue of the data items the source units declare, with each item's sharing
condition and its uses: computation (joint modelling, under the unit's approval) from the city-wide list the
coordinator keeps, verification (what a consent request may name) from what the source nodes announced to the
platform's consent registry, also served alone at `GET /v1/consent-catalogue`. Names and conditions only, never a
value. `/v1/catalogue/expansion-requests`: ask a unit to share an item it does not list yet. The list and the
requests live at the coordinator; each unit decides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from platform_node.api.deps import CurrentInstitution, Services
from platform_node.api.errors import ApiError
from platform_node.api.schemas.common import RequestModel, error_responses
from platform_node.consent_registry.registry import CatalogueEntry
from platform_node.governance_link import CatalogueService, CatalogueUnavailable

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


COMPUTATION, VERIFICATION = "computation", "verification"


class VerificationFieldOut(BaseModel):
    item: str = Field(description="The name a consent request uses for it: `provider:field`.")
    field: str
    category: str = Field(description="The data category the source node announced, e.g. tax.")
    sensitivity: str = Field(description="PUBLIC, TRADE_SECRET or PERSONAL.")
    value_type: str = Field(description="number, string or bool: which checks it admits.")
    period: str | None


class CatalogueItemOut(BaseModel):
    name: str
    category: str = Field(description="A code of the reference data categories, e.g. TAX.")
    description: str
    unit: str
    update_frequency: str
    sensitivity: str = Field(description="PUBLIC, TRADE_SECRET or PERSONAL.")
    condition: str = Field(description="unconditional (无条件共享), conditional (有条件共享: only under the unit's "
                                       "approval) or not_shared (不予共享).")
    uses: list[str] = Field(default_factory=list, description="computation (joint modelling, under the unit's "
                            "approval) and verification (an enterprise may consent to its verification: the consent "
                            "request names `verification.item`) if announced; none for a not_shared item, which "
                            "the unit's node refuses for every use.")
    verification: VerificationFieldOut | None = Field(None, description="The field as announced for verification "
                                                      "(even for a not_shared item, whose answers are refused).")


class SourceCatalogueOut(BaseModel):
    source: str
    items: list[CatalogueItemOut]
    verification_only: list[VerificationFieldOut] = Field(
        default_factory=list, description="Fields the unit answers verifications about that its list does not "
                                          "name (verification use only).")


class CatalogueOut(BaseModel):
    version: int = Field(description="This version of the list (versions only ever add up).")
    latest: int
    sha256: str
    sources: list[SourceCatalogueOut] = Field(description="Each provider: its listed items with their uses, and "
                                              "what it offers for verification only (the platform's own "
                                              "`platform/main:self_declared` included). The verification uses "
                                              "are those announced now, whichever version is read.")


class ExpansionIn(RequestModel):
    source: Annotated[str, StringConstraints(pattern=r"^source/[a-z0-9][a-z0-9._-]{0,63}$")]
    item: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    category: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
    description: Text = Field(description="What data item is asked for.")
    reason: Text = Field(description="Why it is needed.")
    intended_use: Text


class ExpansionOut(BaseModel):
    request_id: str
    source: str
    item: str
    category: str
    description: str
    reason: str
    intended_use: str
    status: str = Field(description="FILED, ACCEPTED or DECLINED.")
    decision_reason: str
    condition: str


class ExpansionListOut(BaseModel):
    requests: list[ExpansionOut]


def _desk(services) -> CatalogueService:
    if services.catalogue is None:
        raise ApiError(503, "CATALOGUE_UNAVAILABLE", "this platform has no link to the catalogue")
    return services.catalogue


@router.get("", response_model=CatalogueOut, summary="The city-wide list of data items",
            responses=error_responses(401, 404, 503))
def get_catalogue(institution: CurrentInstitution, services: Services,
                  version: Annotated[int, Query(ge=0, description="0: the latest")] = 0) -> CatalogueOut:
    """Every source unit's declared data items with category, unit, update frequency, sensitivity, sharing
    condition and uses (computation, verification; the verification field's consent-request name beside it), and
    the fields offered for verification only. Never a value. `GET /v1/consent-catalogue` still lists the
    verification fields alone."""
    try:
        found = _desk(services).version(version)
    except CatalogueUnavailable:
        raise ApiError(503, "CATALOGUE_UNAVAILABLE", "the catalogue cannot be read now") from None
    if version and found["version"] != version:
        raise ApiError(404, "NOT_FOUND", "no such version of the list")
    fields = services.consent_desk.catalogue()
    return CatalogueOut(**{k: found[k] for k in ("version", "latest", "sha256")},
                        sources=one_catalogue(found["sources"], fields))


def one_catalogue(listed: list[dict[str, Any]], fields: list[CatalogueEntry]) -> list[SourceCatalogueOut]:
    """The city-wide list's items with their uses, and each provider's verification fields the list does not
    name, by provider."""
    announced = {(e.provider, e.field.name): e for e in fields}
    sources = []
    for source in listed:
        items = []
        for item in source["items"]:
            entry = announced.pop((source["source"], item["name"]), None)
            # The unit's node refuses every use of an item it does not share (ITEM_NOT_SHARED), announced or not.
            shared = item["condition"] != "not_shared"
            uses = [COMPUTATION, *([VERIFICATION] if entry else [])] if shared else []
            items.append(CatalogueItemOut(**item, uses=uses, verification=None if entry is None else _field(entry)))
        sources.append(SourceCatalogueOut(source=source["source"], items=items))
    by_provider: dict[str, list[VerificationFieldOut]] = {}
    for (provider, _), entry in sorted(announced.items()):
        by_provider.setdefault(provider, []).append(_field(entry))
    for source in sources:
        source.verification_only = by_provider.pop(source.source, [])
    sources += [SourceCatalogueOut(source=provider, items=[], verification_only=only)
                for provider, only in sorted(by_provider.items())]
    return sources


def _field(entry: CatalogueEntry) -> VerificationFieldOut:
    return VerificationFieldOut(item=entry.item, field=entry.field.name, category=entry.field.category,
                                sensitivity=entry.field.sensitivity.value, value_type=entry.field.value_type.value,
                                period=entry.field.period)


@router.post("/expansion-requests", response_model=ExpansionOut, status_code=201,
             summary="Ask a source unit to share a data item", responses=error_responses(401, 422, 503))
def file_expansion(body: ExpansionIn, institution: CurrentInstitution, services: Services) -> ExpansionOut:
    """Filed in the institution's name; the unit accepts (the item enters its catalogue with a condition) or
    declines with a reason. Each step is an audit-log entry at the coordinator."""
    try:
        filed = _desk(services).file_expansion(institution=institution.id, **body.model_dump())
    except ValueError:
        raise ApiError(422, "INVALID_EXPANSION", "the request names an unknown category or a malformed item") \
            from None
    except CatalogueUnavailable:
        raise ApiError(503, "CATALOGUE_UNAVAILABLE", "the catalogue cannot be reached now") from None
    return ExpansionOut(**{k: filed[k] for k in ExpansionOut.model_fields})


@router.get("/expansion-requests", response_model=ExpansionListOut, summary="This institution's expansion requests",
            responses=error_responses(401, 503))
def list_expansions(institution: CurrentInstitution, services: Services) -> ExpansionListOut:
    try:
        found = _desk(services).expansions(institution.id)
    except CatalogueUnavailable:
        raise ApiError(503, "CATALOGUE_UNAVAILABLE", "the catalogue cannot be reached now") from None
    return ExpansionListOut(requests=[ExpansionOut(**{k: e[k] for k in ExpansionOut.model_fields}) for e in found])
