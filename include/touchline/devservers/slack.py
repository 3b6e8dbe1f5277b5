"""A local server shaped like a small part of the Slack Web API.

Imitated, under ``/api/``:

* ``users.lookupByEmail`` (``email``),
* ``chat.postMessage`` (``channel``, ``text``, ``blocks``; a user id as channel is answered
  with that user's DM channel id ``D...``),
* ``chat.update`` (``channel``, ``ts``, ``text``, ``blocks``),
* ``auth.test``.

Arguments are read the way Slack reads them: from the query string, a form-encoded body or
a JSON body (``blocks`` may be a JSON array or, as form clients send it, a JSON string).
Errors are answered the Slack way, HTTP 200 with ``{"ok": false, "error": "<code>"}``, except
unknown methods (404) and rate limiting (HTTP 429, ``Retry-After``, ``"ratelimited"``; inject it
with :meth:`~touchline.devservers.base.FakeServer.fail_next`). The token goes in
``Authorization: Bearer`` (or, as older clients do, in a ``token`` argument).

Not imitated: any other method, threads, attachments, scopes, conversations other than a
user's DM (any channel name or id not starting with ``U``/``W`` is accepted as is), block
validation beyond "a list of at most 50 objects with a ``type``", and real rate-limit tiers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from touchline.devservers.base import FakeServer, Reply, Request

API_PREFIX = "/api/"
MAX_BLOCKS = 50
MAX_TEXT_CHARS = 40_000
TS_EPOCH = 1_700_000_000

DEFAULT_USERS: Mapping[str, str] = {"ana@x.example": "U0ANA", "ben@x.example": "U0BEN"}

_ERROR_CODES = {
    400: "invalid_arguments",
    401: "not_authed",
    404: "unknown_method",
    405: "method_not_supported_for_channel_type",
    413: "request_too_large",
    429: "ratelimited",
}


def user_id_for(email: str) -> str:
    """A stable user id for an email address that is not configured."""
    return "U" + hashlib.sha1(email.strip().lower().encode()).hexdigest()[:8].upper()


def _is_user_id(channel: str) -> bool:
    return len(channel) > 1 and channel[0] in "UW" and channel[1:].isalnum()


class SlackServer(FakeServer):
    """Slack Web API subset; see the module docstring.

    ``users`` maps email to user id. With ``accept_any_email`` a lookup for an unknown email
    answers an id derived from it (see :func:`user_id_for`) and messages to any user id are
    accepted; otherwise a user id that is not configured is answered ``channel_not_found``.
    """

    name = "slack"

    def __init__(
        self,
        token: str = "xoxb-test",
        *,
        users: Mapping[str, str] | None = None,
        accept_any_email: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.users = {
            e.lower(): u for e, u in (users if users is not None else DEFAULT_USERS).items()
        }
        self.accept_any_email = accept_any_email
        super().__init__(host, port, verbose=verbose)

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._messages: list[dict[str, Any]] = []
        self._seq = 0

    def _snapshot_state(self) -> dict[str, Any]:
        return {"messages": self._messages, "users": self.users}

    def summary(self) -> str:
        with self.lock:
            channels = {m["channel"] for m in self._messages}
            return (
                f"{self.name}: {len(self._messages)} messages to {len(channels)} channels, "
                f"{len(self.requests)} requests"
            )

    def _next_ts(self) -> str:
        self._seq += 1
        micros = self._seq * 100
        return f"{TS_EPOCH + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _resolve_channel(self, channel: str) -> str | None:
        """The channel id a message lands in, or None if Slack would not find it."""
        if _is_user_id(channel):
            if not self.accept_any_email and channel not in self.users.values():
                return None
            return "D" + channel[1:]
        return channel

    # ------------------------------------------------------------------ test helpers

    def messages(self) -> list[dict[str, Any]]:
        """Stored messages ``{"channel", "ts", "text", "blocks"}`` in posting order (copies)."""
        with self.lock:
            return self.copy(self._messages)

    def messages_for(self, channel_or_user: str) -> list[dict[str, Any]]:
        """Messages in a channel; a user id selects that user's DM channel."""
        channel = "D" + channel_or_user[1:] if _is_user_id(channel_or_user) else channel_or_user
        with self.lock:
            return self.copy([m for m in self._messages if m["channel"] == channel])

    # ------------------------------------------------------------------ HTTP

    def error_payload(self, status: int, message: str) -> Any:
        code = _ERROR_CODES.get(status)
        if code is None:
            code = "internal_error" if status >= 500 else message.replace(" ", "_")
        return {"ok": False, "error": code}

    @staticmethod
    def _fail(code: str) -> Reply:
        return Reply(200, {"ok": False, "error": code})

    def _args(self, request: Request) -> dict[str, Any] | None:
        args: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        content_type = request.headers.get("content-type", "").lower()
        body = request.body
        if not body.strip():
            return args
        if "application/json" in content_type or (
            "form" not in content_type and body.lstrip()[:1] == b"{"
        ):
            if not request.json_valid or not isinstance(request.json, dict):
                return None
            args.update(request.json)
        else:
            try:
                text = body.decode()
            except UnicodeDecodeError:
                return None
            args.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        return args

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith(API_PREFIX):
            return self.not_found()
        method = request.path[len(API_PREFIX) :].strip("/")
        endpoints = {
            "auth.test": self._auth_test,
            "users.lookupByEmail": self._lookup_by_email,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
        }
        endpoint = endpoints.get(method)
        if endpoint is None:
            return self.not_found()
        if request.method not in ("GET", "POST"):
            return self.method_not_allowed()
        args = self._args(request)
        if args is None:
            return self._fail("invalid_json")
        auth = request.headers.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return self._fail("not_authed")
        if token != self.token:
            return self._fail("invalid_auth")
        return endpoint(args)

    def _auth_test(self, args: dict[str, Any]) -> Reply:
        return Reply(
            200,
            {
                "ok": True,
                "url": "https://touchline-dev.slack.com/",
                "team": "touchline-dev",
                "user": "touchline",
                "team_id": "T0DEV",
                "user_id": "UBOT",
                "bot_id": "B0DEV",
            },
        )

    def _lookup_by_email(self, args: dict[str, Any]) -> Reply:
        email = args.get("email")
        if not isinstance(email, str) or not email.strip():
            return self._fail("invalid_arguments")
        wanted = email.strip().lower()
        user_id = self.users.get(wanted)
        if user_id is None and self.accept_any_email:
            user_id = user_id_for(wanted)
        if user_id is None:
            return self._fail("users_not_found")
        name = wanted.split("@")[0]
        return Reply(
            200,
            {
                "ok": True,
                "user": {
                    "id": user_id,
                    "team_id": "T0DEV",
                    "name": name,
                    "deleted": False,
                    "is_bot": False,
                    "profile": {"email": wanted, "real_name": name, "display_name": name},
                },
            },
        )

    @staticmethod
    def _blocks(args: dict[str, Any]) -> tuple[bool, list[Any] | None]:
        """``(valid, blocks)``; blocks is None when the argument is absent."""
        raw = args.get("blocks")
        if raw is None or raw == "":
            return True, None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return False, None
        if not isinstance(raw, list) or len(raw) > MAX_BLOCKS:
            return False, None
        if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in raw):
            return False, None
        return True, raw

    def _content(self, args: dict[str, Any]) -> tuple[str | None, Any, str | None, Reply | None]:
        """The channel (resolved), blocks and text of a message call, or the error reply."""
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            return None, None, None, self._fail("channel_not_found")
        resolved = self._resolve_channel(channel.strip())
        valid, blocks = self._blocks(args)
        if not valid:
            return resolved, None, None, self._fail("invalid_blocks")
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text and len(text) > MAX_TEXT_CHARS:
            return resolved, blocks, text, self._fail("msg_too_long")
        return resolved, blocks, text, None

    def _post_message(self, args: dict[str, Any]) -> Reply:
        resolved, blocks, text, error = self._content(args)
        if resolved is None:
            return self._fail("channel_not_found")
        if error is not None:
            return error
        if not text and not blocks:
            return self._fail("no_text")
        message = {"channel": resolved, "ts": self._next_ts(), "text": text or "", "blocks": blocks}
        self._messages.append(message)
        return Reply(
            200,
            {
                "ok": True,
                "channel": resolved,
                "ts": message["ts"],
                "message": {
                    "type": "message",
                    "user": "UBOT",
                    "bot_id": "B0DEV",
                    "text": message["text"],
                    "blocks": self.copy(blocks),
                    "ts": message["ts"],
                },
            },
            applied=True,
        )

    def _update(self, args: dict[str, Any]) -> Reply:
        resolved, blocks, text, error = self._content(args)
        if error is not None and resolved is None:
            return error  # no channel at all
        ts = args.get("ts")
        message = next(
            (m for m in self._messages if m["ts"] == ts and m["channel"] == resolved), None
        )
        if message is None:
            return self._fail("message_not_found")
        if error is not None:
            return error
        new_text = text if text is not None else message["text"]
        new_blocks = blocks if "blocks" in args else message["blocks"]
        if not new_text and not new_blocks:
            return self._fail("no_text")
        message["text"] = new_text
        message["blocks"] = new_blocks
        return Reply(
            200,
            {
                "ok": True,
                "channel": message["channel"],
                "ts": message["ts"],
                "text": message["text"],
                "message": {
                    "text": message["text"],
                    "blocks": self.copy(message["blocks"]),
                    "ts": message["ts"],
                },
            },
            applied=True,
        )
