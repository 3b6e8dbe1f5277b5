"""Common machinery for the local fake API servers.

:class:`FakeServer` runs a :class:`http.server.ThreadingHTTPServer` on a loopback port in a
daemon thread. Subclasses implement :meth:`FakeServer.handle` (one parsed request in, one
:class:`Reply` out) and a snapshot of their state; this module takes care of the rest:

* request parsing (query string, lower-cased headers, body up to 10 MB, JSON when it parses),
* a log of every request with the status it was answered with (:attr:`FakeServer.requests`),
* fault injection (:meth:`FakeServer.fail_next`, :meth:`FakeServer.delay_next`),
* a crash hook (:meth:`FakeServer.kill_after`) called after a number of applied requests,
* two unauthenticated endpoints that are never recorded nor faulted:
  ``GET /__health`` (``{"ok": true}``) and ``GET /__state`` (the snapshot as JSON).

Every response carries ``Connection: close``: a stopped server never keeps answering on a
kept-alive connection, which would hide outage handling in the client under test.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 10 * 1024 * 1024
HEALTH_PATH = "/__health"
STATE_PATH = "/__state"

_REASONS = {
    400: "bad request",
    401: "unauthorized",
    404: "not found",
    405: "method not allowed",
    411: "length required",
    413: "request body too large",
    429: "rate limited",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it, and the status it answered.

    ``path`` is the raw path as sent (still percent-encoded, without the query string).
    ``json`` is the parsed body when the body is valid JSON, else ``None``.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    status: int


@dataclass
class Request:
    """A parsed incoming request, handed to :meth:`FakeServer.handle`."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    json_valid: bool = True
    """False when a non-empty body is not valid JSON."""

    def arg(self, name: str) -> str | None:
        """Last value of a query-string argument, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Reply:
    """What a handler answers.

    ``payload`` is serialised as JSON unless ``raw`` is given. ``applied`` marks a successful
    state change; it feeds :meth:`FakeServer.kill_after`.
    """

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    raw: bytes | None = None


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None = None
    delay: float = 0.0


def parse_json(body: bytes) -> tuple[Any, bool]:
    """Parse a request body: ``(value, True)``, ``(None, True)`` when empty, else invalid."""
    if not body.strip():
        return None, True
    try:
        return json.loads(body), True
    except (ValueError, UnicodeDecodeError):
        return None, False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "touchline-devserver"
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self.server.fake._dispatch(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write(f"[{self.server.fake.name}] {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # the listen backlog: a batch of parallel clients must queue, not be refused (the
    # standard library's default is 5)
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class FakeServer:
    """Base class of the fake API servers; see the module docstring.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with HubSpotServer() as hubspot:
            exporter.run(base_url=hubspot.url)
            assert len(hubspot.tasks()) == 3
    """

    name = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self.verbose = verbose
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        self._kill: tuple[int, Callable[[], object]] | None = None
        self._applied_since_kill = 0
        self._in_flight = 0
        self._idle = threading.Condition(self.lock)
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        with self.lock:
            self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind the port and serve in a daemon thread. Returns self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-devserver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; delayed requests are woken and dropped."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ test controls

    def fail_next(self, status: int = 429, count: int = 1, retry_after: int | None = 1) -> None:
        """Answer the next ``count`` requests with ``status`` and leave the state untouched.

        A 429 or 503 carries ``Retry-After: <retry_after>`` (omitted when ``retry_after`` is
        None). The body is the server's usual error shape.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status")
        with self.lock:
            for _ in range(count):
                self._faults.append(_Fault(status=status, retry_after=retry_after))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` requests for ``seconds``, then answer 504 without applying.

        To the client this looks like a request lost in flight: a client with a shorter
        timeout gives up, and nothing changed on the server either way.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self.lock:
            for _ in range(count):
                self._faults.append(_Fault(status=504, delay=float(seconds)))

    def kill_after(self, n: int, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, right after the n-th applied request from now.

        Applied means a 2xx answer that changed the state. The callback runs after the change
        and before the response is written, so a client killed by it never sees the answer to
        the request that was applied last.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        with self.lock:
            self._kill = (n, callback)
            self._applied_since_kill = 0

    def reset(self) -> None:
        """Forget all state, recorded requests, pending faults and the kill hook."""
        with self.lock:
            self.requests.clear()
            self._faults.clear()
            self._kill = None
            self._applied_since_kill = 0
            self._reset_state()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is being handled (delayed ones included); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        """Recorded requests whose path starts with ``path`` (and method, when given)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path) and (method is None or r.method == method)
            ]

    def snapshot(self) -> dict[str, Any]:
        """The server's state as plain JSON-able data, plus the number of recorded requests."""
        with self.lock:
            state = self._snapshot_state()
            state["request_count"] = len(self.requests)
            return json.loads(json.dumps(state))

    def summary(self) -> str:
        """One human-readable line about the state, e.g. for a demo's exit message."""
        with self.lock:
            return f"{self.name}: {len(self.requests)} requests"

    # ------------------------------------------------------------------ for subclasses

    def _reset_state(self) -> None:
        """Initialise the API state (called under the lock)."""

    def _snapshot_state(self) -> dict[str, Any]:
        """The API state as JSON-able data (called under the lock)."""
        return {}

    def handle(self, request: Request) -> Reply:
        """Answer one request. Runs under :attr:`lock`."""
        return self.not_found()

    def error_payload(self, status: int, message: str) -> Any:
        """The JSON body of an error answer, in the imitated API's shape."""
        return {"error": message, "status": status}

    def error(self, status: int, message: str | None = None, **headers: str) -> Reply:
        return Reply(
            status,
            self.error_payload(status, message or _REASONS.get(status, "error")),
            headers=dict(headers),
        )

    def not_found(self) -> Reply:
        return self.error(404, "not found")

    def method_not_allowed(self) -> Reply:
        return self.error(405, "method not allowed")

    @staticmethod
    def copy(value: Any) -> Any:
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ request handling

    def _dispatch(self, h: _Handler) -> None:
        h.close_connection = True
        split = urlsplit(h.path)
        path = split.path or "/"
        if h.command == "GET" and path in (HEALTH_PATH, STATE_PATH):
            payload = {"ok": True} if path == HEALTH_PATH else self.snapshot()
            self._write(h, Reply(200, payload))
            return

        with self._idle:
            self._in_flight += 1
        try:
            self._serve(h, path, split.query)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _serve(self, h: _Handler, path: str, query_string: str) -> None:
        headers: dict[str, str] = {}
        for key, value in h.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        query = parse_qs(query_string, keep_blank_values=True)

        body, problem = self._read_body(h, headers)
        parsed, valid = parse_json(body)
        request = Request(h.command, path, query, headers, body, parsed, valid)

        if problem is not None:
            reply = problem
        else:
            with self.lock:
                fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                reply = self._fault_reply(fault)
                if fault.delay:
                    self._record(request, reply.status)
                    self._stopping.wait(fault.delay)
                    self._write(h, reply)
                    return
            else:
                reply = self._handle_safely(request)

        callback = None
        with self.lock:
            self.requests.append(self._as_recorded(request, reply.status))
            if reply.applied and 200 <= reply.status < 300 and self._kill is not None:
                self._applied_since_kill += 1
                if self._applied_since_kill >= self._kill[0]:
                    callback = self._kill[1]
                    self._kill = None
        if callback is not None:
            callback()
        self._write(h, reply)

    def _read_body(self, h: _Handler, headers: dict[str, str]) -> tuple[bytes, Reply | None]:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = h.rfile.readline(1024)
                try:
                    length = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return b"", self.error(400, "bad chunked encoding")
                if length == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks), None
                size += length
                if size > MAX_BODY_BYTES:
                    return b"", self.error(413)
                chunks.append(h.rfile.read(length))
                h.rfile.readline(1024)
        raw_length = headers.get("content-length")
        if raw_length is None:
            return b"", None
        try:
            length = int(raw_length)
        except ValueError:
            return b"", self.error(400, "bad content-length")
        if length > MAX_BODY_BYTES:
            return b"", self.error(413)
        return (h.rfile.read(length) if length > 0 else b""), None

    def _fault_reply(self, fault: _Fault) -> Reply:
        reply = self.error(fault.status)
        if fault.status in (429, 503) and fault.retry_after is not None:
            reply.headers["Retry-After"] = str(fault.retry_after)
        return reply

    def _handle_safely(self, request: Request) -> Reply:
        try:
            with self.lock:
                return self.handle(request)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return self.error(500, "internal server error")

    def _record(self, request: Request, status: int) -> None:
        with self.lock:
            self.requests.append(self._as_recorded(request, status))

    @staticmethod
    def _as_recorded(request: Request, status: int) -> Recorded:
        return Recorded(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            json=request.json,
            status=status,
        )

    def _write(self, h: _Handler, reply: Reply) -> None:
        if reply.raw is not None:
            data = reply.raw
            content_type = reply.headers.get("Content-Type", "application/octet-stream")
        elif reply.status == 204 or reply.payload is None:
            data = b""
            content_type = None
        else:
            data = json.dumps(reply.payload).encode()
            content_type = "application/json; charset=utf-8"
        try:
            h.send_response(reply.status)
            if content_type is not None:
                h.send_header("Content-Type", content_type)
            for key, value in reply.headers.items():
                if key.lower() != "content-type":
                    h.send_header(key, value)
            if reply.status != 204:
                h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            if data and reply.status != 204:
                h.wfile.write(data)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass


class HttpsFakeServer(FakeServer):
    """A :class:`FakeServer` over HTTPS, its certificate from a local CA of its own.

    For clients that only speak https (simple-salesforce, zenpy): point
    ``REQUESTS_CA_BUNDLE`` at :attr:`ca_bundle`, the CA's certificate in PEM.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        import ssl
        import tempfile
        from pathlib import Path

        import trustme  # a test dependency: only the HTTPS servers need it

        self._ca = trustme.CA()
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(host, "localhost").configure_cert(self._tls)
        self._ca_dir = tempfile.TemporaryDirectory(prefix=f"touchline-{self.name}-ca-")
        self.ca_bundle = Path(self._ca_dir.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_bundle))
        super().__init__(host, port, verbose=verbose)

    def start(self) -> Self:
        fresh = self._httpd is None
        super().start()
        if fresh and self._httpd is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        return self

    def stop(self) -> None:
        super().stop()
        self._ca_dir.cleanup()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"
