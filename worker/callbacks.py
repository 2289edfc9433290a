"""Delivering a finished analysis to a callback URL, signed, retried with backoff and jitter."""

from __future__ import annotations

import json
import random
import time

import requests

from shared.callback_urls import check_callback_url
from shared.resource import analysis_resource
from shared.settings import Settings
from shared.store import Store
from shared.webhooks import webhook_headers


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx (or could not be reached); the attempt is retried."""


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Exponential backoff with full jitter: attempt 0 waits up to base, then 2x, 4x, ..."""
    ceiling = settings.callback_backoff * (2**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def deliver(store: Store, analysis_id: str, url: str, message_id: str) -> str:
    """POST the analysis to the URL once; returns what happened, raises DeliveryFailed to retry.

    InvalidCallback (the name now resolves somewhere private) is final: retrying won't help.
    """
    settings = store.settings
    job = store.job(analysis_id)
    if job is None:
        return "dropped: the analysis was deleted"
    check_callback_url(url, settings.callback_allow_private)  # DNS may have changed since submit
    body = json.dumps(analysis_resource(job, store)).encode()
    headers = webhook_headers(settings.webhook_secret, message_id, int(time.time()), body)
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.callback_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise DeliveryFailed(f"{url}: {type(error).__name__}") from error
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{url}: HTTP {response.status_code}")
    return f"delivered: HTTP {response.status_code}"
