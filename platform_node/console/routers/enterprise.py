"""Extension point: the enterprise's pages (issue 19 item 1).

To be filled by the next increment, once the enterprise consent routes (`/v1/consent-requests`, enterprise
authentication) land from their branch: pending consent requests, approval by signing in the browser
(WebCrypto Ed25519 or a key file; the private key never reaches the server), decline, pause, revoke, the uses
under each consent with receipts, the self-declaration form and the public report. The page is public until
then (it shows no data), and its nav entry is marked as coming.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from platform_node.console.render import page

router = APIRouter(prefix="/console/enterprise", include_in_schema=False)


@router.get("")
async def enterprise_home(request: Request) -> Response:
    return page(request, "extension.html", title="ext.enterprise.title", body="ext.enterprise.body")
