"""The model behind the studio page and everything it makes.

A sample is named by ``(seed, n, i, class)``: image ``i`` of ``artgan sample --ckpt RUN
-n N --seed SEED [--class NAME]`` (latents :func:`~artgan.core.sampling.latents` of the
seed, labels cycling through the classes unless one is chosen), so any picture on the
page can be made again from the command line. Interpolation frames are the generator at
:func:`~artgan.core.walk.slerp` of two latents (a sample's, or a projected picture's).

The methods that touch the generator run on the :class:`~artgan.studio.worker.Worker`
thread only; the server hands them over.
"""

from __future__ import annotations

import io
import secrets
import shlex
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.sampling import (class_labels, cycled_labels, latents, load_generator,
                             sample_images)
from ..core.walk import slerp
from ..plugin_host import get_registry
from ..restoration import RestoreError
from ..restoration.images import (check_model_channels, fit_square, pil_image, read_image,
                                  to_channels, to_pixels, to_tensor)
from ..restoration.inpaint import plan_crops
from ..restoration.inpaint import restore as restore_picture
from ..restoration.masks import auto_mask, check_mask, load_mask
from ..restoration.projection import (Projection, discriminator_features, generate,
                                      save_latent)
from ..restoration.projection import project as project_picture
from ..translation import TranslationError, translate_image, translator
from . import StudioError
from .limits import DEFAULTS, Limits
from .store import ImageStore, Upload, Uploads, safe_name, web_message
from .worker import Job

FEATHER, CONTEXT = 6, 0.5  # restore's seam and context, as `artgan restore`
KEPT_LATENTS = 64


def png_bytes(image: torch.Tensor, alpha: np.ndarray | None = None) -> bytes:
    """One image (C, H, W) in [-1, 1] as PNG bytes, 8 bit as ``artgan sample`` writes
    them (x -> floor(255 (x + 1) / 2 + 0.5)); grey stays grey (L)."""
    values = image.detach().float().cpu().add(1).div(2).clamp(0, 1).mul(255).add(0.5)
    array = values.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return pixels_png(array, alpha)


def pixels_png(pixels: np.ndarray, alpha: np.ndarray | None = None) -> bytes:
    """(H, W, C) uint8 (and alpha) as PNG bytes."""
    buffer = io.BytesIO()
    pil_image(np.ascontiguousarray(pixels), alpha).save(buffer, format="PNG")
    return buffer.getvalue()


