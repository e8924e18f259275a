"""``--data damage:SPEC``: clean images from any other source, with damage synthesised on
the fly, to train a restorer self-supervised (pix2pix on the artist's own folder).

``SPEC`` is any other data spec: ``damage:folder:./paintings``, ``damage:demo``,
``damage:demo:waves``. ``-o data.KEY=VALUE`` options set the damage (below); the inner
source gets its own options through ``-o data.inner=KEY=VALUE,KEY=VALUE`` (for example
``-o data.inner=labels=none,cache=false``) and its defaults otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from artgan import hookimpl
from artgan.core.options import option

#: The damage kinds, in the order they are applied to an image: ageing of the paint,
#: physical damage (marked in the mask), then the capture (photo, scan, file).
KINDS = ("fading", "cast", "cracks", "scratches", "strokes", "holes", "blur", "noise", "jpeg")
#: Kinds that damage some pixels and mark them in the mask; the others are global.
LOCAL_KINDS = ("cracks", "scratches", "strokes", "holes")
DEFAULT_KINDS = ",".join(KINDS)


@dataclass(frozen=True)
class DamageOptions:
    kinds: str = option(DEFAULT_KINDS, "Damage kinds, comma-separated, each optionally with "
                                       "its probability per image (holes:0.8); 'all' for "
                                       f"every kind. Kinds: {', '.join(KINDS)}. An image "
                                       "that draws none gets one of them.")
    p: float = option(0.35, "Probability of each listed kind (without its own :P) per image.",
                      min=0.0, max=1.0)
    inner: str = option("", "Options of the inner source, KEY=VALUE pairs separated by "
                            "commas (-o data.inner=labels=none,cache=false); '': its "
                            "defaults.")
    hole_size: float = option(0.4, "holes: 1-3 rectangles (DeepFill v2 / LaMa box masks) "
                                   "filled with a flat colour; largest side as a fraction "
                                   "of the image side.", min=0.01, max=1.0)
    stroke_width: float = option(0.1, "strokes: 1-4 free-form brush strokes of 4-10 "
                                      "segments (DeepFill v2), flat colour; widest brush as "
                                      "a fraction of the image side.", min=0.005, max=0.5)
    crack_darkness: float = option(0.8, "cracks: thin branching dark lines (craquelure); how "
                                        "far (at most) crack pixels go towards black, 0-1.",
                                   min=0.0, max=1.0)
    scratch_brightness: float = option(0.8, "scratches: 1-4 long thin light lines; how far "
                                            "(at most) they go towards white, 0-1.",
                                       min=0.0, max=1.0)
    blur_sigma: float = option(1.5, "blur: Gaussian blur; largest sigma in pixels.",
                               min=0.1, max=10.0)
    noise_std: float = option(0.1, "noise: Gaussian noise; largest standard deviation "
                                   "(images are in [-1, 1]).", min=0.0, max=1.0)
    jpeg_quality: int = option(10, "jpeg: JPEG encode/decode (Pillow) at a quality drawn "
                                   "from this lowest one up to 50.", min=1, max=95)
    fading: float = option(0.6, "fading: lowered contrast and saturation towards a pale "
                                "tone; largest amount, 0-1.", min=0.0, max=1.0)
    cast: float = option(0.25, "cast: colour cast, a shift of the channels' means; largest "
                               "shift (images are in [-1, 1]).", min=0.0, max=1.0)


@hookimpl
def register_data_sources(register):
    register("damage", "artgan.plugins.damage_impl:DamagedDataSource.from_spec",
             description="damage:SPEC: the images of SPEC (folder:PATH, demo, ...) as clean "
                         "targets, each with synthesised damage (holes, strokes, cracks, "
                         "scratches, blur, noise, JPEG, fading, colour cast) and its mask as "
                         "input: restorer training (--gen unet).",
             options=DamageOptions)
