"""Extension point: the source-unit administrator's pages (issue 19 item 4).

Those pages belong on each source node's admin address (a source node never imports the platform), and the
governance routes they need (`GET /v1/catalogue`, data-use approvals) are being built on another branch. The
next increment serves the catalogue, the approval requests (approve with the unit's key, decline, suspend,
revoke) and the usage report with each line's verification status from the source node, reusing this
console's role-free pieces (`i18n.py`, `charts.py`, `sessions.py`, the templates' base), moved then to a
package both roles may import. Here, the platform's console only says where that view will be.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from platform_node.console.render import page

router = APIRouter(prefix="/console/source-unit", include_in_schema=False)


@router.get("")
async def source_unit_home(request: Request) -> Response:
    return page(request, "extension.html", title="ext.source.title", body="ext.source.body")
