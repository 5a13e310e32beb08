#!/usr/bin/env python
"""Image renditions: the project's pipeline (``render.images.render_set``) against a naive
Pillow baseline and pyvips, on the same rendition set, in one run.

    .venv/bin/pip install pyvips pyvips-binary numpy     # once; not project dependencies
    .venv/bin/python benchmarks/images.py                # ~70 s on 2 cores
    .venv/bin/python benchmarks/images.py --rounds 1 --no-big    # ~25 s, noisier
    .venv/bin/python benchmarks/images.py --probe        # encoder and filter choices, ~20 s

The set: widths 320, 640, 1024 and 1600 (those not wider than the upright source; a source
narrower than 320 gets one at its own width) and a square 160 thumbnail, each as JPEG and
WebP, for photo-12mp-exif6.jpg (4000x3000 upright, stored sideways with EXIF orientation 6),
hubble.jpg (1000x872, embedded profile), rocket.jpg (640x427, Adobe RGB), coffee.jpg
(600x400) and astronaut-cmyk.jpg (512x512 CMYK): 30 JPEG+WebP outputs per contender.

Contenders, each in a fresh subprocess (so its peak RSS is its own), each subprocess doing
one untimed warm-up on coffee.jpg, then ``--repeat`` timed passes over all five files;
``--rounds`` subprocesses per contender, interleaved, so a busy moment on a shared machine
hits every contender:

  naive              Pillow: open, exif_transpose, convert to RGB, each width resized from the
                     full original with LANCZOS, thumbnail by ImageOps.fit (LANCZOS); no
                     colour management, no draft
  vips-thumbnail     pyvips ``thumbnail_buffer`` per rendition (shrink-on-load every time)
  vips-cascade       pyvips ``thumbnail_buffer`` for the widest, then ``thumbnail_image`` of
                     the previous rendition for each narrower one, and of the smallest
                     rendition at least 160 on both sides for the thumbnail
  pipeline           render.images.render_set as it is (the production settings)
  pipeline+avif      the same with AVIF for every width at speed 9 (AVIF_UP_TO = 1600)
  pipeline+avif1024s8  the same with AVIF for the widths up to 1024 at speed 8

Encoder settings: naive and vips-* use JPEG q 82 progressive + optimized Huffman tables and
WebP q 80 method (libvips: effort) 4, and strip metadata (``keep="none"``). The pipeline's own
settings are printed under the table. The pyvips contenders convert an embedded ICC profile to
sRGB (``export_profile="srgb"``, asked for only when there is one: on an untagged image it
costs ~300 ms for the 12 MP photo); libvips turns CMYK into sRGB through its own CMYK profile.
Pillow works on one thread; libvips uses its default thread pool (one thread per core).

Quality: SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid
windows only) of the BT.601 luma of each decoded output against a reference made in float:
the full-resolution original decoded without draft, turned upright, converted to sRGB
through its profile (CMYK: Pillow's conversion), each channel resized in mode "F" with
LANCZOS straight to the output's size (thumbnails: the centred square, likewise).

Last, a 50-megapixel JPEG (8660x5773: the upright 12 MP photo tiled, q 90, written to a temp
dir) goes through the pipeline and vips-cascade, one pass each in its own subprocess, with
peak RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from PIL import Image, ImageCms, ImageOps  # noqa: E402

from render import images  # noqa: E402

try:
    import numpy as np
except ImportError:  # only the parent needs it (SSIM); it says so
    np = None

FIXTURES = ROOT / "tests" / "fixtures" / "images"
FILES = ["photo-12mp-exif6.jpg", "hubble.jpg", "rocket.jpg", "coffee.jpg", "astronaut-cmyk.jpg"]
WARMUP = "coffee.jpg"
WIDTHS = (320, 640, 1024, 1600)
THUMB = 160
BIG_SIZE = (8660, 5773)
MAX_PIXELS = 60_000_000
JPEG_Q, WEBP_Q, WEBP_EFFORT = 82, 80, 4  # naive and vips-*
VARIANTS = {  # pipeline variants: module constants of render.images set in the subprocess
    "pipeline": {},
    "pipeline+avif": {"AVIF_UP_TO": 1600, "AVIF_SPEED": 9},
    "pipeline+avif1024s8": {"AVIF_UP_TO": 1024, "AVIF_SPEED": 8},
}
CONTENDERS = ["naive", "vips-thumbnail", "vips-cascade", *VARIANTS]
BASE = "vips-cascade"
SAME_SET = ("image/jpeg", "image/webp")

Out = tuple  # (name, contenttype, width, height, data)


# --- the contenders (in the subprocess) ---------------------------------------------------------


def plan(upright_width: int) -> list[int]:
    """The widths every contender makes: the standard ones that fit, else the image's own."""
    return [w for w in WIDTHS if w <= upright_width] or [upright_width]


