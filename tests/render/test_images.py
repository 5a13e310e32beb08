"""Renditions: every fixture in tests/fixtures/images through ``render_set``, plus made-up
images for the cases the fixtures do not cover (real transparency, MPO, panoramas, 16-bit).

Outputs are decoded again with Pillow and compared with what the source should look like.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from PIL import (
    BmpImagePlugin,
    Image,
    ImageChops,
    ImageCms,
    ImageOps,
    ImageStat,
    TiffImagePlugin,
    features,
)

from render import images
from render.images import (
    THUMB,
    WIDTHS,
    ImageRefused,
    Output,
    RenditionSet,
    open_checked,
    render_set,
    set_key,
)

IMAGES = Path(__file__).parents[1] / "fixtures" / "images"
MAX_PIXELS = 60_000_000
PHOTOS = ["astronaut.jpg", "coffee.jpg", "chelsea.jpg", "rocket.jpg", "hubble.jpg"]
SIDEWAYS = ["photo-12mp-exif6.jpg", "chelsea-exif6.jpg"]
RENDERED = [
    *PHOTOS,
    *SIDEWAYS,
    "coffee-gps.jpg",
    "astronaut-cmyk.jpg",
    "logo-alpha.png",
    "animated.gif",
]
REFUSED = ["truncated.jpg", "not-an-image.jpg", "script.svg", "bomb-30000x30000.png"]
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/avif": ".avif",
}


def source(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


@cache
def rendered(name: str) -> RenditionSet:
    return render_set(source(name), MAX_PIXELS)


def decode(out: Output) -> Image.Image:
    img = Image.open(io.BytesIO(out.data))
    img.load()
    return img


def widths(rs: RenditionSet) -> list[int]:
    return sorted({o.width for o in rs.outputs if not o.name.startswith("thumb")})


def thumbs(rs: RenditionSet) -> list[Output]:
    return [o for o in rs.outputs if o.name.startswith("thumb")]


def channel_diff(a: Image.Image, b: Image.Image) -> float:
    """The largest per-channel mean absolute difference, 0-255."""
    return max(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean)


def in_srgb(img: Image.Image) -> Image.Image:
    """What the source looks like in sRGB: converted through its embedded profile, if any."""
    icc = img.info.get("icc_profile")
    if not icc:
        return img.convert("RGB")
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.profileToProfile(img, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")


def encoded(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


# --- every fixture is exercised ------------------------------------------------------------------


def test_every_fixture_file_is_either_rendered_or_refused_by_these_tests():
    assert {p.name for p in IMAGES.iterdir()} == set(RENDERED) | set(REFUSED)


@pytest.mark.parametrize("name", RENDERED)
def test_every_output_decodes_as_the_type_and_size_it_declares(name):
    for out in rendered(name).outputs:
        img = decode(out)
        assert CONTENT_TYPES[img.format] == out.contenttype, out.name
        assert img.size == (out.width, out.height), out.name
        assert out.name.endswith(EXTENSIONS[out.contenttype]), out.name


@pytest.mark.parametrize("name", PHOTOS)
def test_ordinary_photo_gives_a_jpeg_and_a_webp_for_each_width_and_the_thumbnail(name):
    rs = rendered(name)
    stems = {o.name.rsplit(".", 1)[0] for o in rs.outputs}
    expected = {f"{stem}{ext}" for stem in stems for ext in (".jpg", ".webp")}
    assert {o.name for o in rs.outputs} == expected
    assert "thumb" in stems


@pytest.mark.parametrize("name", PHOTOS)
def test_photo_renditions_look_like_the_photo(name):
    original = in_srgb(Image.open(IMAGES / name))
    for out in rendered(name).outputs:
        if not out.name.startswith("thumb"):
            assert channel_diff(decode(out), original.resize((out.width, out.height))) < 12


def test_set_reports_source_size_and_type():
    rs = rendered("hubble.jpg")
    assert (rs.width, rs.height, rs.source_type) == (1000, 872, "image/jpeg")


def test_placeholder_is_a_hex_colour_close_to_the_average():
    red = encoded(Image.new("RGB", (400, 300), (200, 30, 40)), "PNG")
    placeholder = render_set(red, MAX_PIXELS).placeholder
    assert re.fullmatch(r"#[0-9a-f]{6}", placeholder)
    r, g, b = (int(placeholder[i : i + 2], 16) for i in (1, 3, 5))
    assert max(abs(r - 200), abs(g - 30), abs(b - 40)) <= 2


# --- orientation -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIDEWAYS)
def test_sideways_photo_is_reported_at_its_upright_size(name):
    upright = ImageOps.exif_transpose(Image.open(IMAGES / name))
    rs = rendered(name)
    assert (rs.width, rs.height) == upright.size
    assert rs.width > rs.height  # both are landscape photos stored on their side


@pytest.mark.parametrize("name", SIDEWAYS)
def test_sideways_photo_renditions_are_landscape(name):
    for out in rendered(name).outputs:
        if not out.name.startswith("thumb"):
            assert out.width > out.height, out.name


@pytest.mark.parametrize("name", SIDEWAYS)
def test_sideways_photo_renditions_match_the_exif_transposed_original(name):
    upright = ImageOps.exif_transpose(Image.open(IMAGES / name)).convert("RGB")
    for out in rendered(name).outputs:
        img = decode(out)
        reference = (
            ImageOps.fit(upright, img.size)
            if out.name.startswith("thumb")
            else upright.resize(img.size)
        )
        assert channel_diff(img, reference) < 12, out.name


def test_sideways_chelsea_comes_out_like_the_upright_chelsea():
    upright = Image.open(IMAGES / "chelsea.jpg").convert("RGB")
    out = next(o for o in rendered("chelsea-exif6.jpg").outputs if o.name == "w320.jpg")
    assert channel_diff(decode(out), upright.resize((out.width, out.height))) < 12


@pytest.mark.parametrize("name", SIDEWAYS)
def test_sideways_photo_outputs_carry_no_orientation_tag_to_rotate_them_again(name):
    for out in rendered(name).outputs:
        assert 0x0112 not in decode(out).getexif(), out.name


# --- metadata ------------------------------------------------------------------------------------


def test_gps_fixture_really_carries_camera_and_gps_exif():
    exif = Image.open(IMAGES / "coffee-gps.jpg").getexif()
    assert exif.get(0x010F) == "ExampleCam"
    assert exif.get_ifd(0x8825)  # the GPS IFD


def test_no_output_of_the_gps_photo_has_exif():
    for out in rendered("coffee-gps.jpg").outputs:
        img = decode(out)
        assert len(img.getexif()) == 0, out.name
        assert "exif" not in img.info, out.name


def test_no_output_of_the_gps_photo_contains_exif_or_camera_bytes():
    for out in rendered("coffee-gps.jpg").outputs:
        for marker in (b"Exif", b"EXIF", b"eXIf", b"ExampleCam", b"Model X", b"GPS", b"xmp"):
            assert marker not in out.data, (out.name, marker)


# --- colour --------------------------------------------------------------------------------------


def test_cmyk_outputs_are_rgb():
    for out in rendered("astronaut-cmyk.jpg").outputs:
        assert decode(out).mode == "RGB", out.name


def test_cmyk_outputs_match_the_rgb_astronaut():
    cmyk = {o.name: o for o in rendered("astronaut-cmyk.jpg").outputs}
    rgb = {o.name: o for o in rendered("astronaut.jpg").outputs}
    assert cmyk.keys() == rgb.keys()
    for name, out in cmyk.items():
        assert channel_diff(decode(out), decode(rgb[name])) < 12, name


def test_adobe_rgb_photo_is_converted_to_srgb():
    adobe = Image.open(IMAGES / "rocket.jpg")
    assert b"Adobe RGB" in adobe.info["icc_profile"]
    out = decode(next(o for o in rendered("rocket.jpg").outputs if o.name == "w640.jpg"))
    # closer to the colour-managed conversion than to the same numbers read as sRGB
    assert channel_diff(out, in_srgb(adobe)) < 6
    assert channel_diff(out, adobe.convert("RGB")) > 8


@pytest.mark.parametrize("name", ["rocket.jpg", "hubble.jpg"])
def test_outputs_carry_no_profile_but_srgb(name):
    for out in rendered(name).outputs:
        icc = decode(out).info.get("icc_profile")
        if icc:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            assert "sRGB" in ImageCms.getProfileDescription(profile), out.name


def test_sixteen_bit_greyscale_keeps_its_tone():
    grey = Image.new("I;16", (400, 300), 30000)  # 30000/65535 of white, about 117/255
    out = render_set(encoded(grey, "PNG"), MAX_PIXELS).outputs[0]
    level = ImageStat.Stat(decode(out).convert("L")).mean[0]
    assert abs(level - 30000 / 257) < 3


# --- transparency --------------------------------------------------------------------------------


def test_rgba_logo_gives_png_and_webp_and_no_jpeg():
    types = {o.contenttype for o in rendered("logo-alpha.png").outputs}
    assert types == {"image/png", "image/webp"}


def test_rgba_logo_png_outputs_keep_an_alpha_channel():
    for out in rendered("logo-alpha.png").outputs:
        if out.contenttype == "image/png":
            assert decode(out).mode == "RGBA", out.name


@cache
def half_transparent() -> RenditionSet:
    """The logo with its left half fully transparent (the fixture itself is opaque)."""
    logo = Image.open(IMAGES / "logo-alpha.png").convert("RGBA")
    alpha = logo.getchannel("A")
    alpha.paste(0, (0, 0, logo.width // 2, logo.height))
    logo.putalpha(alpha)
    return render_set(encoded(logo, "PNG"), MAX_PIXELS)


def test_transparent_image_outputs_are_png_and_webp_only():
    assert {o.contenttype for o in half_transparent().outputs} == {"image/png", "image/webp"}


@pytest.mark.parametrize("contenttype", ["image/png", "image/webp"])
def test_transparent_pixels_stay_transparent(contenttype):
    for out in half_transparent().outputs:
        if out.contenttype != contenttype:
            continue
        img = decode(out)
        assert img.mode == "RGBA", out.name
        alpha = img.getchannel("A")
        assert alpha.getpixel((img.width // 4, img.height // 2)) == 0, out.name
        assert alpha.getpixel((3 * img.width // 4, img.height // 2)) == 255, out.name


# --- animation -----------------------------------------------------------------------------------


def test_animated_gif_gives_still_outputs():
    for out in rendered("animated.gif").outputs:
        img = Image.open(io.BytesIO(out.data))
        assert getattr(img, "n_frames", 1) == 1, out.name


def test_animated_gif_is_reported_as_a_gif_source():
    assert rendered("animated.gif").source_type == "image/gif"


def test_animated_gif_still_is_its_first_frame():
    gif = Image.open(IMAGES / "animated.gif")
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(gif.convert("RGB"))
    out = decode(next(o for o in rendered("animated.gif").outputs if o.name.startswith("w")))
    diffs = [channel_diff(out, frame) for frame in frames]
    assert diffs.index(min(diffs)) == 0


def test_animation_with_distinct_frames_gives_the_first_one():
    frames = [Image.new("RGB", (400, 300), c) for c in ("red", "lime", "blue")]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = render_set(gif, MAX_PIXELS).outputs[0]
    r, g, b = ImageStat.Stat(decode(out).convert("RGB")).mean
    assert r > 240 and g < 15 and b < 15


# --- refusals ------------------------------------------------------------------------------------


def test_truncated_jpeg_is_refused_as_truncated():
    with pytest.raises(ImageRefused, match="damaged or truncated"):
        render_set(source("truncated.jpg"), MAX_PIXELS)


def test_html_under_an_image_name_is_refused_by_content():
    with pytest.raises(ImageRefused, match="not an image"):
        render_set(source("not-an-image.jpg"), MAX_PIXELS)


def test_svg_is_refused():
    with pytest.raises(ImageRefused, match="not an image"):
        render_set(source("script.svg"), MAX_PIXELS)


def test_jpeg_cut_inside_its_header_is_refused():
    with pytest.raises(ImageRefused, match="damaged or truncated"):
        render_set(source("chelsea.jpg")[:100], MAX_PIXELS)


def test_png_cut_short_is_refused():
    data = source("logo-alpha.png")
    with pytest.raises(ImageRefused, match="damaged or truncated"):
        render_set(data[: len(data) * 6 // 10], MAX_PIXELS)


def test_bomb_is_refused_before_decoding():
    with pytest.raises(ImageRefused, match="before decoding"):
        render_set(source("bomb-30000x30000.png"), MAX_PIXELS)


def test_image_over_our_own_pixel_limit_is_refused_before_decoding():
    # chelsea is 451x300 = 135,300 pixels: under Pillow's bomb limit, over ours
    with pytest.raises(ImageRefused, match=r"before decoding: 451x300 .* over the 100,000 limit"):
        open_checked(source("chelsea.jpg"), 100_000)


MEASURE = """
import json, resource, sys
from render.images import ImageRefused, render_set
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    render_set(data, 60_000_000)
    outcome = "rendered"
