"""A local receiver of signed webhooks in the Standard Webhooks convention (standardwebhooks.com).

    with WebhookReceiver() as hook:
        url = hook.url_for()          # http://127.0.0.1:PORT/hooks/kamermonitor
        hook.secret                   # "whsec_<base64>": what the sender signs with
        ...
        hook.messages                 # accepted bodies (parsed JSON), each webhook-id once
        hook.duplicates               # webhook-ids that arrived again after being accepted
        hook.received                 # every verified body, copies included (what a careless receiver sees)

It verifies what a careful receiver verifies, with its own code (not the monitor's): the
three headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds, within
:data:`TOLERANCE` of now) and ``webhook-signature`` (space-separated ``v1,<base64>``
entries, one of which must be the HMAC-SHA256, keyed with the base64-decoded secret, of
``id.timestamp.body``).  A missing header or a stale timestamp is 400, a wrong signature
401.  A webhook-id accepted before is answered 200 again (the sender may not have heard
the first answer) but counted in ``duplicates``, not in ``messages``.

Path tokens pick fixed answers: ``gone`` 410, ``unauthorized`` 401, ``boom`` 500.  Faults
as in :mod:`tests.fakes.http_capture`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from tests.fakes.http_capture import Answer, CaptureServer

TOLERANCE = 5 * 60  # seconds, as the Standard Webhooks libraries default
FIXED = {"gone": (410, "endpoint disabled"), "unauthorized": (401, "unauthorized"), "boom": (500, "boom")}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookReceiver(CaptureServer):
    name = "fake-webhook"

    def __init__(self, *, secret: str | None = None, hang_seconds: float = 5.0) -> None:
        super().__init__(hang_seconds=hang_seconds)
        self.secret = secret or new_secret()
        self.duplicates: list[str] = []
        self.ids: list[str] = []  # webhook-id of each accepted message, in order
        self.received: list[Any] = []  # every verified body, duplicates included
        self._seen: set[str] = set()

    def url_for(self, token: str = "kamermonitor") -> str:
        return f"{self.base}/hooks/{token}"

    def judge(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        token = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if token in FIXED:
            return FIXED[token][0], FIXED[token][1], {}
        msg_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not (msg_id and stamp and signatures):
            return 400, "missing webhook-id, webhook-timestamp or webhook-signature", {}
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE:
            return 400, f"timestamp {stamp!r} is outside the tolerance", {}
        wanted = expected_signature(self.secret, msg_id, stamp, raw)
        if not any(hmac.compare_digest(wanted, s) for s in signatures.split(" ")):
            return 401, "signature does not match", {}
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return 415, "expected application/json", {}
        try:
            payload: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, "body is not JSON", {}
        with self._lock:
            self.received.append(payload)
            if msg_id in self._seen:
                self.duplicates.append(msg_id)
                return 200, "duplicate", {}
            self._seen.add(msg_id)
            self.ids.append(msg_id)
            self.messages.append(payload)
        return 204, "", {}
