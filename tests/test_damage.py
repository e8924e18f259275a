"""``--data damage:SPEC``: synthetic damage, deterministic per (seed, epoch, image), each
kind changing only what it should, the input-image contract and the errors."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import artgan.components as components
from artgan.core.data import DataSourceError
from artgan.plugins.damage import KINDS, LOCAL_KINDS, DamageOptions
from artgan.plugins.damage_impl import DamagedDataSource
from artgan.plugins.damage_kinds import DAMAGES, DamagePlan, parse_kinds

GLOBAL_KINDS = tuple(k for k in KINDS if k not in LOCAL_KINDS)
#: Each kind at a strength where its effect is plain to see (the options' defaults).
STRENGTH = {kind: getattr(DamageOptions(), field) for kind, (_, field) in DAMAGES.items()}


def damage(spec="demo", options=None, *, resolution=32, channels=3, seed=0):
    options = {"inner": "size=8", **(options or {})} if spec.startswith("demo") else options
    return components.build("data", "damage", options, spec, resolution=resolution,
                            channels=channels, seed=seed)


def picture(channels=3, size=32, seed=0):
    """A smooth colourful image inside (-0.7, 0.7): no pixel at black or white, so every
    kind visibly changes what it touches, and nothing clamps."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size),
                          indexing="ij")
    phase = torch.rand(channels, 1, 1, generator=g) * 2 * math.pi
    freq = 2 + torch.rand(channels, 1, 1, generator=g) * 4
    return 0.7 * torch.sin(freq * (x + 0.6 * y) * math.pi + phase)


def gens(count=6):
    return [torch.Generator().manual_seed(s) for s in range(count)]


# -- determinism ---------------------------------------------------------------------------

def test_same_seed_same_batch_and_another_seed_or_epoch_another():
    a, b = damage(), damage()
    idx = torch.arange(8)
    first = a.load(idx)
    again = b.load(idx)
    assert torch.equal(first.images, again.images)
    assert torch.equal(first.condition, again.condition)

    other_seed = damage(seed=1).load(idx)
    assert torch.equal(other_seed.images, first.images)  # the same clean targets
    assert not torch.equal(other_seed.condition, first.condition)

    a.set_epoch(1)
    other_epoch = a.load(idx)
    assert not torch.equal(other_epoch.condition, first.condition)
    a.set_epoch(0)
    assert torch.equal(a.load(idx).condition, first.condition)  # a pure function of the epoch


def test_an_images_damage_does_not_depend_on_its_batch():
    data = damage()
    whole = data.load(torch.arange(8)).condition
    alone = data.load(torch.tensor([5, 2])).condition
    assert torch.equal(alone, whole[[5, 2]])


# -- each kind -----------------------------------------------------------------------------

def test_kinds_are_listed_in_application_order():
    assert tuple(DAMAGES) == KINDS


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("kind", LOCAL_KINDS)
def test_local_kinds_change_pixels_only_inside_their_mask(kind, channels):
    image = picture(channels)
    for gen in gens():
        out, mask = DAMAGES[kind][0](image, gen, STRENGTH[kind])
        assert out.shape == image.shape and mask.shape == (1, 32, 32)
        assert mask.dtype == torch.bool and mask.any(), kind
        changed = (out != image).any(0, keepdim=True)
        assert not (changed & ~mask).any(), f"{kind} changed pixels outside its mask"
        assert changed.any()
        assert out.min() >= -1 and out.max() <= 1


def test_lines_are_thin_and_holes_and_strokes_are_not():
    image = picture()
    covered = {kind: sum(float(DAMAGES[kind][0](image, g, STRENGTH[kind])[1].float().mean())
                         for g in gens()) / 6 for kind in LOCAL_KINDS}
    assert covered["cracks"] < 0.08 and covered["scratches"] < 0.08, covered
    assert covered["holes"] > 0.05 and covered["strokes"] > 0.05, covered


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("kind", GLOBAL_KINDS)
def test_global_kinds_leave_the_mask_empty_and_stay_in_range(kind, channels):
    image = picture(channels)
    for gen in gens():
        out, mask = DAMAGES[kind][0](image, gen, STRENGTH[kind])
        assert out.shape == image.shape and mask.shape == (1, 32, 32)
        assert not mask.any(), f"{kind} marked pixels in the mask"
        assert not torch.equal(out, image), f"{kind} left the image unchanged"
        assert out.min() >= -1 and out.max() <= 1


def luma(image):
    return torch.einsum("c,chw->hw", torch.tensor([0.299, 0.587, 0.114]), image)


def test_fading_lowers_contrast_and_saturation_towards_a_pale_tone():
    image = picture()
    for gen in gens():
        out, _ = DAMAGES["fading"][0](image, gen, 0.6)
        assert luma(out).std() < 0.9 * luma(image).std()  # contrast * (1 - a), a >= 0.2
        spread = lambda x: (x.max(0).values - x.min(0).values).mean()  # noqa: E731
        assert spread(out) < spread(image)  # saturation
        assert luma(out).mean() > luma(image).mean()  # paler


def test_colour_cast_shifts_the_channel_means():
    image = picture()
    for gen in gens():
        out, _ = DAMAGES["cast"][0](image, gen, 0.25)
        shift = (out - image).mean(dim=(1, 2))
        assert shift.abs().max() >= 0.125 - 1e-6  # the largest shift is >= strength / 2
        assert torch.allclose(out - image, shift.view(3, 1, 1), atol=1e-6)  # uniform