except ImageRefused as exc:
    outcome = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_kib": after - before}))
"""


def test_bomb_refusal_keeps_memory_flat():
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(IMAGES / "bomb-30000x30000.png")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    assert "before decoding" in result["outcome"]
    assert result["grew_kib"] < 50 * 1024  # ru_maxrss is in KiB on Linux


# --- widths and thumbnail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo-12mp-exif6.jpg", [320, 640, 1024, 1600]),  # 4000 wide upright
        ("hubble.jpg", [320, 640]),  # 1000 wide
        ("rocket.jpg", [320, 640]),  # exactly 640 wide: 640 fits
        ("chelsea.jpg", [320]),  # 451 wide
    ],
)
def test_renditions_are_the_standard_widths_that_fit(name, expected):
    assert widths(rendered(name)) == expected
    assert set(expected) <= set(WIDTHS)


@pytest.mark.parametrize("name", RENDERED)
def test_no_rendition_is_wider_than_the_source(name):
    rs = rendered(name)
    assert all(o.width <= rs.width and o.height <= rs.height for o in rs.outputs)


@pytest.mark.parametrize("name", PHOTOS + SIDEWAYS)
def test_renditions_keep_the_aspect_ratio(name):
    rs = rendered(name)
    for out in rs.outputs:
        if not out.name.startswith("thumb"):
            assert abs(out.height - rs.height * out.width / rs.width) <= 1, out.name


def test_image_narrower_than_the_smallest_width_gets_one_rendition_at_its_own_width():
    small = encoded(Image.new("RGB", (200, 150), "teal"), "JPEG")
    rs = render_set(small, MAX_PIXELS)
    main = [o for o in rs.outputs if not o.name.startswith("thumb")]
    assert sorted(o.name for o in main) == ["w200.jpg", "w200.webp"]
    assert all((o.width, o.height) == (200, 150) for o in main)


def test_tiny_gif_gets_one_rendition_at_its_own_width():
    assert widths(rendered("animated.gif")) == [14]


@pytest.mark.parametrize("name", PHOTOS + SIDEWAYS)
def test_thumbnail_is_a_square_of_the_thumb_size(name):
    for out in thumbs(rendered(name)):
        assert (out.width, out.height) == (THUMB, THUMB), out.name


def test_thumbnail_of_a_tiny_image_is_square_and_not_upscaled():
    for out in thumbs(rendered("animated.gif")):
        assert (out.width, out.height) == (14, 14), out.name


def test_thumbnail_of_a_panorama_is_full_size():
    # The smallest rendition is 320x20; the thumbnail must come from a taller picture.
    pano = encoded(Image.new("RGB", (3200, 200), "navy"), "JPEG")
    for out in thumbs(render_set(pano, MAX_PIXELS)):
        assert (out.width, out.height) == (THUMB, THUMB), out.name


def test_image_too_tall_for_webp_still_gets_jpeg_renditions():
    tall = encoded(Image.new("RGB", (300, 17000), "olive"), "JPEG")
    rs = render_set(tall, MAX_PIXELS)
    main = [o for o in rs.outputs if not o.name.startswith("thumb")]
    assert [(o.name, o.width, o.height) for o in main] == [("w300.jpg", 300, 17000)]


def test_image_too_tall_for_jpeg_is_refused():
    tall = encoded(Image.new("RGB", (300, 70000), "olive"), "PNG")
    with pytest.raises(ImageRefused, match="too elongated"):
        render_set(tall, MAX_PIXELS)


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS + SIDEWAYS)
def test_output_jpegs_are_progressive(name):
    jpegs = [o for o in rendered(name).outputs if o.contenttype == "image/jpeg"]
    assert jpegs
    for out in jpegs:
        assert decode(out).info.get("progressive"), out.name


def test_mpo_camera_jpeg_is_rendered_as_a_jpeg():
    first = Image.open(IMAGES / "chelsea.jpg")
    second = first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    mpo = encoded(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"  # what Pillow calls it
    rs = render_set(mpo, MAX_PIXELS)
    assert rs.source_type == "image/jpeg"
    assert widths(rs) == [320]


# --- set key -------------------------------------------------------------------------------------


def test_set_key_is_stable_for_the_same_bytes():
    data = source("coffee.jpg")
    assert set_key(data) == set_key(bytes(bytearray(data)))


def test_set_key_changes_when_one_source_byte_changes():
    data = bytearray(source("coffee.jpg"))
    changed = bytes(data[:-3] + bytes([data[-3] ^ 1]) + data[-2:])
    assert set_key(changed) != set_key(bytes(data))


def test_set_key_changes_with_the_widths():
    data = source("coffee.jpg")
    assert set_key(data, (320, 640)) != set_key(data)


def test_rendition_set_carries_the_set_key_of_its_source():
    assert rendered("coffee.jpg").key == set_key(source("coffee.jpg"))


def test_different_photos_get_different_keys():
    assert rendered("coffee.jpg").key != rendered("coffee-gps.jpg").key


def test_set_key_changes_with_the_encoder_settings(monkeypatch):
    data = source("coffee.jpg")
    before = set_key(data)
    monkeypatch.setattr(images, "WEBP_QUALITY", images.WEBP_QUALITY + 1)
    assert set_key(data) != before


# --- decoders: only the accepted formats' plugins read the bytes ---------------------------------


@pytest.mark.parametrize(("fmt", "plugin"), [("BMP", BmpImagePlugin.BmpImageFile),
                                             ("TIFF", TiffImagePlugin.TiffImageFile)])  # fmt: skip
def test_other_formats_are_refused_without_their_decoder_reading_the_bytes(
    monkeypatch, fmt, plugin
):
    data = encoded(Image.new("RGB", (400, 300), "teal"), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow could read it

    def never(self):
        pytest.fail(f"the {fmt} decoder was asked to read the bytes")

    monkeypatch.setattr(plugin, "_open", never)
    with pytest.raises(ImageRefused, match="not an image"):
        render_set(data, MAX_PIXELS)


# --- AVIF: measured too slow for the speed target, so none by default (docs/benchmarks.md) ------


@pytest.mark.parametrize("name", PHOTOS + SIDEWAYS)
def test_default_set_has_no_avif(name):
    assert all(o.contenttype != "image/avif" for o in rendered(name).outputs)


@cache
def with_avif_up_to_640() -> RenditionSet:
    patch = pytest.MonkeyPatch()
    patch.setattr(images, "AVIF_UP_TO", 640)
    patch.setattr(images, "AVIF_AVAILABLE", True)
    try:
        return render_set(source("photo-12mp-exif6.jpg"), MAX_PIXELS)
    finally:
        patch.undo()


needs_avif = pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")


@needs_avif
def test_avif_is_made_for_the_widths_up_to_its_limit_and_not_for_the_thumbnail():
    avif = [o for o in with_avif_up_to_640().outputs if o.contenttype == "image/avif"]
    assert sorted(o.name for o in avif) == ["w320.avif", "w640.avif"]


@needs_avif
def test_avif_outputs_decode_as_avif_at_their_size_and_look_like_the_jpeg():
    outs = {o.name: o for o in with_avif_up_to_640().outputs}
    for name in ("w320", "w640"):
        avif = outs[f"{name}.avif"]
        img = decode(avif)
        assert img.format == "AVIF"
        assert img.size == (avif.width, avif.height) == (outs[f"{name}.jpg"].width, avif.height)
        assert channel_diff(img, decode(outs[f"{name}.jpg"])) < 6, name
        assert len(img.getexif()) == 0


@needs_avif
def test_avif_set_has_its_own_key():
    assert with_avif_up_to_640().key != rendered("photo-12mp-exif6.jpg").key


def test_without_avif_support_the_limit_changes_neither_outputs_nor_key(monkeypatch):
    monkeypatch.setattr(images, "AVIF_UP_TO", 1600)
    monkeypatch.setattr(images, "AVIF_AVAILABLE", False)
    rs = render_set(source("coffee.jpg"), MAX_PIXELS)
    assert all(o.contenttype != "image/avif" for o in rs.outputs)
    assert rs.key == rendered("coffee.jpg").key


@pytest.mark.skipif(not images.AVIF_AVAILABLE, reason="this Pillow has no AVIF encoder")
def test_deferred_avif_covers_every_width_of_the_set():
    from PIL import Image as PILImage

    data = (IMAGES / "photo-12mp-exif6.jpg").read_bytes()
    made = images.render_set(data, 60_000_000)
    avif = images.avif_outputs(data, 60_000_000)
    jpeg = [
        (o.width, o.height)
        for o in made.outputs
        if o.name.startswith("w") and o.contenttype == "image/jpeg"
    ]
    assert [(o.width, o.height) for o in avif] == jpeg
    for out in avif:
        assert out.contenttype == "image/avif"
        assert PILImage.open(io.BytesIO(out.data)).size == (out.width, out.height)