def pil_encode(img: Image.Image, stem: str) -> list[Out]:
    jpeg, webp = io.BytesIO(), io.BytesIO()
    img.save(jpeg, "JPEG", quality=JPEG_Q, optimize=True, progressive=True)
    img.save(webp, "WEBP", quality=WEBP_Q, method=WEBP_EFFORT)
    return [
        (f"{stem}.jpg", "image/jpeg", *img.size, jpeg.getvalue()),
        (f"{stem}.webp", "image/webp", *img.size, webp.getvalue()),
    ]


def naive(data: bytes) -> list[Out]:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if img.mode != "RGB":
        img = img.convert("RGB")
    outs = []
    for w in plan(img.width):
        h = max(1, round(img.height * w / img.width))
        outs += pil_encode(img.resize((w, h), Image.Resampling.LANCZOS), f"w{w}")
    return outs + pil_encode(ImageOps.fit(img, (THUMB, THUMB), Image.Resampling.LANCZOS), "thumb")


def vips_encode(img, stem: str) -> list[Out]:
    img = img.copy_memory()  # two encoders read it: compute it once
    jpeg = img.jpegsave_buffer(Q=JPEG_Q, optimize_coding=True, interlace=True, keep="none")
    webp = img.webpsave_buffer(Q=WEBP_Q, effort=WEBP_EFFORT, keep="none")
    return [
        (f"{stem}.jpg", "image/jpeg", img.width, img.height, jpeg),
        (f"{stem}.webp", "image/webp", img.width, img.height, webp),
    ]


def vips_header(data: bytes) -> tuple[int, dict]:
    """The upright width, and the colour options: sRGB out only when a profile is in."""
    import pyvips

    head = pyvips.Image.new_from_buffer(data, "")
    orientation = head.get("orientation") if head.get_typeof("orientation") else 1
    width = head.height if orientation in (5, 6, 7, 8) else head.width
    profile = {"export_profile": "srgb"} if head.get_typeof("icc-profile-data") else {}
    return width, profile


def vips_thumbnail(data: bytes) -> list[Out]:
    import pyvips

    width, profile = vips_header(data)
    outs = []
    for w in plan(width):
        img = pyvips.Image.thumbnail_buffer(data, w, height=10_000_000, size="down", **profile)
        outs += vips_encode(img, f"w{w}")
    thumb = pyvips.Image.thumbnail_buffer(
        data, THUMB, height=THUMB, crop="centre", size="down", **profile
    )
    return outs + vips_encode(thumb, "thumb")


def vips_cascade(data: bytes) -> list[Out]:
    import pyvips

    width, profile = vips_header(data)
    widths = sorted(plan(width), reverse=True)
    first = pyvips.Image.thumbnail_buffer(
        data, widths[0], height=10_000_000, size="down", **profile
    )
    made = [first.copy_memory()]
    for w in widths[1:]:
        made.append(made[-1].thumbnail_image(w, height=10_000_000).copy_memory())
    outs = []
    for img in reversed(made):
        outs += vips_encode(img, f"w{img.width}")
    thumb_from = next((im for im in reversed(made) if min(im.width, im.height) >= THUMB), made[0])
    thumb = thumb_from.thumbnail_image(THUMB, height=THUMB, crop="centre", size="down")
    return outs + vips_encode(thumb, "thumb")


def pipeline(data: bytes) -> list[Out]:
    rs = images.render_set(data, MAX_PIXELS)
    return [(o.name, o.contenttype, o.width, o.height, o.data) for o in rs.outputs]


