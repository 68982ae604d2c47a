"""A local HTTP server that answers like a Teams Workflows "When a Teams webhook request is received" URL.

    with TeamsServer() as teams:
        url = teams.url_for()        # http://127.0.0.1:PORT/workflows/<id>/triggers/manual/paths/invoke?…&sig=…
        ...
        teams.messages               # accepted payloads (parsed JSON)
        teams.cards                  # the Adaptive Cards in them

A POST is accepted (202, as Workflows answers; ``accept_status=200`` for the older form)
only when it is what Teams can render: the message envelope ``{"type": "message",
"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content":
{…}}]}``, an ``AdaptiveCard`` of version 1.4 or 1.5 (what Teams renders), every body
element and action of a known type with the properties the Adaptive Card schema
requires (``TextBlock.text``, ``FactSet.facts[].title/value``, ``Image.url``,
``Action.OpenUrl.url`` absolute http(s), …), and at most :data:`TEAMS_MAX_BYTES` in
all.  Anything else is 400 with the reason in Workflows' error shape.

Workflow ids pick fixed answers: ``unauthorized`` 401, ``forbidden`` 403, ``gone`` 404,
``boom`` 500; a missing or wrong ``sig`` parameter is 401.  Faults as in
:mod:`tests.fakes.http_capture` (429 with ``Retry-After``, 5xx, hang, drop).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_capture import Answer, CaptureServer

TEAMS_MAX_BYTES = 28 * 1024  # Teams' message size limit ("about 28 KB")
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SIGNATURE = "Zm9vYmFyLXRlYW1zLXNpZw"
FIXED = {
    "unauthorized": (401, "DirectApiAuthorizationRequired"),
    "forbidden": (403, "WorkflowTriggerIsNotEnabled"),
    "gone": (404, "WorkflowNotFound"),
    "boom": (500, "InternalServerError"),
}
# Element type → properties the Adaptive Card schema requires (1.5).
ELEMENTS: dict[str, tuple[str, ...]] = {
    "TextBlock": ("text",),
    "RichTextBlock": ("inlines",),
    "FactSet": ("facts",),
    "Container": ("items",),
    "ColumnSet": (),
    "Image": ("url",),
    "ImageSet": ("images",),
    "ActionSet": ("actions",),
}
ACTIONS: dict[str, tuple[str, ...]] = {
    "Action.OpenUrl": ("url",),
    "Action.Submit": (),
    "Action.ShowCard": ("card",),
    "Action.ToggleVisibility": ("targetElements",),
}


def _error(status: int, code: str, message: str) -> Answer:
    return status, json.dumps({"error": {"code": code, "message": message}}), {}


class TeamsServer(CaptureServer):
    name = "fake-teams"

    def __init__(self, *, accept_status: int = 202, hang_seconds: float = 5.0) -> None:
        super().__init__(hang_seconds=hang_seconds)
        self.accept_status = accept_status

    def url_for(self, workflow: str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0", sig: str = SIGNATURE) -> str:
        return (
            f"{self.base}/workflows/{workflow}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        )

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [m["attachments"][0]["content"] for m in self.messages]

    def judge(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(path)
        found = re.fullmatch(r"/workflows/([^/]+)/triggers/manual/paths/invoke", parts.path)
        if not found:
            return _error(404, "WorkflowNotFound", "The workflow could not be found.")
        if found[1] in FIXED:
            code, name = FIXED[found[1]]
            return _error(code, name, f"The workflow answered {code}.")
        if parse_qs(parts.query).get("sig") != [SIGNATURE]:
            return _error(401, "DirectApiInvalidAuthorizationSignature", "The provided signature is not valid.")
        if len(raw) > TEAMS_MAX_BYTES:
            return _error(400, "MessageSizeTooBig", f"The message is {len(raw)} bytes; at most {TEAMS_MAX_BYTES}.")
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, "InvalidRequestContent", "The request content is not valid JSON.")
        problems = message_problems(payload)
        if problems:
            return _error(400, "InvalidAdaptiveCard", "; ".join(problems[:5]))
        self.accept(payload)
        return self.accept_status, "", {}


def message_problems(payload: Any) -> list[str]:
    """Why Teams would not render ``payload`` (empty when it would)."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return ["the body must be an object with type 'message'"]
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["attachments must be a non-empty list"]
    problems: list[str] = []
    for i, attachment in enumerate(attachments):
        if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_TYPE:
            problems.append(f"attachments[{i}].contentType must be {CARD_TYPE}")
            continue
        problems += card_problems(attachment.get("content"), f"attachments[{i}].content")
    return problems


def card_problems(card: Any, where: str = "card") -> list[str]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return [f"{where}.type must be AdaptiveCard"]
    problems: list[str] = []
    version = card.get("version")
    found = re.fullmatch(r"(\d+)\.(\d+)", version) if isinstance(version, str) else None
    if not found or not (1, 4) <= (int(found[1]), int(found[2])) <= (1, 5):
        problems.append(f"{where}.version must be 1.4 or 1.5 (what Teams renders), got {version!r}")
    body = card.get("body", [])
    actions = card.get("actions", [])
    if not isinstance(body, list) or not isinstance(actions, list):
        return [*problems, f"{where}.body and .actions must be lists"]
    if not body:
        problems.append(f"{where}.body is empty")
    for i, element in enumerate(body):
        problems += _element_problems(element, f"{where}.body[{i}]")
    for i, action in enumerate(actions):
        problems += _action_problems(action, f"{where}.actions[{i}]")
    return problems


def _element_problems(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") not in ELEMENTS:
        kind = element.get("type") if isinstance(element, dict) else element
        return [f"{where}: unknown element type {kind!r}"]
    problems = [f"{where}.{key} is required" for key in ELEMENTS[element["type"]] if key not in element]
    kind = element["type"]
    if kind == "TextBlock" and not isinstance(element.get("text", ""), str):
        problems.append(f"{where}.text must be a string")
    if kind == "FactSet":
        for j, fact in enumerate(element.get("facts") or []):
            if not isinstance(fact, dict) or not all(isinstance(fact.get(k), str) for k in ("title", "value")):
                problems.append(f"{where}.facts[{j}] needs string title and value")
    if kind == "Container":
        for j, item in enumerate(element.get("items") or []):
            problems += _element_problems(item, f"{where}.items[{j}]")
    if kind == "ColumnSet":
        for j, column in enumerate(element.get("columns") or []):
            for k, item in enumerate(column.get("items") or [] if isinstance(column, dict) else []):
                problems += _element_problems(item, f"{where}.columns[{j}].items[{k}]")
    if kind == "ActionSet":
        for j, action in enumerate(element.get("actions") or []):
            problems += _action_problems(action, f"{where}.actions[{j}]")
    return problems


def _action_problems(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        kind = action.get("type") if isinstance(action, dict) else action
        return [f"{where}: unknown action type {kind!r}"]
    problems = [f"{where}.{key} is required" for key in ACTIONS[action["type"]] if key not in action]
    if action["type"] == "Action.OpenUrl":
        url = action.get("url")
        if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url) or re.search(r"\s", url):
            problems.append(f"{where}.url must be an absolute http(s) URL, got {url!r}")
    return problems
