"""A local endpoint for Apprise's ``json://`` plug-in: Apprise delivers without any network.

    with AppriseTarget() as target:
        url = target.apprise_url()    # json://127.0.0.1:PORT/notify
        ...
        target.messages               # what Apprise posted: {"version", "title", "message", "type", …}

Apprise's JSON plug-in posts one JSON object per notification to ``http://host:port/path``
and calls any 2xx a success.  The path ``/boom`` answers 500; faults as in
:mod:`tests.fakes.http_capture`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.http_capture import Answer, CaptureServer


class AppriseTarget(CaptureServer):
    name = "fake-apprise-target"

    def apprise_url(self, path: str = "notify") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def judge(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        if path.split("?", 1)[0].rstrip("/").endswith("/boom"):
            return 500, "boom", {}
        try:
            payload: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, "not JSON", {}
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
            return 400, "no message", {}
        self.accept(payload)
        return 200, "", {}
