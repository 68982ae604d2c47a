"""Standard Webhooks signatures (standardwebhooks.com): what the ``webhook`` channel sends along.

Three headers let a receiver check that a body came from this monitor, unchanged and
recently, and drop a resend it has already seen:

* ``webhook-id``: stable for one delivery across every retry (the receiver deduplicates on it);
* ``webhook-timestamp``: Unix seconds of this attempt (receivers reject old ones);
* ``webhook-signature``: ``v1,<base64 of HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``.

The key is the secret in the convention's ``whsec_<base64>`` form, decoded; any other
secret is used as its UTF-8 bytes.  Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PREFIX = "whsec_"
MIN_KEY_BYTES = 16  # the convention asks for 24 to 64 random bytes; less than 16 is a mistake


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret``; ValueError (without the secret) when it cannot be one."""
    secret = secret.strip()
    if secret.startswith(PREFIX):
        try:
            key = base64.b64decode(secret[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    else:
        key = secret.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the signing secret is too short: at least {MIN_KEY_BYTES} bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>``: the signature of one attempt."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }
