"""``artgan studio``: the JSON API with a real server in a thread, its bounds and checks,
the worker and the CLI (the page in a real browser: tests/test_studio_browser.py)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from PIL import Image

import artgan.components as components
from artgan.studio import StudioError, is_loopback, make_server, token_matches
from artgan.studio.limits import Limits
from artgan.studio.session import Studio
from artgan.studio.store import safe_name
from artgan.studio.worker import Worker

from .helpers import artgan as run_cli
from .studio_helpers import call, pixels, png, png_file, serving, upload, wait_job



def test_page_and_info(plain):
    page = call(plain, "GET", "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert "script-src 'sha256-" in csp and "connect-src 'self'" in csp
    # self-contained: no other origin, no script or style files, no inline handlers
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert not re.search(r"<(link|iframe|object|embed)\b", html)
    assert not re.search(r"\son[a-z]+=", html) and not re.search(r'\sstyle="', html)
    assert html.count("<script>") == 1 and html.count("<style>") == 1
    info = call(plain, "GET", "/api/info").json()
    assert info["generator"] == "dcgan" and info["resolution"] == 16
    assert info["mode"] == "noise" and info["conditional"] is False and info["classes"] == []
    assert info["actions"] == ["grid", "interpolate", "project", "restore"]
    assert info["limits"]["grid"] == 64 and info["token_required"] is False
    assert call(plain, "HEAD", "/api/info").body == b""


def test_a_grid_is_what_artgan_sample_writes(plain, runs, tmp_path):
    answer = call(plain, "POST", "/api/grid", {"seed": 5, "n": 4})
    grid = answer.json()
    assert answer.status == 200 and grid["seed"] == 5 and len(grid["samples"]) == 4
    assert grid["command"].startswith(f"artgan sample --ckpt {runs['plain']} -n 4 --seed 5")
    run_cli("sample", "--ckpt", runs["plain"], "-n", 4, "--seed", 5, "--out", tmp_path / "s",
            "--device", "cpu")
    for sample in grid["samples"]:
        image = png(call(plain, "GET", sample["url"]))
        assert image.size == (16, 16) and image.mode == "RGB"
        cli = Image.open(tmp_path / "s" / f"sample-{sample['i']:04d}.png")
        assert np.array_equal(pixels(image), pixels(cli)), sample["i"]
        assert sample["spec"] == {"seed": 5, "n": 4, "i": sample["i"], "class": None}
    first = grid["samples"][0]
    # the same seed again: the same bytes; a URL that is not cached is made again
    assert call(plain, "POST", "/api/grid", {"seed": 5, "n": 4}).json()["samples"] == \
        grid["samples"]
    again = call(plain, "GET", "/api/sample.png?seed=5&n=4&i=3")
    assert again.body == call(plain, "GET", grid["samples"][3]["url"]).body
    fresh = png(call(plain, "GET", "/api/sample.png?seed=77&n=2&i=1"))
    assert fresh.size == (16, 16)
    # download: the full-size PNG as an attachment
    download = call(plain, "GET", first["download"])
    assert download.headers["Content-Disposition"] == \
        f'attachment; filename="{first["name"]}"' and first["name"] == "seed5-n4-0000.png"
    assert download.body == call(plain, "GET", first["url"]).body
    # a new seed when none is given
    seeds = {call(plain, "POST", "/api/grid", {"seed": None, "n": 1}).json()["seed"]
             for _ in range(3)}
    assert len(seeds) > 1


def test_class_picker(cgan, plain):
    info = call(cgan, "GET", "/api/info").json()
    assert info["conditional"] and info["classes"] == ["mondrian", "kandinsky", "stripes",
                                                      "waves", "rothko"]
    cycled = call(cgan, "POST", "/api/grid", {"seed": 1, "n": 6}).json()
    assert [s["label"] for s in cycled["samples"]] == info["classes"] + ["mondrian"]
    waves = call(cgan, "POST", "/api/grid", {"seed": 1, "n": 6, "class": 3}).json()
    assert {s["label"] for s in waves["samples"]} == {"waves"}
    assert waves["command"].endswith("--class waves --out samples")
    assert waves["samples"][0]["name"] == "seed1-n6-0000-waves.png"
    a = pixels(png(call(cgan, "GET", cycled["samples"][0]["url"])))
    b = pixels(png(call(cgan, "GET", waves["samples"][0]["url"])))
    assert np.abs(a - b).max() > 0  # same latent, another class
    bad = call(cgan, "POST", "/api/grid", {"seed": 1, "n": 6, "class": 9})
    assert bad.status == 400 and "mondrian, kandinsky, stripes, waves, rothko" in bad.error
    bad = call(plain, "POST", "/api/grid", {"seed": 1, "n": 6, "class": 0})
    assert bad.status == 400 and "unconditional" in bad.error


def test_interpolation_frames(plain, cgan):
    a, b = {"seed": 5, "n": 4, "i": 0, "class": None}, {"seed": 5, "n": 4, "i": 1, "class": None}
    made = call(plain, "POST", "/api/interpolate", {"a": a, "b": b, "frames": 8}).json()
    frames = made["frames"]
    assert [f["t"] for f in frames] == pytest.approx([k / 7 for k in range(8)])
    images = [pixels(png(call(plain, "GET", f["url"]))) for f in frames]
    ends = [pixels(png(call(plain, "GET", f"/api/sample.png?seed=5&n=4&i={i}"))) for i in (0, 1)]
    assert np.abs(images[0] - ends[0]).max() <= 1 and np.abs(images[-1] - ends[1]).max() <= 1
    steps = [np.abs(images[k + 1] - images[k]).mean() for k in range(7)]
    assert all(s > 0 for s in steps) and np.abs(images[0] - images[-1]).mean() > max(steps)
    assert made["notes"] == [] and made["from"] == "sample 0 of seed 5"
    download = call(plain, "GET", frames[3]["download"])
    assert download.headers["Content-Disposition"].startswith("attachment; filename=")
    # classes have no in-between: they switch halfway, and the page is told
    ya, yb = dict(a, **{"class": 0}), dict(b, **{"class": 2})
    made = call(cgan, "POST", "/api/interpolate", {"a": ya, "b": yb, "frames": 4}).json()
    assert "changes from mondrian to stripes halfway" in made["notes"][0]
    for frames_asked, message in ((1, "from 2 to 128 frames"), (129, "from 2 to 128 frames"),
                                  ("many", "whole number")):
        bad = call(plain, "POST", "/api/interpolate", {"a": a, "b": b, "frames": frames_asked})
        assert bad.status == 400 and message in bad.error
    bad = call(plain, "POST", "/api/interpolate", {"a": dict(a, i=4), "b": b})
    assert bad.status == 400 and bad.error == "a.i must be from 0 to 3, got 4"
    bad = call(plain, "POST", "/api/interpolate", {"a": {"projection": "0123456789ab"}, "b": b})
    assert bad.status == 404 and "project it again" in bad.error


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


def test_project_an_upload_then_interpolate_from_it(plain, tmp_path):
    target = call(plain, "GET", "/api/sample.png?seed=9&n=1&i=0").body
    up = upload(plain, target, "mine.png").json()
    job = call(plain, "POST", "/api/project", {"upload": up["upload"], "steps": 30,
                                               "restarts": 2})
    assert job.status == 202 and job.json()["state"] in ("queued", "running")
    done = wait_job(plain, job.json())
    assert done["state"] == "done" and done["done"] == done["total"] == 30, done
    result = done["result"]
    assert png(call(plain, "GET", result["reconstruction"]["url"])).size == (16, 16)
    assert result["psnr"] > 10 and result["reconstruction"]["name"] == \
        "mine-reconstruction.png"
    assert "resized" in result["notes"][0] or "used" in result["notes"][0]
    latent = call(plain, "GET", result["latent_file"]["download"])
    assert latent.headers["Content-Disposition"] == 'attachment; filename="mine-latent.pt"'
    (tmp_path / "latent.pt").write_bytes(latent.body)
    from artgan.restoration.projection import load_latent

    assert load_latent(tmp_path / "latent.pt", plain.studio.G).z.shape == (1, 16)
    made = call(plain, "POST", "/api/interpolate",
                {"a": result["latent"], "b": {"seed": 9, "n": 1, "i": 0}, "frames": 3})
    assert made.status == 200 and made.json()["from"] == "your projected picture"
    for body, message in (({"upload": "ffffffffffff"}, "no such upload"),
                          ({"upload": up["upload"], "steps": 0}, "steps must be from 1"),
                          ({"upload": up["upload"], "restarts": 99}, "restarts must be"),
                          ({"upload": up["upload"], "feature_weight": -1}, "feature_weight")):
        answer = call(plain, "POST", "/api/project", body)
        assert answer.status in (400, 404) and message in answer.error, answer.body


def test_restore_with_the_automatic_mask_or_a_mask_file(plain):
    picture = np.asarray(png(call(plain, "GET", "/api/sample.png?seed=3&n=1&i=0"))
                         .resize((32, 32), Image.Resampling.NEAREST)).copy()
    damaged = picture.copy()
    damaged[10:16, 12:19] = 255
    up = upload(plain, png_file(damaged), "torn.png").json()
    job = call(plain, "POST", "/api/restore", {"upload": up["upload"], "mask": "auto",
                                               "steps": 5, "restarts": 1}).json()
    done = wait_job(plain, job)
    assert done["state"] == "done", done
    result = done["result"]
    restored = np.asarray(png(call(plain, "GET", result["restored"]["url"])))
    assert restored.shape == (32, 32, 3) and result["damaged"] > 42
    far = np.ones((32, 32), bool)
    far[0:28, 0:30] = False
    assert np.array_equal(restored[far], damaged[far])  # untouched away from the hole
    assert (restored[10:16, 12:19] != 255).any()
    assert "white region" in result["regions"][0]
    # a mask file of the wrong size: the job fails with the reason
    mask = upload(plain, png_file(np.zeros((8, 8, 3))), "mask.png").json()
    done = wait_job(plain, call(plain, "POST", "/api/restore", {
        "upload": up["upload"], "mask": mask["upload"], "steps": 5}).json())
    assert done["state"] == "failed" and "the mask mask.png is 8x8 px" in done["error"]
    clean = upload(plain, png_file(np.full((32, 32, 3), 120)), "clean.png").json()
    done = wait_job(plain, call(plain, "POST", "/api/restore", {
        "upload": clean["upload"], "mask": "auto", "steps": 5}).json())
    assert done["state"] == "failed" and "found no damage in clean.png" in done["error"]
    answer = call(plain, "POST", "/api/restore", {"upload": up["upload"], "mask": "none"})
    done = wait_job(plain, answer.json())
    assert done["state"] == "failed" and "automatic mask or upload a mask" in done["error"]


def test_a_long_job_leaves_the_page_responsive_and_can_be_cancelled(plain):
    target = call(plain, "GET", "/api/sample.png?seed=4&n=1&i=0").body
    up = upload(plain, target, "slow.png").json()
    job = call(plain, "POST", "/api/project", {"upload": up["upload"], "steps": 2000,
                                               "restarts": 16}).json()
    started = time.monotonic()
    grid = call(plain, "POST", "/api/grid", {"seed": 123, "n": 9})
    assert grid.status == 200 and time.monotonic() - started < 10
    state = call(plain, "GET", f"/api/jobs/{job['id']}").json()
    assert state["state"] in ("queued", "running") and state["done"] < 2000, state
    cancelled = call(plain, "POST", f"/api/jobs/{job['id']}/cancel", {}).json()
    assert cancelled["id"] == job["id"]
    assert wait_job(plain, cancelled, timeout=20)["state"] == "cancelled"


def test_worker_runs_quick_jobs_between_the_steps_of_a_long_one():
    worker = Worker(queued_jobs=2).start()
    try:
        release, order = threading.Event(), []

        def long(job):
            for _ in range(200):
                if release.is_set():
                    break
                time.sleep(0.01)
                job.advance()
            order.append("long")
            return {"ok": True}

        job = worker.submit("project", long, total=200)
        order.append(worker.call(lambda: "quick", timeout=5))
        release.set()
        deadline = time.monotonic() + 5
        while job.state != "done" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert order == ["quick", "long"] and job.result == {"ok": True}
        with pytest.raises(ValueError, match="boom"):  # a quick job's error reaches the caller
            worker.call(lambda: (_ for _ in ()).throw(ValueError("boom")))
        blocker = threading.Event()
        slow = [worker.submit("project", lambda j: blocker.wait(5)) for _ in range(2)]
        with pytest.raises(StudioError) as info:
            worker.submit("project", lambda j: None)
        assert info.value.status == 503 and "wait for one to finish" in str(info.value)
        blocker.set()
        assert slow
    finally:
        worker.stop()
    assert not worker.alive


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


def test_image_to_image_checkpoints_offer_only_their_upload_action():
    restorer = components.build("generator", "unet", {"ngf": 4}, resolution=16, channels=3,
                                condition_channels=4).eval()
    with serving(Studio(restorer, None, [], checkpoint="restorer.pt")) as server:
        info = call(server, "GET", "/api/info").json()
        assert info["mode"] == "restorer" and info["actions"] == ["restore"]
        assert "no samples to show" in info["notes"][0]
        answer = call(server, "POST", "/api/grid", {"n": 4})
        assert answer.status == 400 and "needs a generator that samples from noise" in \
            answer.error and "image-to-image restorer" in answer.error
        up = upload(server, png_file(np.full((24, 40, 3), 90)), "old.png").json()
        assert call(server, "POST", "/api/project", {"upload": up["upload"]}).status == 400
        done = wait_job(server, call(server, "POST", "/api/restore",
                                     {"upload": up["upload"], "mask": "none"}).json())
        assert done["state"] == "done", done
        assert png(call(server, "GET", done["result"]["restored"]["url"])).size == (40, 24)
        assert done["result"]["notes"] == ["the restorer found the damage itself (no mask)"]
    translator = components.build("generator", "cyclegan", {}, resolution=16, channels=3,
                                  condition_channels=3).eval()
    with serving(Studio(translator, None, [], checkpoint="styles.pt")) as server:
        assert call(server, "GET", "/api/info").json()["actions"] == ["translate"]
        up = upload(server, png_file(np.full((20, 20, 3), 90)), "photo.png").json()
        done = wait_job(server, call(server, "POST", "/api/translate",
                                     {"upload": up["upload"]}).json())
        assert done["state"] == "done" and done["result"]["translated"]["name"] == \
            "photo-translated.png"


def test_safe_names():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\cat.jpg") == "cat.jpg"
    assert safe_name("..") == "upload" and safe_name(".hidden") == "hidden"
    assert safe_name("a b/c d?.png") == "c_d_.png" and len(safe_name("x" * 500)) == 80


# -- the command ------------------------------------------------------------------------

def test_studio_help_does_not_import_torch():
    probe = ("import sys\nfrom artgan.cli import cli\n"
             "cli.main(['studio', '--help'], prog_name='artgan', standalone_mode=False)\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "artgan studio [OPTIONS]" in out and "--host" in out and "--port" in out
    assert out.strip().endswith("NO TORCH"), out


def test_the_command_starts_prints_its_address_and_stops_on_ctrl_c(runs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "artgan", "studio", "--ckpt",
                                str(runs["plain"]), "--port", "0", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith("artgan studio: dcgan, 16 px, from "), lines
        url = re.search(r"Open (http://127\.0\.0\.1:\d+/) in a browser", lines[1]).group(1)
        with urllib.request.urlopen(url + "api/info", timeout=20) as response:
            assert json.load(response)["generator"] == "dcgan"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
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
