"""Where a source-unit administrator's console is: not here.

A source unit's administrator works on the console its own source node serves on the node's admin address
(`source_node/governance/console/`: catalogue, data-use approvals signed in the browser with the unit's key,
usage report with each line's verification status); the platform holds neither the unit's key nor its
approvals. This public page, linked from the log-in page, says how to open that console.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from platform_node.console.render import page

router = APIRouter(prefix="/console/source-unit", include_in_schema=False)


@router.get("")
async def source_unit_home(request: Request) -> Response:
    return page(request, "source_unit.html")
