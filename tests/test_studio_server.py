"""``artgan studio``'s server: bounds and bad requests, cross-site and rebinding
requests, upload checks, the token off loopback, safe names and the command itself."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest

from artgan.studio import is_loopback, make_server, token_matches
from artgan.studio.limits import Limits
from artgan.studio.session import Studio
from artgan.studio.store import safe_name

from .helpers import artgan as run_cli
from .studio_helpers import call, png_file, serving, upload



def test_bounds_and_bad_requests(plain):
    for body, status, message in (
            ({"n": 65}, 400, "n: at most 64 images per grid, got 65"),
            ({"n": 0}, 400, "at most 64"), ({"n": "ten"}, 400, "n must be a whole number"),
            ({"n": True}, 400, "whole number"), ({"seed": -1}, 400, "seed must be from 0"),
            ({"class": "waves"}, 400, "class must be a whole number")):
        answer = call(plain, "POST", "/api/grid", body)
        assert answer.status == status and message in answer.error, (body, answer.body)
    assert call(plain, "GET", "/api/sample.png?seed=1&n=65&i=0").status == 400
    assert call(plain, "GET", "/api/sample.png?seed=1&n=4").status == 400  # no i
    answer = call(plain, "POST", "/api/grid", raw=b"{nope", headers={"Content-Type":
                                                                     "application/json"})
    assert answer.status == 400 and "not valid JSON" in answer.error
    answer = call(plain, "POST", "/api/grid", raw=b"[1, 2]",
                  headers={"Content-Type": "application/json"})
    assert answer.status == 400 and answer.error == "the request must be a JSON object"
    answer = call(plain, "POST", "/api/grid", raw=b'{"n": 4}', headers={"Content-Type":
                                                                       "text/plain"})
    assert answer.status == 415
    big = json.dumps({"n": 4, "pad": "x" * 70_000}).encode()
    answer = call(plain, "POST", "/api/grid", raw=big,
                  headers={"Content-Type": "application/json"})
    assert answer.status == 413 and "at most 65536" in answer.error
    # only known routes: no files, no traversal
    for path in ("/nope", "/api/nope", "/../../etc/passwd", "/api/image/..%2F..%2Fetc",
                 "/api/image/../session.py", "/page.html", "/artgan/studio/page.html"):
        answer = call(plain, "GET", path)
        assert answer.status == 404, path
    assert call(plain, "GET", "/api/nope").error == "no such page: /api/nope"
    assert call(plain, "GET", "/nope").body.startswith(b"404 Not Found: no such page")
    answer = call(plain, "GET", "/api/grid")
    assert answer.status == 405 and "use POST" in answer.error
    assert call(plain, "PUT", "/api/upload", raw=b"x").status == 405
    assert call(plain, "GET", "/api/image/f-nothing-0").status == 404
    assert call(plain, "GET", "/api/jobs/0123456789ab").status == 404


def test_cross_site_and_rebinding_requests_are_refused(plain):
    answer = call(plain, "POST", "/api/grid", {"n": 1}, headers={"X-Artgan-Studio": "0"})
    assert answer.status == 403 and "X-Artgan-Studio" in answer.error
    answer = call(plain, "POST", "/api/grid", {"n": 1},
                  headers={"Origin": "http://evil.example"})
    assert answer.status == 403 and "another site" in answer.error
    answer = call(plain, "GET", "/api/info", headers={"Host": "evil.example:80"})
    assert answer.status == 403 and "127.0.0.1" in answer.error
    assert call(plain, "GET", "/api/info", headers={"Host": f"localhost:{plain.port}"}
                ).status == 200
    own = f"http://127.0.0.1:{plain.port}"
    assert call(plain, "POST", "/api/grid", {"n": 1, "seed": 0},
                headers={"Origin": own}).status == 200


def test_uploads_are_checked(plain):
    answer = upload(plain, b"hello, this is text", "notes.png")
    assert answer.status == 400 and answer.error.startswith("notes.png is not an image")
    assert upload(plain, b"", "empty.png").status == 400
    fine = upload(plain, png_file(np.full((20, 30, 3), 128)), "../../etc/My picture!.png")
    assert fine.status == 201
    assert fine.json()["name"] == "My_picture_.png" and fine.json()["width"] == 30

    def header_only(width, height):  # a PNG whose header claims a huge picture
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk +
                struct.pack(">I", zlib.crc32(chunk)) + struct.pack(">I", 0) + b"IEND" +
                struct.pack(">I", zlib.crc32(b"IEND")))

    answer = upload(plain, header_only(6000, 6000), "bomb.png")
    assert answer.status == 413 and "6000x6000 px (36 MP)" in answer.error
    answer = upload(plain, header_only(100_000, 100_000), "bomb.png")
    assert answer.status == 413 and "too large" in answer.error
    # no Content-Length: refused, not read
    connection = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
    connection.putrequest("POST", "/api/upload")
    connection.putheader("X-Artgan-Studio", "1")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"5\r\nhello\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 411 and b"Content-Length" in response.read()
    connection.close()


def test_too_large_an_upload_is_413(runs):
    limits = Limits(upload_bytes=1000)
    with serving(Studio.load(runs["plain"], device="cpu", limits=limits)) as server:
        answer = upload(server, b"\0" * 5000, "big.png")
        assert answer.status == 413
        assert answer.error == "the upload big.png is 5000 bytes; at most 1000 are accepted"
        assert upload(server, png_file(np.zeros((8, 8, 3))), "ok.png").status == 201
    assert not server.studio.uploads.folder.exists()  # uploads deleted with the studio


def test_the_token_off_loopback(runs):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")
    assert not is_loopback("::") and not is_loopback("192.168.1.20")
    assert not is_loopback("example.org")
    assert token_matches(None, None) and token_matches("anything", None)
    assert token_matches("s3cret", "s3cret") and not token_matches("s3cre", "s3cret")
    assert not token_matches(None, "s3cret") and not token_matches("", "s3cret")
    assert not token_matches("s3cret\u00e9", "s3cret")
    studio = Studio.load(runs["plain"], device="cpu")
    server = make_server(studio, host="0.0.0.0", port=0, quiet=True)  # bound, never served
    try:
        assert server.token and len(server.token) >= 32
        assert server.url.endswith(f":{server.port}/?token={server.token}")
    finally:
        server.close()
    # the same checks on a loopback server given a token
    with serving(Studio.load(runs["plain"], device="cpu"), token="s3cret") as server:
        answer = call(server, "GET", "/api/info")
        assert answer.status == 403 and "?token=" in answer.error
        assert call(server, "GET", "/").status == 403
        assert call(server, "GET", "/?token=wrong").status == 403
        page = call(server, "GET", "/?token=s3cret")
        assert page.status == 200
        cookie = page.headers["Set-Cookie"]
        assert cookie.startswith(f"artgan_studio_{server.port}=s3cret;")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert call(server, "GET", "/api/info", headers={
            "Cookie": cookie.split(";")[0]}).json()["token_required"] is True
        assert call(server, "GET", "/api/info", headers={"X-Artgan-Token": "s3cret"}
                    ).status == 200
        assert call(server, "GET", "/api/sample.png?seed=1&n=1&i=0&token=s3cret").status == 200


def test_safe_names():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\cat.jpg") == "cat.jpg"
    assert safe_name("..") == "upload" and safe_name(".hidden") == "hidden"
    assert safe_name("a b/c d?.png") == "c_d_.png" and len(safe_name("x" * 500)) == 80


# -- the command (its --help: tests/test_cli_startup.py) ---------------------------------
def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_the_command_starts_prints_its_address_and_stops_on_ctrl_c(runs):
    # faulthandler: should it hang, SIGABRT makes it print every thread's stack
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    # started with SIGINT ignored, as a script's background job is: it must stop anyway
    process = subprocess.Popen([sys.executable, "-m", "artgan", "studio", "--ckpt",
                                str(runs["plain"]), "--port", "0", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, preexec_fn=_ignore_sigint)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith("artgan studio: dcgan, 16 px, from "), lines
        url = re.search(r"Open (http://127\.0\.0\.1:\d+/) in a browser", lines[1]).group(1)
        with urllib.request.urlopen(url + "api/info", timeout=20) as response:
            assert json.load(response)["generator"] == "dcgan"
        process.send_signal(signal.SIGINT)
        try:  # about 1.5 s on an idle machine, 3 s under load
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            out, err = process.communicate(timeout=30)
            pytest.fail(f"the studio did not stop within 60 s of Ctrl-C; its threads:\n"
                        f"{err[-4000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip().endswith("Studio stopped.") and "Traceback" not in err


def test_a_port_in_use_is_a_one_line_error(runs, plain):
    result = run_cli("studio", "--ckpt", runs["plain"], "--port", plain.port, "--device",
                     "cpu", expect=2)
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{plain.port}: ")
    assert "--port 0 picks a free one" in result.output and result.output.count("\n") == 1


# -- in a real browser --------------------------------------------------------------------