def test_jpeg_changes_the_image_but_stays_close():
    image = picture(size=64)
    spread = (image - image.mean()).abs().mean()  # 0.45
    for gen in gens():
        out, _ = DAMAGES["jpeg"][0](image, gen, 10)
        error = (out - image).abs()
        assert error.max() > 0.02
        assert error.mean() < 0.25 * spread  # 0.03-0.08 measured, at qualities 10-50


def test_blur_smooths_and_noise_roughens():
    image = picture()
    rough = lambda x: (x[:, 1:] - x[:, :-1]).abs().mean()  # noqa: E731
    for gen in gens():
        assert rough(DAMAGES["blur"][0](image, gen, 1.5)[0]) <= rough(image)
        assert rough(DAMAGES["noise"][0](image, gen, 0.1)[0]) > rough(image)


def test_every_image_is_damaged_somehow():
    plan = DamagePlan.from_options(DamageOptions(kinds="holes", p=1e-6))
    for gen in gens():
        _, mask = plan(picture(), gen)
        assert mask.any()
    nothing = DamagePlan.from_options(DamageOptions(kinds="holes:0"))
    out, mask = nothing(picture(), gens(1)[0])
    assert torch.equal(out, picture()) and not mask.any()


def test_kinds_option_parses_probabilities_and_all():
    assert parse_kinds("holes:0.8, cracks", 0.3) == (("cracks", 0.3), ("holes", 0.8))
    assert [k for k, _ in parse_kinds("all", 0.5)] == list(KINDS)
    assert dict(parse_kinds("all,jpeg:1", 0.5))["jpeg"] == 1.0


# -- the data source -----------------------------------------------------------------------

@pytest.mark.parametrize("channels", [3, 1])
def test_batches_are_clean_targets_labels_and_image_plus_mask(channels):
    data = damage(resolution=16, channels=channels)
    assert data.condition_channels == channels + 1
    assert len(data) == 8 and data.class_names == data.inner.class_names
    batch = data.load(torch.arange(4))
    assert batch.images.shape == (4, channels, 16, 16)
    assert batch.condition.shape == (4, channels + 1, 16, 16)
    assert torch.equal(batch.images, data.inner.load(torch.arange(4)).images)
    assert torch.equal(batch.labels, data.inner.load(torch.arange(4)).labels)
    mask = batch.condition[:, channels:]
    assert set(mask.unique().tolist()) <= {-1.0, 1.0}
    for i in range(4):  # +1 exactly where the damage function marked the pixel
        damaged, known = data.damage(batch.images[i], i)
        assert torch.equal(mask[i] > 0, known)
        assert torch.equal(batch.condition[i, :channels], damaged)


def test_only_local_kinds_mark_the_mask():
    holes = damage(options={"kinds": "holes:1"}).load(torch.arange(8))
    changed = (holes.condition[:, :3] != holes.images).any(1, keepdim=True)
    known = holes.condition[:, 3:] > 0
    assert known.any() and not (changed & ~known).any()
    faded = damage(options={"kinds": "fading:1,blur:1"}).load(torch.arange(8))
    assert (faded.condition[:, 3] == -1).all()
    assert not torch.equal(faded.condition[:, :3], faded.images)


def make_folder(root, count=5, broken=0):
    root.mkdir()
    for i in range(count):
        Image.new("RGB", (24, 24), (40 * i, 100, 200 - 30 * i)).save(root / f"{i}.png")
    for i in range(broken):
        (root / f"broken-{i}.jpg").write_bytes(b"not a jpeg")
    return root


def test_folder_inner_source_counts_skips_and_takes_inner_options(tmp_path):
    folder = make_folder(tmp_path / "art", count=5, broken=1)
    spec = f"folder:{folder}"
    options = DamageOptions(inner="cache=false")
    assert DamagedDataSource.count_images(spec, options) == 6  # the folder's own count
    assert DamagedDataSource.count_images("demo", options) is None
    data = damage(spec, {"inner": "cache=false,labels=none"}, resolution=16)
    assert len(data) == 5 and data.skipped is data.inner.skipped
    assert data.skipped.count == 1 and "broken-0.jpg" in data.skipped.examples[0][0]
    assert data.load(torch.arange(5)).condition.shape == (5, 4, 16, 16)


@pytest.mark.parametrize("spec,options,message", [
    (None, None, "damage needs the data to damage: --data damage:SPEC"),
    ("", None, "damage needs the data to damage"),
    ("damage:demo", None, "damage cannot wrap another damage source"),
    ("demo", {"kinds": "holes,crack"}, "unknown damage kind 'crack'. Did you mean 'cracks'?"),
    ("demo", {"kinds": " , "}, "-o data.kinds is empty"),
    ("demo", {"kinds": "holes:2"}, "the probability after ':' must be a number from 0 to 1"),
    ("demo", {"inner": "sise=8"}, "unknown option sise for -o data.inner (the demo source); "
                                  "valid options: seed, size"),
    ("demo", {"inner": "size"}, "-o data.inner: expected KEY=VALUE pairs"),
    ("./paintings", None, "--data damage:./paintings: './paintings' looks like a path; did "
                          "you mean --data damage:folder:./paintings ?"),
    ("pictures:x", None, "--data damage:pictures:x: unknown data 'pictures'. Known data "
                         "sources: damage, demo, folder, unpaired."),
])
def test_errors_name_the_option_or_flag(spec, options, message):
    with pytest.raises(DataSourceError) as info:
        components.build("data", "damage", options, spec, resolution=16, channels=3, seed=0)
    assert message in str(info.value)
