"""``artgan studio``'s page in a real headless Chromium (Debian's package), driven over
the DevTools pipe (tests/cdp.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from .cdp import CHROMIUM, Browser
from .studio_helpers import call, pixels

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian: apt-get "
                                    "install chromium) to run the page in")

GRID_LOADED = ("(function () { var im = document.querySelectorAll('#grid img');"
               " return im.length > 0 && Array.prototype.every.call(im, function (i) {"
               " return i.complete && i.naturalWidth === 16; }) && im.length; })()")


def different(a: bytes, b: bytes) -> float:
    """The mean absolute difference of two screenshots (0: identical)."""
    x, y = (pixels(Image.open(io.BytesIO(shot))) for shot in (a, b))
    assert x.shape == y.shape
    return float(np.abs(x - y).mean())


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium (Debian: apt-get install chromium) to run the page in")
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser, plain):
    tab = browser.page(f"http://127.0.0.1:{plain.port}/")
    tab.wait(GRID_LOADED)
    yield tab
    tab.close()


@needs_chromium
def test_browser_page_loads_and_new_seed_changes_the_grid(page):
    assert page.wait(GRID_LOADED) == 16
    assert "dcgan" in page.eval("document.getElementById('model').textContent")
    assert page.eval("document.getElementById('error').hidden") is True
    assert page.eval("document.getElementById('class-label').hidden") is True
    before_seed = page.eval("document.getElementById('seed').value")
    before = page.screenshot("#grid")
    page.click("#new-seed")
    page.wait(f"document.getElementById('seed').value !== {json.dumps(before_seed)}")
    page.wait(GRID_LOADED)
    after = page.screenshot("#grid")
    assert different(before, after) > 1.0
    command = page.eval("document.getElementById('command').textContent")
    seed = page.eval("document.getElementById('seed').value")
    assert f"--seed {seed} " in command and seed != before_seed


@needs_chromium
def test_browser_two_clicks_interpolate_and_the_slider_changes_the_image(page):
    page.click("#grid .tile:nth-child(1)")
    page.wait("document.querySelector('#grid .tile:nth-child(1)').dataset.pick === 'A'")
    page.click("#grid .tile:nth-child(2)")
    page.wait("!document.getElementById('slider').disabled")
    loaded = "(function () { var i = document.getElementById('frame');" \
             " return i.complete && i.naturalWidth === 16 && i.src; })()"
    first_src = page.wait(loaded)
    assert page.eval("document.querySelector('#grid .tile:nth-child(2)').dataset.pick") == "B"
    before = page.screenshot("#frame")
    page.eval("(function () { var s = document.getElementById('slider'); s.value = 0;"
              " s.dispatchEvent(new Event('input')); })()")
    page.wait(f"document.getElementById('frame').src !== {json.dumps(first_src)}")
    page.wait(loaded)
    after = page.screenshot("#frame")
    assert different(before, after) > 1.0
    assert page.eval("document.getElementById('frame-caption').textContent").startswith(
        "t = 0.00 (frame 1 of 32)")


@needs_chromium
def test_browser_download_gives_the_full_size_png(page, browser, tmp_path):
    browser.allow_downloads(tmp_path)
    since = len(browser.events)
    name = page.eval("document.querySelector('#grid .tile .dl').download")
    page.click("#grid .tile .dl")
    browser.wait_event("Browser.downloadProgress", lambda p: p.get("state") == "completed",
                       since=since)
    with Image.open(tmp_path / name) as image:
        assert image.format == "PNG" and image.size == (16, 16)


@needs_chromium
def test_browser_bad_upload_is_refused_with_the_reason(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image at all")
    page.set_files("#file", [bad])
    page.wait("!document.getElementById('error').hidden")
    message = page.eval("document.getElementById('error-text').textContent")
    assert message.startswith("notes.png is not an image"), message


@needs_chromium
def test_browser_project_shows_the_reconstruction(page, plain, tmp_path):
    picture = tmp_path / "mine.png"
    picture.write_bytes(call(plain, "GET", "/api/sample.png?seed=2&n=1&i=0").body)
    page.set_files("#file", [picture])
    page.wait("document.getElementById('progress-text').textContent.indexOf('16 x 16') >= 0")
    page.eval("document.getElementById('steps').value = 20")
    page.click("#project")
    page.wait("(function () { var i = document.querySelector('#result img[alt=reconstruction]');"
              " return i && i.complete && i.naturalWidth === 16; })()", timeout=60)
    assert "PSNR" in page.eval("document.getElementById('result').textContent")
    assert page.eval("document.getElementById('error').hidden") is True
