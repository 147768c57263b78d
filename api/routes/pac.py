"""The proxy auto-configuration file, for browsers and device management to point at."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from shadowlens.proxy.pac import PAC_MEDIA_TYPE

router = APIRouter(tags=["client set-up"])


@router.get("/proxy.pac", response_class=Response)
def proxy_pac(request: Request) -> Response:
    """The PAC file: the proxy nodes in order with failover, bypass domains DIRECT."""
    pac: str | None = request.app.state.pac
    if pac is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no PAC file: set SHADOWLENS_PAC_PROXIES")
    return Response(pac, media_type=PAC_MEDIA_TYPE)
