"""`GET /v1/catalogue`: the city-wide list of data items the source units declare, with each item's sharing
condition (names and conditions only, never a value); `/v1/catalogue/expansion-requests`: ask a unit to share
an item it does not list yet. The list and the requests live at the coordinator; each unit decides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from platform_node.api.deps import CurrentInstitution, Services
from platform_node.api.errors import ApiError
from platform_node.api.schemas.common import RequestModel, error_responses
from platform_node.governance_link import CatalogueService, CatalogueUnavailable

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class CatalogueItemOut(BaseModel):
    name: str
    category: str = Field(description="A code of the reference data categories, e.g. TAX.")
    description: str
    unit: str
    update_frequency: str
    sensitivity: str = Field(description="PUBLIC, TRADE_SECRET or PERSONAL.")
    condition: str = Field(description="unconditional (无条件共享), conditional (有条件共享: only under the unit's "
                                       "approval) or not_shared (不予共享).")


class SourceCatalogueOut(BaseModel):
    source: str
    items: list[CatalogueItemOut]


class CatalogueOut(BaseModel):
    version: int = Field(description="This version of the list (versions only ever add up).")
    latest: int
    sha256: str
    sources: list[SourceCatalogueOut]


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
    """Every source unit's declared data items with category, unit, update frequency, sensitivity and sharing
    condition. Never a value."""
    try:
        found = _desk(services).version(version)
    except CatalogueUnavailable:
        raise ApiError(503, "CATALOGUE_UNAVAILABLE", "the catalogue cannot be read now") from None
    if version and found["version"] != version:
        raise ApiError(404, "NOT_FOUND", "no such version of the list")
    return CatalogueOut(**{k: found[k] for k in ("version", "latest", "sha256", "sources")})


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