def contender(name: str):
    if name in VARIANTS:
        for attr, value in VARIANTS[name].items():
            setattr(images, attr, value)
        return pipeline
    if name == "naive":
        return naive
    import pyvips

    pyvips.cache_set_max(0)  # every pass decodes afresh, as a worker meeting new images would
    return {"vips-thumbnail": vips_thumbnail, "vips-cascade": vips_cascade}[name]


def peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux keeps that across execve, so a
    subprocess of a big parent would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args: argparse.Namespace) -> None:
    run = contender(args.child)
    run((FIXTURES / WARMUP).read_bytes())  # loads the codecs; not timed
    sources = {p: Path(p).read_bytes() for p in args.files}
    rss_start = peak_rss_kib()
    walls, cpus, outputs = [], [], {}
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        outputs = {p: run(data) for p, data in sources.items()}
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    if args.out:
        Path(args.out).write_bytes(pickle.dumps(outputs))
    sizes = {p: sum(len(o[4]) for o in outs) for p, outs in outputs.items()}
    print(
        json.dumps(
            {
                "wall": walls,
                "cpu": cpus,
                "rss_start_kib": rss_start,
                "rss_peak_kib": peak_rss_kib(),
                "bytes": sizes,
            }
        )
    )


# --- quality (in the parent) --------------------------------------------------------------------


def _blur(a, kernel):
    from numpy.lib.stride_tricks import sliding_window_view

    a = sliding_window_view(a, len(kernel), axis=0) @ kernel
    return sliding_window_view(a, len(kernel), axis=1) @ kernel


def ssim(a, b) -> float:
    """Mean SSIM of two luma planes (float64, 0-255) of one size."""
    x = np.arange(11) - 5
    kernel = np.exp(-(x**2) / (2 * 1.5**2))
    kernel /= kernel.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _blur(a, kernel), _blur(b, kernel)
    var_a = _blur(a * a, kernel) - mu_a**2
    var_b = _blur(b * b, kernel) - mu_b**2
    cov = _blur(a * b, kernel) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def luma(channels):
    r, g, b = (np.asarray(c, dtype=np.float64) for c in channels)
    return 0.299 * r + 0.587 * g + 0.114 * b


class Reference:
    """Float LANCZOS resizes of one upright, sRGB, full-resolution original."""

    def __init__(self, path: Path) -> None:
        img = ImageOps.exif_transpose(Image.open(path))
        icc = img.info.get("icc_profile")
        if icc:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            img = ImageCms.profileToProfile(img, src, srgb, outputMode="RGB")
        self.channels = [c.convert("F") for c in img.convert("RGB").split()]
        self.cache: dict = {}

    def at(self, width: int, height: int, thumb: bool):
        key = (width, height, thumb)
        if key not in self.cache:
            w, h = self.channels[0].size
            box = (0.0, 0.0, w, h)
            if thumb:
                side = min(w, h)
                box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
            lanczos = Image.Resampling.LANCZOS
            self.cache[key] = luma(
                c.resize((width, height), lanczos, box=box) for c in self.channels
            )
        return self.cache[key]


def score(outputs: dict[str, list[Out]], refs: dict) -> dict[str, dict]:
    """Every output as {'file/name': {ctype, width, height, bytes, ssim, thumb}}."""
    scored = {}
    for path, outs in outputs.items():
        if path not in refs:
            refs[path] = Reference(Path(path))
        for name, ctype, w, h, data in outs:
            got = luma(Image.open(io.BytesIO(data)).convert("RGB").split())
            thumb = name.startswith("thumb")
            scored[f"{Path(path).name}/{name}"] = {
                "ctype": ctype,
                "width": w,
                "bytes": len(data),
                "thumb": thumb,
                "ssim": ssim(got, refs[path].at(w, h, thumb)),
            }
    return scored


# --- the parent ----------------------------------------------------------------------------------


