"""Standard Webhooks signing: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def _key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError if it is not in that form."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as error:
        raise ValueError(
            "READFACE_WEBHOOK_SECRET must be 'whsec_' followed by base64 "
            f"(Standard Webhooks form): {error}"
        ) from None


def check_secret(secret: str) -> None:
    """ValueError, saying what is wrong, unless the secret is empty or a usable key."""
    if secret:
        _key(secret)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (no signature when no secret is configured)."""
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "content-type": "application/json",
    }
    if secret:
        headers["webhook-signature"] = sign(secret, message_id, timestamp, body)
    return headers
