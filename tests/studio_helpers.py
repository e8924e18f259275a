"""Shared pieces of the studio tests: trained runs, a server in a thread, and requests as
the page makes them."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import numpy as np
from PIL import Image

from artgan.studio import make_server
from artgan.studio.session import Studio

@contextmanager
def serving(studio: Studio, **settings):
    """``studio`` behind a real server on a free port, served from a thread."""
    server = make_server(studio, port=0, quiet=True, **settings)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(5)
        server.close()


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def error(self) -> str:
        return self.json()["error"]


def call(server, method: str, path: str, body=None, *, headers: dict | None = None,
         raw: bytes | None = None) -> Answer:
    """A request to ``server`` as its page makes them (JSON bodies, the POST header)."""
    sent = {"X-Artgan-Studio": "1"} if method == "POST" else {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data,
                                     method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def png(answer: Answer) -> Image.Image:
    assert answer.status == 200 and answer.headers["Content-Type"] == "image/png", \
        (answer.status, answer.body[:200])
    image = Image.open(io.BytesIO(answer.body))
    image.load()
    return image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def wait_job(server, job: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = call(server, "GET", f"/api/jobs/{job['id']}").json()
    return job


def upload(server, data: bytes, name: str = "picture.png") -> Answer:
    return call(server, "POST", "/api/upload", raw=data, headers={"X-Filename": name})


def png_file(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the API ------------------------------------------------------------------------------
