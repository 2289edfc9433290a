"""Optional API keys (each acting for a tenant) and a per-client rate limit, on /v1 endpoints."""

from __future__ import annotations

import hmac
import time

from flask import Flask, Response, g, request

from api import context
from shared.errors import RateLimited, Unauthorized
from shared.tenants import ApiKey, key_digest


def _presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _tenant_of_key(keys: tuple[ApiKey, ...]) -> str:
    """The tenant of the caller's key if keys are enabled (Unauthorized if missing or wrong),
    else "" (the one shared scope)."""
    if not keys:
        return ""
    presented = _presented_key()
    if presented is None:
        raise Unauthorized("An API key is required: send it in the X-API-Key header.")
    digest = key_digest(presented)
    tenant = None
    for key in keys:  # every one: the time taken does not tell which key matched
        if hmac.compare_digest(digest, key.digest):
            tenant = key.tenant
    if tenant is None:
        raise Unauthorized("The API key is not valid.")
    return tenant


def _count_request(client: str) -> None:
    """Count one request of this client; RateLimited once it is over the per-minute limit."""
    limit = context.settings().rate_limit_per_minute
    retry_after = context.store().hit_rate_limit(client, limit)
    if retry_after is not None:
        raise RateLimited(
            f"Too many requests: the limit is {limit} per minute.", retry_after=retry_after
        )


def install_guard(app: Flask) -> None:
    @app.before_request
    def _guard() -> None:
        g.started = time.perf_counter()
        if not request.path.startswith("/v1/"):
            return
        try:
            g.tenant = _tenant_of_key(context.settings().api_keys)
        except Unauthorized:
            # Wrong keys count against the address, so guessing keys is rate limited too.
            _count_request(str(request.remote_addr))
            raise
        # Clients are told apart by tenant when keys are on (all of a tenant's keys together),
        # else by address; the rate limit and the queued-upload quota both count per client.
        g.client = f"tenant:{g.tenant}" if g.tenant else str(request.remote_addr)
        _count_request(g.client)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            context.metrics().observe(
                request.method, endpoint, response.status_code, time.perf_counter() - started
            )
        return response