class Studio:
    """A loaded generator, what it has made for the page, and the uploads."""

    def __init__(self, G, config, class_names: list[str], *, checkpoint: str | Path,
                 limits: Limits | None = None, ema: bool = True, registry=None):
        self.G, self.config, self.checkpoint = G, config, Path(checkpoint)
        self.limits = limits or Limits()
        self.ema, self.registry = ema, registry
        self.class_names = list(class_names) or [str(i) for i in range(G.num_classes)]
        self.mode = self._mode()
        try:
            check_model_channels(G.channels, G.who)
        except RestoreError as exc:
            raise StudioError(str(exc)) from None
        self.images = ImageStore(self.limits.image_cache_bytes)
        self.uploads = Uploads(self.limits.uploads_kept, self.limits.upload_pixels)
        self._latents: dict[str, tuple[torch.Tensor, int | None]] = {}
        self._features: tuple[Any, str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, ckpt: str | Path, *, device: str = "auto", ema: bool = True,
             limits: Limits | None = None) -> "Studio":
        """Load the checkpoint's generator (EMA weights unless ``ema=False``)."""
        registry = get_registry()
        G, config, class_names = load_generator(ckpt, registry, device=device, ema=ema)
        return cls(G, config, class_names, checkpoint=ckpt, limits=limits, ema=ema,
                   registry=registry)

    def _mode(self) -> str:
        """``noise`` (a generator: every action), ``restorer`` or ``translator`` (an
        image-to-image network: only its upload action)."""
        G = self.G
        if not G.image_conditioned:
            return "noise"
        if G.condition_channels == G.channels + 1:
            return "restorer"
        try:
            translator(G)
        except TranslationError as exc:
            raise StudioError(f"{exc}; the studio samples from generators that draw from "
                              f"noise, and runs restorers and translators") from None
        return "translator"

    @property
    def actions(self) -> list[str]:
        return {"noise": ["grid", "interpolate", "project", "restore"],
                "restorer": ["restore"], "translator": ["translate"]}[self.mode]

    def close(self) -> None:
        self.uploads.close()

    # -- what the page needs to know -----------------------------------------------------
    def info(self) -> dict:
        G = self.G
        notes = []
        if self.mode == "restorer":
            notes.append(f"{G.component_name} is an image-to-image restorer: it repairs "
                         f"pictures rather than drawing new ones from noise, so there are "
                         f"no samples to show; upload a damaged picture to restore it")
        elif self.mode == "translator":
            notes.append(f"{G.component_name} is an image-to-image translator: it restyles "
                         f"pictures rather than drawing new ones from noise, so there are "
                         f"no samples to show; upload a picture to translate it")
        return {
            "checkpoint": self.checkpoint.name, "generator": G.component_name,
            "resolution": G.resolution, "channels": G.channels,
            "z_dim": getattr(G, "z_dim", 0), "conditional": bool(G.conditional),
            "classes": self.class_names if G.conditional else [],
            "mode": self.mode, "actions": self.actions, "ema": self.ema,
            "limits": self.limits.to_json(), "defaults": DEFAULTS, "notes": notes,
        }

    def needs(self, action: str) -> None:
        if action not in self.actions:
            what = {"restorer": "an image-to-image restorer", "translator":
                    "an image-to-image translator"}.get(self.mode, self.mode)
            raise StudioError(f"this checkpoint holds {what} ({self.G.component_name}); "
                              f"{action} needs a generator that samples from noise "
                              f"(this studio offers: {', '.join(self.actions)})")

    # -- samples ---------------------------------------------------------------------------
    def sample_key(self, seed: int, n: int, i: int, class_index: int | None) -> str:
        return f"s-{seed}-{n}-{i}-{'' if class_index is None else class_index}"

    def class_name(self, class_index: int | None) -> str | None:
        return None if class_index is None else self.class_names[class_index]

    def check_class(self, class_index: int | None) -> None:
        if class_index is None:
            return
        if not self.G.conditional:
            raise StudioError("class: this checkpoint's generator is unconditional; it "
                              "has no classes to choose from")
        if not 0 <= class_index < len(self.class_names):
            raise StudioError(f"class must be one of 0..{len(self.class_names) - 1} "
                              f"({', '.join(self.class_names)}), got {class_index}")

    def command(self, seed: int, n: int, class_index: int | None) -> str:
        """The ``artgan sample`` line that writes the same images."""
        line = (f"artgan sample --ckpt {shlex.quote(str(self.checkpoint))} -n {n} "
                f"--seed {seed}")
        if class_index is not None:
            line += f" --class {shlex.quote(self.class_names[class_index])}"
        if not self.ema:
            line += " --no-ema"
        return line + " --out samples"

    def _labels(self, n: int, class_index: int | None) -> torch.Tensor | None:
        if class_index is None:
            return cycled_labels(self.G, n)
        labels, _ = class_labels(self.G, self.class_names, self.class_names[class_index], n)
        return labels

    def grid(self, seed: int, n: int, class_index: int | None) -> list[str]:
        """Make the ``n`` samples of ``seed`` (worker thread); returns their store keys."""
        self.needs("grid")
        self.check_class(class_index)
        images = sample_images(self.G, n, seed=seed, labels=self._labels(n, class_index))
        suffix = "" if class_index is None else "-" + safe_name(
            self.class_names[class_index], "class")
        keys = []
        for i, image in enumerate(images):
            key = self.sample_key(seed, n, i, class_index)
            self.images.put(key, png_bytes(image), f"seed{seed}-n{n}-{i:04d}{suffix}.png")
            keys.append(key)
        return keys

    def sample_latent(self, seed: int, n: int, i: int,
                      class_index: int | None) -> tuple[torch.Tensor, int | None]:
        self.check_class(class_index)
        z = latents(self.G, n, seed=seed)[i:i + 1]
        labels = self._labels(n, class_index)
        return z, None if labels is None else int(labels[i])

    # -- interpolation ---------------------------------------------------------------------
    def latent_of(self, spec: dict) -> tuple[torch.Tensor, int | None, str]:
        """(z (1, z_dim), class, description) of a parsed spec: a sample's
        ``{"seed", "n", "i", "class"}`` or a projection's ``{"projection": id}``."""
        if "projection" in spec:
            with self._lock:
                found = self._latents.get(spec["projection"])
            if found is None:
                raise StudioError("that projected picture is no longer held: project it "
                                  "again", 404)
            return found[0], found[1], "your projected picture"
        z, y = self.sample_latent(spec["seed"], spec["n"], spec["i"], spec["class"])
        return z, y, f"sample {spec['i']} of seed {spec['seed']}"

    def frames(self, a: dict, b: dict, count: int) -> dict:
        """``count`` images along the great circle from ``a``'s latent to ``b``'s (the
        first and last are the two pictures themselves); worker thread."""
        self.needs("interpolate")
        za, ya, what_a = self.latent_of(a)
        zb, yb, what_b = self.latent_of(b)
        ts = [k / (count - 1) for k in range(count)]
        z = torch.cat([za if t == 0 else zb if t == 1 else slerp(za, zb, t) for t in ts])
        labels = None
        notes = []
        if self.G.conditional:
            labels = torch.tensor([ya if t < 0.5 else yb for t in ts])
            if ya != yb:
                notes.append(f"the class changes from {self.class_names[ya]} to "
                             f"{self.class_names[yb]} halfway: classes have no in-between")
        images = generate(self.G, z, labels)
        run = secrets.token_hex(4)
        out = []
        for k, (t, image) in enumerate(zip(ts, images)):
            key = self.images.put(f"f-{run}-{k}", png_bytes(image),
                                  f"interpolation-{run}-{k:03d}.png")
            out.append({"key": key, "t": round(t, 6)})
        return {"frames": out, "from": what_a, "to": what_b, "notes": notes}

    # -- uploads -----------------------------------------------------------------------------
    def _discriminator_features(self, weight: float):
        if weight <= 0:
            return None, "no discriminator features (feature weight 0)"
        if self._features is None:
            self._features = discriminator_features(
                self.checkpoint, self.config, self.registry or get_registry(), self.G)
        return self._features

    def _read(self, upload: Upload):
        try:
            return read_image(upload.path, "the picture")
        except RestoreError as exc:
            raise StudioError(web_message(str(exc).replace(str(upload.path), upload.name))) \
                from None

    def project(self, upload: Upload, job: Job, *, steps: int, restarts: int, seed: int,
                class_index: int | None, feature_weight: float) -> dict:
        """Project an upload into the generator (a long job on the worker thread)."""
        self.needs("project")
        self.check_class(class_index)
        picture = self._read(upload)
        pixels, fit_note = fit_square(to_channels(picture.flattened(), self.G.channels),
                                      self.G.resolution)
        features, feature_note = self._discriminator_features(feature_weight)
        job.total = steps
        try:
            found: Projection = project_picture(
                self.G, to_tensor(pixels), features=features, steps=steps,
                restarts=restarts, seed=seed,
                classes=None if class_index is None else [class_index],
                feature_weight=feature_weight, on_step=job.advance)
        except RestoreError as exc:
            raise StudioError(web_message(str(exc))) from None
        with self._lock:
            self._latents[job.id] = (found.z, found.y)
            while len(self._latents) > KEPT_LATENTS:
                del self._latents[next(iter(self._latents))]
        stem = Path(upload.name).stem
        self.images.put(f"p-{job.id}-in", pixels_png(pixels), f"{stem}-input.png")
        self.images.put(f"p-{job.id}-out", pixels_png(to_pixels(found.image)),
                        f"{stem}-reconstruction.png")
        latent_path = upload.path.parent / f"latent-{job.id}.pt"
        save_latent(latent_path, found, checkpoint=str(self.checkpoint.resolve()),
                    generator=self.G.component_name, class_names=self.class_names,
                    image=upload.name, steps=steps, restarts=restarts, seed=seed,
                    resolution=self.G.resolution, channels=self.G.channels)
        self.images.put(f"p-{job.id}-latent", latent_path.read_bytes(), f"{stem}-latent.pt")
        latent_path.unlink()
        return {"input": f"p-{job.id}-in", "reconstruction": f"p-{job.id}-out",
                "latent_file": f"p-{job.id}-latent", "latent": {"projection": job.id},
                "psnr": round(found.psnr, 2),
                "ms_ssim": None if found.ms_ssim is None else round(min(found.ms_ssim, 1), 4),
                "class": None if found.y is None else self.class_names[found.y],
                "notes": [fit_note, feature_note, *picture.notes]}

    def restore(self, upload: Upload, mask: str | Upload | None, job: Job, *, steps: int,
                restarts: int, seed: int, class_index: int | None,
                feature_weight: float) -> dict:
        """Restore an upload: ``mask`` is ``"auto"``, a mask upload (white = damaged) or
        None (restorers only: the network finds the damage). A long job."""
        self.needs("restore")
        self.check_class(class_index)
        picture = self._read(upload)
        notes, found = [], None
        try:
            if mask == "auto":
                array, found = auto_mask(picture)
                if not found:
                    raise StudioError(
                        f"the automatic mask found no damage in {upload.name}: no pure "
                        f"white, pure black or transparent region large enough; upload a "
                        f"mask (white = damaged) instead")
                check_mask(array, "the automatic mask")
            elif isinstance(mask, Upload):
                array = load_mask(mask.path, picture)
                check_mask(array, f"the mask {mask.name}")
            else:
                array = None
            if self.G.image_conditioned:
                job.total = 1
                result = restore_picture(self.G, picture.pixels, array,
                                         alpha=picture.alpha, feather=FEATHER)
                job.advance()
            else:
                if array is None:
                    raise StudioError("a generator restores the holes it is shown: choose "
                                      "the automatic mask or upload a mask file")
                features, feature_note = self._discriminator_features(feature_weight)
                _labels, crops = plan_crops(array, self.G.resolution, feather=FEATHER,
                                            context=CONTEXT)
                job.total = steps * len(crops)
                result = restore_picture(
                    self.G, picture.pixels, array, alpha=picture.alpha, features=features,
                    feather=FEATHER, context=CONTEXT, steps=steps, restarts=restarts,
                    seed=seed, classes=None if class_index is None else [class_index],
                    feature_weight=feature_weight, on_step=job.advance)
                notes.append(f"{len(result.crops)} crop(s) projected into the model; "
                             f"{feature_note}")
        except RestoreError as exc:
            message = str(exc)
            if isinstance(mask, Upload):
                message = message.replace(mask.path.name, mask.name)
            raise StudioError(web_message(message.replace(upload.path.name, upload.name))) \
                from None
        stem = Path(upload.name).stem
        self.images.put(f"r-{job.id}-out", pixels_png(result.pixels, result.alpha),
                        f"{stem}-restored.png")
        changed = int((result.weights > 0).sum())
        if array is not None:
            shown = (array * 255).astype(np.uint8)[..., None]
            self.images.put(f"r-{job.id}-mask", pixels_png(shown), f"{stem}-mask.png")
        regions = [region.describe() for region in (found or [])[:5]]
        return {"restored": f"r-{job.id}-out",
                "mask": None if array is None else f"r-{job.id}-mask",
                "width": picture.width, "height": picture.height, "changed": changed,
                "damaged": None if array is None else int(array.sum()),
                "regions": regions,
                "notes": notes + [web_message(n) for n in result.notes] + picture.notes}

    def translate(self, upload: Upload, job: Job) -> dict:
        """Translate an upload with an image-to-image translator (a long job)."""
        self.needs("translate")
        picture = self._read(upload)
        job.total = 1
        image = to_tensor(to_channels(picture.flattened(), self.G.channels))
        out = translate_image(translator(self.G), image,
                              device=next(self.G.parameters()).device)
        job.advance()
        self.images.put(f"t-{job.id}-out", png_bytes(out[0]),
                        f"{Path(upload.name).stem}-translated.png")
        return {"translated": f"t-{job.id}-out", "width": picture.width,
                "height": picture.height, "notes": picture.notes}
