"""Take docs/images/studio.png: the studio page on a real checkpoint, in headless Chromium.

    PYTHONPATH=. python docs/images/studio_screenshot.py --ckpt runs/demo-cgan

The README's picture came from ``artgan run --gen cgan --epochs 30`` (the demo art at
32 px, about 15 minutes on 2 busy CPU cores). The script starts a studio on a free port,
loads the page, picks two samples, moves the interpolation slider halfway and saves the
page down to the interpolation, reduced to a 256-colour palette so the PNG stays small.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from artgan.studio import make_server  # noqa: E402
from artgan.studio.session import Studio  # noqa: E402
from tests.cdp import Browser  # noqa: E402

GRID = ("document.querySelectorAll('#grid img').length > 0 && Array.prototype.every.call("
        "document.querySelectorAll('#grid img'), function (i) {"
        " return i.complete && i.naturalWidth > 0; })")
FRAME = "document.getElementById('frame').complete && document.getElementById('frame').naturalWidth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "studio.png"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pick", type=int, nargs=2, default=(2, 11))
    parser.add_argument("--size", type=int, nargs=2, default=(1000, 1150))
    args = parser.parse_args()

    server = make_server(Studio.load(args.ckpt, device="cpu"), port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(profile, size=tuple(args.size))
        try:
            page = browser.page(f"http://127.0.0.1:{server.port}/", size=tuple(args.size))
            page.wait(GRID)
            page.eval(f"document.getElementById('seed').value = {args.seed};"
                      f" document.getElementById('show').click()")
            page.wait(f"document.getElementById('command').textContent.indexOf("
                      f"'--seed {args.seed} ') >= 0 && {GRID}")
            for index in args.pick:
                page.click(f"#grid .tile:nth-child({index + 1})")
            page.wait("!document.getElementById('slider').disabled")
            page.wait(FRAME)
            page.eval("document.activeElement.blur(); window.scrollTo(0, 0)")
            page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 2})
            shot = page.screenshot()
            bottom = page.eval("document.getElementById('interpolation')"
                               ".getBoundingClientRect().bottom")
        finally:
            browser.close()
            server.shutdown()
            server.close()
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, round(bottom) + 12)))
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
