"""Drive a headless Chromium from tests: the DevTools protocol over a pipe, stdlib only.

``chromium --remote-debugging-pipe`` reads protocol messages (JSON, each ended by a NUL
byte) on file descriptor 3 and writes its answers and events on 4, as Puppeteer's
``pipe: true`` does. That needs neither a WebDriver binary matched to the browser's
version nor a websocket client, only Debian's ``chromium`` package.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                   "/usr/bin/chromium") if path and os.path.exists(path)), None)

# without the background-networking flags its connections are refused here and it waits
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
         "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe"]


class CDPError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One Chromium process; :meth:`page` opens a tab."""

    def __init__(self, profile: str | os.PathLike, *, binary: str | None = None,
                 size: tuple[int, int] = (1100, 1300)):
        binary = binary or CHROMIUM
        if binary is None:
            raise CDPError("no chromium found")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def plumb():  # in the child: its fd 3 reads our commands, fd 4 writes to us
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={size[0]},{size[1]}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=plumb, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._answers: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._lock = threading.Lock()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float = 30) -> dict:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            message = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise CDPError(f"{method}: no answer from chromium")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def wait_event(self, method: str, predicate: Callable[[dict], bool] = lambda p: True,
                   *, timeout: float = 15, since: int = 0) -> dict:
        """The params of the first event ``method`` (from index ``since``) that passes
        ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event["method"] == method and predicate(event.get("params", {})):
                        return event["params"]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"no {method} event within {timeout} s")
                self._cond.wait(left)

    def page(self, url: str, *, size: tuple[int, int] = (1100, 1300)) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        page = Page(self, session, target)
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.send("Emulation.setDeviceMetricsOverride", {"width": size[0], "height": size[1],
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False})
        page.navigate(url)
        return page

    def allow_downloads(self, folder: str | os.PathLike) -> None:
        self.send("Browser.setDownloadBehavior", {"behavior": "allow",
                                                  "downloadPath": str(folder),
                                                  "eventsEnabled": True})

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


class Page:
    """One tab of a :class:`Browser` (a flattened session)."""

    def __init__(self, browser: Browser, session: str, target: str):
        self.browser, self.session, self.target = browser, session, target

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def navigate(self, url: str, timeout: float = 20) -> None:
        since = len(self.browser.events)
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", timeout=timeout, since=since)

    def eval(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True,
                                                "awaitPromise": await_promise})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{expression[:60]}: {text}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 15, interval: float = 0.05) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"still false after {timeout} s: {expression}")
            time.sleep(interval)

    def click(self, selector: str) -> None:
        """A real mouse click (pressed, released) at the middle of the element."""
        box = self.eval(f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
                        f" if (!e) return null; e.scrollIntoView({{block: 'center'}});"
                        f" var r = e.getBoundingClientRect();"
                        f" return [r.left + r.width / 2, r.top + r.height / 2]; }})()")
        if box is None:
            raise CDPError(f"no element {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def set_files(self, selector: str, paths: list[str | os.PathLike]) -> None:
        """Choose files in an ``<input type=file>`` (fires its change event)."""
        found = self.send("Runtime.evaluate", {"expression":
                                               f"document.querySelector({json.dumps(selector)})"})
        self.send("DOM.setFileInputFiles", {"files": [str(p) for p in paths],
                                            "objectId": found["result"]["objectId"]})

    def screenshot(self, selector: str | None = None) -> bytes:
        """A PNG of the viewport, or of one element."""
        params: dict[str, Any] = {"format": "png"}
        if selector:
            rect = self.eval(f"(function () {{ var r = document.querySelector("
                             f"{json.dumps(selector)}).getBoundingClientRect();"
                             f" return [r.left + scrollX, r.top + scrollY, r.width, r.height];"
                             f" }})()")
            params["clip"] = {"x": rect[0], "y": rect[1], "width": max(rect[2], 1),
                              "height": max(rect[3], 1), "scale": 1}
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])


def save(png: bytes, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.write_bytes(png)
    return path
