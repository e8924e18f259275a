"""The studio's HTTP server: Python's ``http.server``, a JSON API, PNG responses and one
self-contained page.

Security, in order of the checks every request passes:

- only known routes are served (no files from disk, so no path to traverse); anything
  else is a 404, a known route with the wrong method a 405;
- bound to 127.0.0.1 by default. There the ``Host`` header must name the loopback
  address and port, so a web page that re-points its own domain at 127.0.0.1 (DNS
  rebinding) is refused;
- on any other interface (``--host``) every request needs the access token made at
  start (``secrets.token_urlsafe``), compared in constant time, from ``?token=`` (the
  printed address), an ``X-Artgan-Token`` header, or the cookie the first page view
  sets (HttpOnly, SameSite=Strict), else 403;
- a POST needs the ``X-Artgan-Studio`` header and, if the browser sends an ``Origin``,
  the studio's own: a page elsewhere cannot make the studio work (cross-site requests
  with a custom header need a CORS preflight, which the studio never grants);
- bodies need a Content-Length within bounds (JSON 64 kB, uploads 20 MB: 413 beyond),
  numbers are range-checked (400), uploads must decode as images of at most 25 MP, and
  at most 32 requests are handled at once (503 beyond). The page has a strict Content
  Security Policy (its own inline script and style, by hash; no other origin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from ..core.errors import ArtganError
from . import StudioError
from .routes import ROUTES, Routes
from .worker import Worker


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1,
    localhost); 0.0.0.0 and :: (every interface) are not."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_matches(given: str | None, token: str | None) -> bool:
    """The access-token check: no token set lets everything through; otherwise
    ``given`` must equal it (constant-time comparison)."""
    if token is None:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def page_html() -> str:
    return resources.files("artgan.studio").joinpath("page.html").read_text("utf-8")


def _hashes(html: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest())
                    .decode() + "'" for block in blocks)


def content_security_policy(html: str) -> str:
    """Only this page's own inline script and style run; images from the studio (and
    the browser's own blob: previews of a chosen file); requests to the studio only."""
    return (f"default-src 'none'; script-src {_hashes(html, 'script')}; "
            f"style-src {_hashes(html, 'style')}; img-src 'self' blob: data:; "
            f"connect-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors 'none'")


