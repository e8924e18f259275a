"""The studio's API: what each route does with a request that passed the server's
checks (:mod:`artgan.studio.server`), and how the values the page sends are checked.

=======  ==========================  =================================================
GET      ``/``                       the page
GET      ``/api/info``               the model, its classes, the actions, the limits
POST     ``/api/grid``               ``{seed|null, n, class|null}``: a grid of samples
GET      ``/api/sample.png``         ``?seed&n&i&class``: one sample (``&download=1``)
POST     ``/api/interpolate``        ``{a, b, frames}``: slerp frames between two latents
GET      ``/api/image/KEY``          a frame or a result (``?download=1``)
POST     ``/api/upload``             the file as the body (``X-Filename``): an upload id
POST     ``/api/project``            ``{upload, steps, restarts, seed, class}``: a job
POST     ``/api/restore``            ``{upload, mask: auto|none|UPLOAD, ...}``: a job
POST     ``/api/translate``          ``{upload}``: a job
GET      ``/api/jobs/ID``            a job's state, progress and result
POST     ``/api/jobs/ID/cancel``     stop a job
=======  ==========================  =================================================

Errors are JSON ``{"error": message, "status": code}`` with a 4xx status.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any, Callable
from urllib.parse import quote, unquote

from . import StudioError
from .limits import DEFAULTS

SEED_MAX = 2**63 - 1
_KEY = r"[A-Za-z0-9-]{1,80}"
_JOB = r"[0-9a-f]{12}"
_RESULT_FILES = ("input", "reconstruction", "latent_file", "restored", "mask", "translated")


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


class Routes:
    """The route handlers, mixed into :class:`~artgan.studio.server.StudioHandler` (which
    provides ``server``, ``query``, ``_json_body``, ``_body``, ``_send``, ``_json`` and
    ``_file``)."""

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
