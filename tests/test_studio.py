"""``artgan studio``: the JSON API with a real server in a thread and the worker (its
bounds, checks and CLI: tests/test_studio_server.py; the page in a real browser:
tests/test_studio_browser.py)."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

import artgan.components as components
from artgan.studio import StudioError
from artgan.studio.session import Studio
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