class StudioServer(ThreadingHTTPServer):
    """The server: a :class:`~artgan.studio.session.Studio`, its worker, the token."""

    daemon_threads = True

    def __init__(self, studio, worker, host: str, port: int, token: str | None,
                 quiet: bool = False):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.studio, self.worker, self.token, self.quiet = studio, worker, token, quiet
        self.limits = studio.limits
        self.slots = threading.BoundedSemaphore(self.limits.connections)
        self.instance = secrets.token_hex(4)  # in image URLs: no stale cache on restart
        self.html = page_html()
        self.csp = content_security_policy(self.html)
        super().__init__((host.strip("[]"), port), StudioHandler)
        self.host, self.port = host.strip("[]"), int(self.server_address[1])
        self.loopback_hosts = {f"{name}:{self.port}" for name in
                               ("127.0.0.1", "localhost", "[::1]",
                                f"[{self.host}]" if ":" in self.host else self.host)}
        self.cookie = f"artgan_studio_{self.port}"

    @property
    def url(self) -> str:
        """The address to open (with ``?token=`` when one is needed)."""
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def handle_error(self, request, client_address) -> None:
        """A browser that drops a kept-alive connection is normal, not worth a trace."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    def close(self) -> None:
        """Stop serving, stop the worker, delete the uploads."""
        self.server_close()
        self.worker.stop()
        self.studio.close()


def make_server(studio, *, host: str = "127.0.0.1", port: int = 0,
                token: str | None = None, quiet: bool = False) -> StudioServer:
    """A started worker and a bound (not yet serving) server for ``studio``: call
    ``serve_forever()`` (``shutdown()`` from another thread, then ``close()``). Off
    loopback a token is required: one is made when none is given."""
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    limits = studio.limits
    worker = Worker(queued_jobs=limits.queued_jobs, queued_quick=limits.queued_quick).start()
    try:
        return StudioServer(studio, worker, host, port, token, quiet)
    except BaseException:
        worker.stop()
        raise


class StudioHandler(Routes, BaseHTTPRequestHandler):
    """One request: the checks of the module docstring, then its route (the API's
    handlers are the :class:`~artgan.studio.routes.Routes` methods)."""

    server: StudioServer
    server_version = "artgan-studio"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # a stalled client frees its thread

    # -- entry points --------------------------------------------------------------------
    def do_GET(self):  # noqa: N802 (http.server's names)
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_HEAD(self):  # noqa: N802
        self._handle("HEAD")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def do_OPTIONS(self):  # noqa: N802
        self._handle("OPTIONS")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        self.is_api = self.path.startswith("/api/")
        self.set_cookie, self.body_read = False, False
        if not self.server.slots.acquire(blocking=False):
            self.close_connection = True
            return self._error(503, "the studio is handling too many requests; try again")
        try:
            url = urlsplit(self.path)
            self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._guard(method)
            handler, args = self._route(method, url.path)
            handler(*args)
        except StudioError as exc:
            self._error(exc.status, str(exc))
        except ArtganError as exc:  # a user error from artgan's core (a class, a mask)
            self._error(400, str(exc))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # a bug: the page says so, the terminal has the trace
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.server.slots.release()

    # -- checks --------------------------------------------------------------------------
    def _guard(self, method: str) -> None:
        server = self.server
        host = self.headers.get("Host", "")
        if server.token is None:
            if host.lower() not in server.loopback_hosts:
                raise StudioError(f"this studio answers on 127.0.0.1:{server.port} only "
                                  f"(the request was for {host[:60]!r}); open "
                                  f"{server.url}", 403)
        else:
            from_query = self.query.get("token")
            given = from_query or self.headers.get("X-Artgan-Token") or self._cookie()
            if not token_matches(given, server.token):
                raise StudioError("this studio needs its access token: open the address "
                                  "`artgan studio` printed at start (it ends in "
                                  "?token=...)", 403)
            self.set_cookie = from_query is not None
        if method == "POST":
            if self.headers.get("X-Artgan-Studio") != "1":
                raise StudioError("POST requests to the studio need the header "
                                  "X-Artgan-Studio: 1 (its page sends it)", 403)
            origin = self.headers.get("Origin")
            if origin not in (None, "null", f"http://{host}", f"https://{host}"):
                raise StudioError(f"a request from another site ({origin[:60]}) was "
                                  f"refused", 403)

    def _cookie(self) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except Exception:
            return None
        morsel = cookie.get(self.server.cookie)
        return morsel.value if morsel else None

    def _route(self, method: str, path: str) -> tuple[Callable, tuple]:
        for pattern, methods in ROUTES:
            match = re.fullmatch(pattern, path)
            if match:
                allowed = {m: name for m, name in methods.items()}
                if method == "HEAD" and "GET" in allowed:
                    method = "GET"
                if method not in allowed:
                    raise StudioError(f"{method} is not allowed here (use "
                                      f"{', '.join(allowed)})", 405)
                return getattr(self, allowed[method]), match.groups()
        raise StudioError(f"no such page: {path[:100]}", 404)

    # -- bodies --------------------------------------------------------------------------
    def _body(self, limit: int, what: str) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise StudioError(f"send the {what} with a Content-Length (chunked bodies are "
                              f"not accepted)", 411)
        raw = self.headers.get("Content-Length")
        if raw is None:
            self.close_connection = True
            raise StudioError(f"the {what} needs a Content-Length", 411)
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise StudioError(f"bad Content-Length {raw[:20]!r}") from None
        if length > limit:
            raise StudioError(f"the {what} is {length / 1e6:.1f} MB; the studio takes at "
                              f"most {limit / 1e6:g} MB" if limit >= 1e6 else
                              f"the {what} is {length} bytes; at most {limit} are "
                              f"accepted", 413)
        data = self.rfile.read(length)
        self.body_read = True
        if len(data) < length:
            self.close_connection = True
            raise StudioError(f"the {what} ended early ({len(data)} of {length} bytes)")
        return data

    def _drain(self) -> None:
        """Before an error answer: read an unread body away (up to a few times the
        upload limit) so that the browser sees the answer rather than a reset
        connection, and close the connection after it."""
        if self.body_read:
            return
        self.body_read = True
        try:
            left = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            left = 0
        if left <= 0 or self.headers.get("Transfer-Encoding"):
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            return
        self.close_connection = True
        if left > 4 * self.server.limits.upload_bytes:
            return
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _json_body(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise StudioError("send the request as JSON (Content-Type: application/json)",
                              415)
        data = self._body(self.server.limits.json_bytes, "request")
        try:
            body = json.loads(data or b"{}")
        except ValueError as exc:
            raise StudioError(f"the request is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise StudioError("the request must be a JSON object")
        return body

    # -- responses -----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Cache-Control" not in (headers or {}):
            self.send_header("Cache-Control", "no-store")
        if self.set_cookie and self.server.token:
            self.send_header("Set-Cookie", f"{self.server.cookie}={self.server.token}; "
                                           f"Path=/; HttpOnly; SameSite=Strict")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._drain()
        if self.is_api:
            self._send(status, json.dumps({"error": message, "status": status}).encode(),
                       "application/json")
        else:
            self._send(status, f"{status} {HTTPStatus(status).phrase}: {message}\n"
                       .encode(), "text/plain; charset=utf-8")

    def _file(self, data: bytes, filename: str) -> None:
        kind = "image/png" if filename.endswith(".png") else "application/octet-stream"
        headers = {"Cache-Control": "private, max-age=3600"}
        if self.query.get("download") or not filename.endswith(".png"):
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        self._send(200, data, kind, headers)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        if isinstance(status, int) and status >= 400 and not self.server.quiet:
            path = urlsplit(self.path).path  # never the query: it may hold the token
            sys.stderr.write(f"studio: {self.command} {path[:100]} -> {status}\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if not self.server.quiet and "code" in format.lower():
            sys.stderr.write("studio: " + (format % args)[:200] + "\n")
