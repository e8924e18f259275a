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
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..core.errors import ArtganError
from . import StudioError
from .limits import DEFAULTS
from .worker import Worker

SEED_MAX = 2**63 - 1
_KEY = r"[A-Za-z0-9-]{1,80}"
_JOB = r"[0-9a-f]{12}"
_RESULT_FILES = ("input", "reconstruction", "latent_file", "restored", "mask", "translated")


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


# -- parsing what the page sends ----------------------------------------------------------

def integer(value: Any, name: str, low: int, high: int, *, what: str | None = None) -> int:
    """A whole number in [low, high] from JSON or a query string; a 400 saying which."""
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudioError(f"{name} must be a whole number from {low} to {high}, got "
                          f"{json.dumps(value)[:40]}")
    if not low <= value <= high:
        raise StudioError(what or f"{name} must be from {low} to {high}, got {value}")
    return value


def number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not low <= value <= high:
        raise StudioError(f"{name} must be a number from {low:g} to {high:g}, got "
                          f"{json.dumps(value)[:40]}")
    return float(value)


def optional_class(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return integer(value, "class", 0, 10**6)


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


class StudioHandler(BaseHTTPRequestHandler):
    """One request: the checks of the module docstring, then its route."""

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

    # -- routes --------------------------------------------------------------------------
    def page(self) -> None:
        self._send(200, self.server.html.encode("utf-8"), "text/html; charset=utf-8",
                   {"Content-Security-Policy": self.server.csp})

    def favicon(self) -> None:
        self._send(204, b"", "image/x-icon", {"Cache-Control": "max-age=86400"})

    def info(self) -> None:
        info = self.server.studio.info()
        info["token_required"] = self.server.token is not None
        self._json(info)

    def _sample_url(self, seed: int, n: int, i: int, class_index: int | None) -> str:
        cls = "" if class_index is None else str(class_index)
        return (f"/api/sample.png?seed={seed}&n={n}&i={i}&class={cls}"
                f"&v={self.server.instance}")

    def grid(self) -> None:
        studio, limits = self.server.studio, self.server.limits
        body = self._json_body()
        seed = body.get("seed")
        seed = secrets.randbelow(2**31) if seed is None else integer(seed, "seed", 0, SEED_MAX)
        n = integer(body.get("n", 16), "n", 1, limits.grid,
                    what=f"n: at most {limits.grid} images per grid, got {body.get('n')}")
        class_index = optional_class(body.get("class"))
        keys = self.server.worker.call(lambda: studio.grid(seed, n, class_index),
                                       limits.wait_s)
        G = studio.G
        samples = []
        for i, key in enumerate(keys):
            url = self._sample_url(seed, n, i, class_index)
            label = None
            if G.conditional:
                label = studio.class_names[class_index if class_index is not None
                                           else i % G.num_classes]
            samples.append({"i": i, "url": url, "download": url + "&download=1",
                            "name": (studio.images.get(key) or (0, key))[1], "label": label,
                            "spec": {"seed": seed, "n": n, "i": i, "class": class_index}})
        self._json({"seed": seed, "n": n, "class": class_index,
                    "class_name": studio.class_name(class_index),
                    "command": studio.command(seed, n, class_index), "samples": samples})

    def _spec(self, value: Any, name: str) -> dict:
        limits = self.server.limits
        if not isinstance(value, dict):
            raise StudioError(f"{name} must name a sample {{seed, n, i, class}} or a "
                              f"projection {{projection: id}}")
        if "projection" in value:
            if not isinstance(value["projection"], str) or \
                    not re.fullmatch(_JOB, value["projection"]):
                raise StudioError(f"{name}.projection is not a projection id")
            return {"projection": value["projection"]}
        n = integer(value.get("n"), f"{name}.n", 1, limits.grid)
        return {"seed": integer(value.get("seed"), f"{name}.seed", 0, SEED_MAX), "n": n,
                "i": integer(value.get("i"), f"{name}.i", 0, n - 1),
                "class": optional_class(value.get("class"))}

    def sample(self) -> None:
        studio, limits = self.server.studio, self.server.limits
        q = self.query
        seed = integer(q.get("seed"), "seed", 0, SEED_MAX)
        n = integer(q.get("n"), "n", 1, limits.grid)
        i = integer(q.get("i"), "i", 0, n - 1)
        class_index = optional_class(q.get("class"))
        key = studio.sample_key(seed, n, i, class_index)
        item = studio.images.get(key)
        if item is None:
            self.server.worker.call(lambda: studio.grid(seed, n, class_index), limits.wait_s)
            item = studio.images.get(key)
        if item is None:
            raise StudioError("the image was dropped from memory at once; try again", 503)
        self._file(*item)

    def interpolate(self) -> None:
        studio, limits = self.server.studio, self.server.limits
        body = self._json_body()
        a, b = self._spec(body.get("a"), "a"), self._spec(body.get("b"), "b")
        count = integer(body.get("frames", 32), "frames", 2, limits.frames,
                        what=f"frames: from 2 to {limits.frames} frames per interpolation, "
                             f"got {body.get('frames')}")
        made = self.server.worker.call(lambda: studio.frames(a, b, count), limits.wait_s)
        for frame in made["frames"]:
            frame["url"] = f"/api/image/{frame['key']}"
            frame["download"] = frame["url"] + "?download=1"
            frame["name"] = (studio.images.get(frame["key"]) or (0, frame["key"]))[1]
        self._json(made)

    def image(self, key: str) -> None:
        item = self.server.studio.images.get(key)
        if item is None:
            raise StudioError("this image is no longer held (the studio keeps the most "
                              "recent ones): make it again", 404)
        self._file(*item)

    def upload(self) -> None:
        limits = self.server.limits
        name = unquote(self.headers.get("X-Filename", "") or "")[:200]
        data = self._body(limits.upload_bytes, f"upload{' ' + name if name else ''}")
        upload = self.server.studio.uploads.add(name, data)
        self._json(upload.to_json(), 201)

    def _settings(self, body: dict) -> dict:
        limits, defaults = self.server.limits, DEFAULTS
        return {"steps": integer(body.get("steps", defaults["steps"]), "steps", 1,
                                 limits.steps),
                "restarts": integer(body.get("restarts", defaults["restarts"]), "restarts",
                                    1, limits.restarts),
                "seed": integer(body.get("seed", 0), "seed", 0, SEED_MAX),
                "class_index": optional_class(body.get("class")),
                "feature_weight": number(body.get("feature_weight",
                                                  defaults["feature_weight"]),
                                         "feature_weight", 0, 100)}

    def _submit(self, kind: str, fn: Callable, total: int) -> None:
        job = self.server.worker.submit(kind, fn, total)
        self._json(self._job_json(job), 202)

    def project(self) -> None:
        studio = self.server.studio
        body = self._json_body()
        studio.needs("project")
        upload = studio.uploads.get(body.get("upload"))
        settings = self._settings(body)
        studio.check_class(settings["class_index"])
        self._submit("project", lambda job: studio.project(upload, job, **settings),
                     settings["steps"])

    def restore(self) -> None:
        studio = self.server.studio
        body = self._json_body()
        studio.needs("restore")
        upload = studio.uploads.get(body.get("upload"))
        mask = body.get("mask", "auto")
        if mask in (None, "none"):
            mask = None
        elif mask != "auto":
            mask = studio.uploads.get(mask, "mask upload")
        settings = self._settings(body)
        studio.check_class(settings["class_index"])
        self._submit("restore", lambda job: studio.restore(upload, mask, job, **settings),
                     settings["steps"])

    def translate(self) -> None:
        studio = self.server.studio
        body = self._json_body()
        studio.needs("translate")
        upload = studio.uploads.get(body.get("upload"))
        self._submit("translate", lambda job: studio.translate(upload, job), 1)

    def _job_json(self, job) -> dict:
        out = job.to_json()
        result = out.get("result")
        if isinstance(result, dict):
            result = dict(result)
            for field in _RESULT_FILES:
                key = result.get(field)
                if isinstance(key, str):
                    item = self.server.studio.images.get(key)
                    url = f"/api/image/{quote(key)}"
                    result[field] = {"url": url, "download": url + "?download=1",
                                     "name": item[1] if item else key}
            out["result"] = result
        return out

    def job(self, job_id: str) -> None:
        job = self.server.worker.job(job_id)
        if job is None:
            raise StudioError("no such job (the studio keeps the most recent ones)", 404)
        self._json(self._job_json(job))

    def cancel(self, job_id: str) -> None:
        job = self.server.worker.cancel(job_id)
        if job is None:
            raise StudioError("no such job", 404)
        self._json(self._job_json(job))


#: (path pattern, {method: handler name}); nothing else is served.
ROUTES: list[tuple[str, dict[str, str]]] = [
    (r"/", {"GET": "page"}),
    (r"/favicon\.ico", {"GET": "favicon"}),
    (r"/api/info", {"GET": "info"}),
    (r"/api/grid", {"POST": "grid"}),
    (r"/api/sample\.png", {"GET": "sample"}),
    (r"/api/interpolate", {"POST": "interpolate"}),
    (rf"/api/image/({_KEY})", {"GET": "image"}),
    (r"/api/upload", {"POST": "upload"}),
    (r"/api/project", {"POST": "project"}),
    (r"/api/restore", {"POST": "restore"}),
    (r"/api/translate", {"POST": "translate"}),
    (rf"/api/jobs/({_JOB})", {"GET": "job"}),
    (rf"/api/jobs/({_JOB})/cancel", {"POST": "cancel"}),
]
