"""Renditions of one source image. Pure: bytes in, encoded files and their facts out.

Speed: JPEGs are shrunk while decoding (``draft``, libjpeg's DCT scaling) and every width is
resized from the previous one, never from the full original. Safety: the pixel count is
checked from the header before any decoding, the format comes from the bytes, and only the
plugins of the accepted formats are ever asked to read them (``formats=`` on ``Image.open``).

Encoding, chosen by measurement (benchmarks/images.py; numbers in docs/benchmarks.md): JPEG
progressive with optimized Huffman tables; WebP at method 4 (method 2 is 2.5x faster but
loses 0.004-0.007 SSIM at the same size, and 3 costs what 4 costs); LANCZOS for every
step (BICUBIC for the first one saved 17 ms a set and cost 0.001 SSIM). No AVIF: see
``AVIF_UP_TO``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError, features

WIDTHS = (320, 640, 1024, 1600)
THUMB = 160
JPEG_QUALITY = 82
WEBP_QUALITY = 80
WEBP_METHOD = 4
# AVIF for the widths up to AVIF_UP_TO; 0: none. Decided by measurement, not a setting
# (docs/benchmarks.md, "AVIF"): every width at libaom's fastest speed makes a set 1.3x
# slower than pyvips' JPEG+WebP, over the speed target; and a partial set is worse than none,
# because a page offers an AVIF <source> with only its widths and a browser that takes AVIF
# then gets no wider picture than AVIF_UP_TO.
AVIF_UP_TO = 0
AVIF_QUALITY = 60
AVIF_SPEED = 9  # libaom: 3x faster than 8, ~7% more bytes at the same quality setting
AVIF_AVAILABLE = features.check("avif")
# Bump when output would change, so content-addressed sets are made afresh (the encoder
# settings above are part of the set key already).
PIPELINE_VERSION = "2"  # 2: panorama thumbnails, 16-bit greyscale, tall images
# MPO is how Pillow names a JPEG carrying extra pictures (many cameras and phones write them):
# it is an ordinary JPEG file and is served and decoded as one.
ACCEPTED = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
# What Image.open may try: the JPEG plugin itself opens an MPO file (as MpoImageFile).
OPEN_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
WEBP_MAX_SIDE = 16383  # libwebp cannot encode a larger side; such a rendition has no WebP
AVIF_MAX_SIDE = 16383  # nor as AVIF: a very tall rendition is a JPEG (or PNG) only
JPEG_MAX_SIDE = 65500  # libjpeg's limit
_SRGB = ImageCms.createProfile("sRGB")


class ImageRefused(ValueError):
    """The bytes are not an image we render; the message says why, for a person."""


@dataclass(frozen=True)
class Output:
    name: str
    contenttype: str
    width: int
    height: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class RenditionSet:
    key: str
    width: int
    height: int
    source_type: str
    placeholder: str
    outputs: list[Output]


def _avif_up_to() -> int:
    return AVIF_UP_TO if AVIF_AVAILABLE else 0


def _encoding() -> str:
    """The encoder settings, as part of the set key: changing one makes sets afresh."""
    avif = f"avif{AVIF_QUALITY}s{AVIF_SPEED}<={_avif_up_to()}" if _avif_up_to() else "noavif"
    return f"jpeg{JPEG_QUALITY}|webp{WEBP_QUALITY}m{WEBP_METHOD}|{avif}"


def set_key(source: bytes, widths: Sequence[int] = WIDTHS) -> str:
    h = hashlib.sha256(source)
    h.update(f"|v{PIPELINE_VERSION}|{','.join(map(str, widths))}|{THUMB}|{_encoding()}".encode())
    return h.hexdigest()


def open_checked(source: bytes, max_pixels: int) -> Image.Image:
    try:
        # Only the accepted formats' plugins look at the bytes: no other decoder (PSD, EPS
        # through Ghostscript, ...) is ever reached, whatever the bytes claim to be.
        img = Image.open(io.BytesIO(source), formats=OPEN_FORMATS)
    except UnidentifiedImageError:
        raise ImageRefused("not an image: the bytes match no JPEG, PNG, GIF or WebP") from None
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"refused before decoding: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # A header cut short or garbled (Pillow raises OSError("Truncated File Read") for
        # a JPEG whose header segments end early).
        raise ImageRefused(f"the image header is damaged or truncated ({exc})") from None
    if img.format not in ACCEPTED:
        raise ImageRefused(f"{img.format} images are not accepted (JPEG, PNG, GIF, WebP are)")
    w, h = img.size
    if w * h > max_pixels:
        raise ImageRefused(
            f"refused before decoding: {w}x{h} is {w * h:,} pixels, over the {max_pixels:,} limit"
        )
    return img


def _sideways(img: Image.Image) -> bool:
    return img.getexif().get(0x0112) in (5, 6, 7, 8)


def _upright_size(img: Image.Image) -> tuple[int, int]:
    w, h = img.size
    return (h, w) if _sideways(img) else (w, h)


def _decode(img: Image.Image, target: int) -> Image.Image:
    if img.format in ("JPEG", "MPO"):
        # Decode at the smallest DCT scale whose upright width still covers the largest
        # rendition and whose upright height still covers the thumbnail. EXIF orientations
        # 5-8 turn the stored height into the width.
        img.draft(img.mode, (THUMB, target) if _sideways(img) else (target, THUMB))
    img.load()
    return img


def _to_srgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit greyscale (PNG): Pillow's plain conversion clips every value over 255 to
        # white, so scale 0-65535 down to 0-255 first.
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    icc = img.info.get("icc_profile")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        img = img.convert("RGBA")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if has_alpha else "RGB"
            return ImageCms.profileToProfile(img, src, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to a plain conversion below
    if img.mode == "CMYK":
        # Adobe writes inverted CMYK JPEGs without a profile; Pillow's plain conversion is
        # the best guess left.
        return img.convert("RGB")
    return img if img.mode in ("RGB", "RGBA") else img.convert("RGBA" if has_alpha else "RGB")


def _placeholder(img: Image.Image) -> str:
    r, g, b = img.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))[:3]
    return f"#{r:02x}{g:02x}{b:02x}"


def _encode(img: Image.Image, stem: str, alpha: bool, avif: bool = False) -> list[Output]:
    outs = []
    if max(img.size) <= WEBP_MAX_SIDE:
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        outs.append(Output(f"{stem}.webp", "image/webp", *img.size, buf.getvalue()))
    buf = io.BytesIO()
    if alpha:
        img.save(buf, "PNG", optimize=True)
        outs.append(Output(f"{stem}.png", "image/png", *img.size, buf.getvalue()))
    else:
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        outs.append(Output(f"{stem}.jpg", "image/jpeg", *img.size, buf.getvalue()))
    if avif and max(img.size) <= AVIF_MAX_SIDE:
        buf = io.BytesIO()
        # One thread: the worker runs one process per core (--concurrency 2 on 2 cores).
        img.save(buf, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED, max_threads=1)
        outs.append(Output(f"{stem}.avif", "image/avif", *img.size, buf.getvalue()))
    return outs


@dataclass(frozen=True)
class _Decoded:
    full_w: int
    full_h: int
    source_type: str
    alpha: bool
    made: list  # the decoded image, then each rendition, largest first
    renditions: list  # what gets encoded, smallest first


def _decode_cascade(source: bytes, max_pixels: int, widths: Sequence[int]) -> _Decoded:
    img = open_checked(source, max_pixels)
    source_type = ACCEPTED[img.format]
    if getattr(img, "is_animated", False):
        img.seek(0)  # an animation gives its first frame as a still poster
    try:
        full_w, full_h = _upright_size(img)  # a PNG's getexif() decodes the whole file
        img = _decode(img, max(widths))
        img = ImageOps.exif_transpose(img)  # upright first; re-encoding drops EXIF (and GPS)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(f"the image is damaged or truncated ({exc})") from None
    img = _to_srgb(img)
    alpha = img.mode == "RGBA"
    made = [img]  # the decoded image, then each rendition, largest first
    for width in sorted(widths, reverse=True):
        if width > img.width:
            continue  # never upscale
        height = max(1, round(img.height * width / img.width))
        made.append(made[-1].resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0))
    renditions = made[1:] or made  # smaller than the smallest width: one at its own size
    if max(im.height for im in renditions) > JPEG_MAX_SIDE:
        raise ImageRefused(f"{full_w}x{full_h} is too elongated to render")
    return _Decoded(full_w, full_h, source_type, alpha, made, list(reversed(renditions)))


def render_set(source: bytes, max_pixels: int, widths: Sequence[int] = WIDTHS) -> RenditionSet:
    d = _decode_cascade(source, max_pixels, widths)
    full_w, full_h, source_type, alpha, made = d.full_w, d.full_h, d.source_type, d.alpha, d.made
    img = made[0]
    outputs: list[Output] = []
    for im in d.renditions:
        outputs += _encode(im, f"w{im.width}", alpha, avif=im.width <= _avif_up_to())
    current = d.renditions[0]
    # The thumbnail comes from the smallest picture that covers it on both sides (a panorama's
    # smallest rendition may be far too short), and is never upscaled either.
    thumb_from = next((im for im in reversed(made) if min(im.size) >= THUMB), img)
    side = min(THUMB, *thumb_from.size)
    thumb = ImageOps.fit(thumb_from, (side, side), Image.Resampling.LANCZOS)
    outputs += _encode(thumb, "thumb", alpha)  # no AVIF: feeds take the first non-WebP thumb
    return RenditionSet(
        key=set_key(source, widths),
        width=full_w,
        height=full_h,
        source_type=source_type,
        placeholder=_placeholder(current),
        outputs=outputs,
    )


def avif_outputs(source: bytes, max_pixels: int, widths: Sequence[int] = WIDTHS) -> list[Output]:
    """AVIF for every width of a set, made after the set is published (render.tasks): AVIF
    encoding costs more than the whole JPEG+WebP set (docs/benchmarks.md), so it stays off
    the path from POST to page. Empty where Pillow has no AVIF encoder."""
    if not AVIF_AVAILABLE:
        return []
    d = _decode_cascade(source, max_pixels, widths)
    outputs = []
    for im in d.renditions:
        if max(im.size) > AVIF_MAX_SIDE:
            continue
        buf = io.BytesIO()
        im.save(buf, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED, max_threads=1)
        outputs.append(Output(f"w{im.width}.avif", "image/avif", *im.size, buf.getvalue()))
    return outputs