def run_child(name: str, files: list[str], repeat: int, out: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--repeat", str(repeat)]
    cmd += ["--out", out] if out else []
    done = subprocess.run([*cmd, *files], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def have_pyvips() -> bool:
    try:
        import pyvips

        pyvips.version(0)
    except Exception as exc:
        print(
            f"pyvips is not usable ({type(exc).__name__}: {exc}). Install it with\n"
            "    .venv/bin/pip install pyvips pyvips-binary\n"
            "Without it the vips-* contenders are skipped and no ratio to vips-cascade is "
            "printed.\n",
            file=sys.stderr,
        )
        return False
    return True


def pipeline_settings() -> str:
    s = (
        f"JPEG q {images.JPEG_QUALITY} progressive + optimized, "
        f"WebP q {images.WEBP_QUALITY} method {images.WEBP_METHOD}, LANCZOS cascade, draft"
    )
    if images.AVIF_UP_TO and images.AVIF_AVAILABLE:
        s += (
            f", AVIF q {images.AVIF_QUALITY} speed {images.AVIF_SPEED} for widths up to "
            f"{images.AVIF_UP_TO}"
        )
    else:
        s += ", no AVIF"
    avif = {k: v for k, v in VARIANTS.items() if v}
    return s + "; variants: " + "; ".join(f"{k}: {v}" for k, v in avif.items())


def mean(values) -> float:
    values = list(values)
    return statistics.fmean(values) if values else float("nan")


def report(names: list[str], runs: dict, scored: dict, samples: int) -> None:
    keys = {n: sorted(k for k, v in scored[n].items() if v["ctype"] in SAME_SET) for n in names}
    for n in names:
        if keys[n] != keys[names[0]]:
            print(f"note: {n} made a different set: {set(keys[n]) ^ set(keys[names[0]])}")
    rows = {}
    for n in names:
        same = [v for v in scored[n].values() if v["ctype"] in SAME_SET]
        rows[n] = {
            "wall": statistics.median(runs[n]["wall"]) * 1000,
            "wall_min": min(runs[n]["wall"]) * 1000,
            "cpu": statistics.median(runs[n]["cpu"]) * 1000,
            "rss": runs[n]["rss"] / 1024,
            "bytes": sum(v["bytes"] for v in same),
            "all_bytes": sum(v["bytes"] for v in scored[n].values()),
            "ssim": mean(v["ssim"] for v in same if not v["thumb"]),
            "ssim_thumb": mean(v["ssim"] for v in same if v["thumb"]),
        }
    base = rows.get(BASE)
    print(
        f"\n{len(FILES)} files, {len(keys[names[0]])} JPEG+WebP outputs per contender. Wall and "
        f"CPU: median of {samples} passes over all files, ms. RSS: peak of the subprocess, MB. "
        "Bytes and SSIM: the JPEG+WebP outputs (SSIM: mean over the width renditions; "
        "thumbnails apart). x c: ratio to vips-cascade.\n"
    )
    head = [
        "contender", "wall", "min wall", "CPU", "peak RSS", "JPEG+WebP bytes", "all bytes",
        "SSIM widths", "SSIM thumbs",
    ]  # fmt: skip
    if base:
        head += ["wall x c", "min wall x c", "CPU x c", "bytes x c", "SSIM - c"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n, r in rows.items():
        cells = [
            n,
            f"{r['wall']:.0f}",
            f"{r['wall_min']:.0f}",
            f"{r['cpu']:.0f}",
            f"{r['rss']:.0f}",
            f"{r['bytes']:,}",
            f"{r['all_bytes']:,}",
            f"{r['ssim']:.4f}",
            f"{r['ssim_thumb']:.4f}",
        ]
        if base:
            cells += [
                f"{r['wall'] / base['wall']:.2f}",
                f"{r['wall_min'] / base['wall_min']:.2f}",
                f"{r['cpu'] / base['cpu']:.2f}",
                f"{r['bytes'] / base['bytes']:.3f}",
                f"{r['ssim'] - base['ssim']:+.4f}",
            ]
        print("| " + " | ".join(cells) + " |")

    print("\nSSIM of the width renditions (JPEG and WebP) per file:\n")
    print("| contender | " + " | ".join(FILES) + " |")
    print("|" + "---|" * (len(FILES) + 1))
    for n in names:
        per = [
            mean(
                v["ssim"]
                for k, v in scored[n].items()
                if k.startswith(f + "/") and v["ctype"] in SAME_SET and not v["thumb"]
            )
            for f in FILES
        ]
        print(f"| {n} | " + " | ".join(f"{s:.4f}" for s in per) + " |")

    for n in names:
        avif = {k: v for k, v in scored[n].items() if v["ctype"] == "image/avif"}
        if not avif:
            continue
        print(f"\n{n}: AVIF against the WebP of the same rendition, by width (all files):\n")
        print("| width | outputs | AVIF bytes | WebP bytes | AVIF/WebP | AVIF SSIM | WebP SSIM |")
        print("|---|---|---|---|---|---|---|")
        by_width = defaultdict(list)
        for k, v in avif.items():
            by_width[v["width"]].append((v, scored[n][k.rsplit(".", 1)[0] + ".webp"]))
        for w in sorted(by_width):
            pairs = by_width[w]
            a = sum(p[0]["bytes"] for p in pairs)
            b = sum(p[1]["bytes"] for p in pairs)
            print(
                f"| {w} | {len(pairs)} | {a:,} | {b:,} | {a / b:.2f} | "
                f"{mean(p[0]['ssim'] for p in pairs):.4f} | "
                f"{mean(p[1]['ssim'] for p in pairs):.4f} |"
            )


def big(names: list[str], tmp: str) -> None:
    path = Path(tmp) / "big-50mp.jpg"
    tile = ImageOps.exif_transpose(Image.open(FIXTURES / "photo-12mp-exif6.jpg"))
    canvas = Image.new("RGB", BIG_SIZE)
    for y in range(0, BIG_SIZE[1], tile.height):  # tiled, so it keeps a photo's detail
        for x in range(0, BIG_SIZE[0], tile.width):
            canvas.paste(tile, (x, y))
    canvas.save(path, "JPEG", quality=90)
    del tile, canvas
    size = path.stat().st_size
    print(f"\n50 MP: {BIG_SIZE[0]}x{BIG_SIZE[1]} JPEG of {size:,} bytes, one pass each:\n")
    print("| contender | wall ms | CPU ms | peak RSS MB | RSS before the pass MB | output bytes |")
    print("|---|---|---|---|---|---|")
    for name in [n for n in ("pipeline", "vips-cascade") if n in names]:
        r = run_child(name, [str(path)], 1)
        print(
            f"| {name} | {r['wall'][0] * 1000:.0f} | {r['cpu'][0] * 1000:.0f} | "
            f"{r['rss_peak_kib'] / 1024:.0f} | {r['rss_start_kib'] / 1024:.0f} | "
            f"{r['bytes'][str(path)]:,} |"
        )


# --- the probe: why the pipeline's encoder settings and filters are what they are ---------------


def _upright_srgb(path: Path) -> Image.Image:
    """What the pipeline resizes: drafted to the widest rendition, upright, sRGB."""
    img = images.open_checked(path.read_bytes(), MAX_PIXELS)
    img = ImageOps.exif_transpose(images._decode(img, max(WIDTHS)))
    return images._to_srgb(img)


def _cascade(img: Image.Image, first, rest) -> tuple[list[Image.Image], float]:
    made, spent = [img], 0.0
    for i, w in enumerate(w for w in sorted(WIDTHS, reverse=True) if w <= img.width):
        prev = made[-1]
        h = max(1, round(prev.height * w / prev.width))
        t = time.perf_counter()
        made.append(prev.resize((w, h), first if i == 0 else rest, reducing_gap=3.0))
        spent += time.perf_counter() - t
    return made[1:], spent


def _timed_save(img: Image.Image, fmt: str, **params) -> tuple[bytes, float]:
    best, data = float("inf"), b""
    for _ in range(3):
        buf = io.BytesIO()
        t = time.process_time()
        img.save(buf, fmt, **params)
        best = min(best, time.process_time() - t)
        data = buf.getvalue()
    return data, best


def probe() -> None:
    """Encoder settings on the 12 MP photo's renditions; resampling filters on all files."""
    lanczos, bicubic = Image.Resampling.LANCZOS, Image.Resampling.BICUBIC
    path = FIXTURES / FILES[0]
    ref = Reference(path)
    made, _ = _cascade(_upright_srgb(path), lanczos, lanczos)
    settings = [
        ("JPEG q82 progressive", "JPEG", {"quality": 82, "optimize": True, "progressive": True}),
        *[
            (f"WebP q{q} m{m}", "WEBP", {"quality": q, "method": m})
            for m, q in ((4, 80), (3, 80), (2, 78), (2, 80), (2, 82), (1, 80))
        ],
        *[
            (f"AVIF q{q} s{sp}", "AVIF", {"quality": q, "speed": sp, "max_threads": 1})
            for sp, q in ((8, 50), (8, 60), (9, 50), (9, 60), (9, 70))
        ],
    ]
    print(
        f"\nprobe: encoders on the renditions of {path.name} (bytes / SSIM / CPU ms, best of 3)\n"
    )
    print("| setting | " + " | ".join(f"w{im.width}" for im in made) + " |")
    print("|" + "---|" * (len(made) + 1))
    for label, fmt, params in settings:
        if fmt == "AVIF" and not images.AVIF_AVAILABLE:
            continue
        cells = []
        for im in made:
            data, spent = _timed_save(im, fmt, **params)
            got = luma(Image.open(io.BytesIO(data)).convert("RGB").split())
            quality = ssim(got, ref.at(*im.size, False))
            cells.append(f"{len(data):,} / {quality:.4f} / {spent * 1000:.0f}")
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\nprobe: resampling filters, cascade over all files, JPEG+WebP as the pipeline\n")
    print("| filters | resize ms | bytes | SSIM before encoding | SSIM after |")
    print("|---|---|---|---|---|")
    sources = {f: _upright_srgb(FIXTURES / f) for f in FILES}
    refs = {f: Reference(FIXTURES / f) for f in FILES}
    for label, first, rest in (
        ("LANCZOS every step", lanczos, lanczos),
        ("BICUBIC first step, then LANCZOS", bicubic, lanczos),
        ("BICUBIC every step", bicubic, bicubic),
    ):
        spent, size, before, after = 0.0, 0, [], []
        for f, img in sources.items():
            rendered, t = min((_cascade(img, first, rest) for _ in range(3)), key=lambda r: r[1])
            spent += t
            for im in rendered:
                target = refs[f].at(*im.size, False)
                before.append(ssim(luma(im.convert("RGB").split()), target))
                for fmt, params in (
                    ("JPEG", {"quality": 82, "optimize": True, "progressive": True}),
                    ("WEBP", {"quality": images.WEBP_QUALITY, "method": images.WEBP_METHOD}),
                ):
                    buf = io.BytesIO()
                    im.save(buf, fmt, **params)
                    size += buf.tell()
                    decoded = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
                    after.append(ssim(luma(decoded.split()), target))
        print(
            f"| {label} | {spent * 1000:.0f} | {size:,} | {mean(before):.5f} | {mean(after):.5f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="subprocesses per contender")
    p.add_argument("--repeat", type=int, default=3, help="timed passes per subprocess")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated")
    p.add_argument("--no-big", action="store_true", help="skip the 50-megapixel run")
    p.add_argument("--probe", action="store_true", help="only the encoder and filter probe")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    if np is None:
        raise SystemExit("numpy is needed for SSIM: .venv/bin/pip install numpy")
    if args.probe:
        probe()
        return
    names = args.contenders.split(",")
    if not have_pyvips():
        names = [n for n in names if not n.startswith("vips")]
    files = [str(FIXTURES / f) for f in FILES]
    runs = {n: {"wall": [], "cpu": [], "rss": 0} for n in names}
    scored, refs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for name in names:
                out = os.path.join(tmp, f"{name}.pickle") if rnd == 0 else None
                r = run_child(name, files, args.repeat, out)
                runs[name]["wall"] += r["wall"]
                runs[name]["cpu"] += r["cpu"]
                runs[name]["rss"] = max(runs[name]["rss"], r["rss_peak_kib"])
                if out:
                    scored[name] = score(pickle.loads(Path(out).read_bytes()), refs)
        refs.clear()
        report(names, runs, scored, args.rounds * args.repeat)
        if not args.no_big:
            big(names, tmp)
    print(f"\npipeline settings: {pipeline_settings()}")
    print(f"python {sys.version.split()[0]}, Pillow {Image.__version__}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
