"""Safe image loading: sniff the real type, refuse bombs from the header, decode fully, normalise to RGB.

Every uploaded or scanned image goes through :func:`load_image` before anything else touches it, so the rest of
the system can assume an upright 8-bit RGB ``PIL.Image`` of sane size. Why each step:

- the type comes from the first bytes, never the file name, and Pillow is told to try only that one plugin
  (``Image.open(formats=...)``): a renamed PDF/EPS/SVG never reaches a decoder it was not meant for;
- width×height is read from the header and checked against ``ImageLimits`` *before* decoding, so a 40,000×40,000
  PNG of a few KB is refused without allocating gigabytes. Pillow's own guard (``DecompressionBombWarning`` /
  ``DecompressionBombError``, thresholds from the global ``Image.MAX_IMAGE_PIXELS``, not changed here) is caught
  too: its error always maps to ``too_many_pixels``; its warning does so only if our limit is also exceeded, because
  its threshold (~89 MP) may be below the configured ``max_pixels``;
- ``img.load()`` decodes everything, so a truncated file fails here as ``corrupt`` rather than later in a
  background job (``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default, False);
- EXIF orientation is applied, and every mode (CMYK, 16-bit, palette, alpha, grey) becomes RGB 8-bit, alpha
  composited on white (what a viewer shows, and what a model trained on photos expects).

Derived features (thumbnails, perceptual hash, colour names) live in :mod:`shared.vision.features` and are
re-exported here so callers import one module.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from shared.observability.tracing import span
from shared.vision.convert import to_rgb
from shared.vision.exif import ExifInfo, read_exif
from shared.vision.features import dominant_colours, hamming, make_thumbnail, orientation_of, perceptual_hash

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_MEDIA_TYPES",
    "ExifInfo",
    "ImageInputError",
    "ImageLimits",
    "LoadedImage",
    "dominant_colours",
    "hamming",
    "load_image",
    "make_thumbnail",
    "orientation_of",
    "perceptual_hash",
    "sniff_format",
]

# our format name -> (Pillow plugin name, media type, file extensions that honestly name it)
_FORMATS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "jpeg": ("JPEG", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "png": ("PNG", "image/png", (".png",)),
    "webp": ("WEBP", "image/webp", (".webp",)),
    "gif": ("GIF", "image/gif", (".gif",)),
    "tiff": ("TIFF", "image/tiff", (".tif", ".tiff")),
}
SUPPORTED_MEDIA_TYPES: tuple[str, ...] = tuple(media for _, media, _ in _FORMATS.values())
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(ext for _, _, exts in _FORMATS.values() for ext in exts)
_IMAGE_EXTENSIONS = {ext: name for name, (_, _, exts) in _FORMATS.items() for ext in exts} | {
    ext: "other" for ext in (".bmp", ".heic", ".heif", ".avif", ".svg", ".ico", ".psd", ".jp2", ".jxl")
}

ErrorCode = str  # "empty" | "too_large" | "unsupported_type" | "corrupt" | "too_many_pixels" | "bad_dimensions"


@dataclass(frozen=True)
class ImageLimits:
    """What an accepted image may look like. Defaults match ``MultimodalSettings``' input limits.

    ``max_pixels`` stops decompression bombs (checked from the header); ``max_side``/``min_side`` and
    ``max_aspect_ratio`` (longest/shortest side) stop degenerate strips that break thumbnails and models.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 100_000_000
    max_side: int = 30_000
    min_side: int = 1
    max_aspect_ratio: float = 500.0


class ImageInputError(Exception):
    """An input the loader refuses. ``code`` is stable (API problem types map from it); the message is for humans."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class LoadedImage:
    """A decoded, upright, RGB 8-bit image and what was learnt while loading it.

    ``width``/``height`` are after EXIF orientation; ``original_mode`` is Pillow's mode before conversion
    ("CMYK", "I;16", "P", "RGBA", ...); ``n_frames`` counts GIF/WebP frames or TIFF pages (only the first is used);
    ``sha256`` is the hex digest of the uploaded bytes (exact-duplicate detection).
    """

    image: Image.Image
    format: str
    media_type: str
    width: int
    height: int
    original_mode: str
    n_frames: int
    exif: ExifInfo
    sha256: str
    size_bytes: int
    warnings: list[str] = field(default_factory=list)


def sniff_format(data: bytes) -> str | None:
    """Our format name from the magic bytes (``"jpeg"``, ``"png"``, ``"webp"``, ``"gif"``, ``"tiff"``) or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def _describe_unknown(data: bytes) -> str:
    """A hint for the error message: what the bytes look like, when it is a common non-supported kind."""
    head = data[:64].lstrip()
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head[:2] == b"BM":
        return "a BMP image"
    if data[4:8] == b"ftyp":
        return "an HEIC/AVIF/MP4 container"
    if head[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in head.lower():
        return "SVG/XML text"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    try:
        data[:512].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def load_image(data: bytes, filename: str | None, limits: ImageLimits | None = None) -> LoadedImage:
    """Validate and decode one image upload; raises :class:`ImageInputError` with a stable ``code``.

    ``filename`` is only used to warn when its extension disagrees with the content (a PNG named ``.jpg`` loads,
    with a warning); it never decides how the bytes are decoded.
    """
    limits = limits or ImageLimits()
    with span("vision.load_image", size_bytes=len(data)):
        return _load(data, filename, limits)


def _load(data: bytes, filename: str | None, limits: ImageLimits) -> LoadedImage:
    if not data:
        raise ImageInputError("empty", "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageInputError("too_large", f"the file is {len(data):,} bytes; the limit is {limits.max_bytes:,} bytes")
    fmt = sniff_format(data)
    if fmt is None:
        allowed = ", ".join(f.upper() for f in _FORMATS)
        raise ImageInputError(
            "unsupported_type",
            f"the content is {_describe_unknown(data)}, not a supported image ({allowed}); "
            "the file name is not trusted",
        )
    plugin, media_type, extensions = _FORMATS[fmt]
    notes: list[str] = []
    ext = ("." + filename.rsplit(".", 1)[-1].lower()) if filename and "." in filename else ""
    if ext in _IMAGE_EXTENSIONS and ext not in extensions:
        notes.append(f"file name says {ext} but the content is {fmt.upper()}; loaded as {fmt.upper()}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[plugin])
        except Image.DecompressionBombError as exc:
            raise ImageInputError("too_many_pixels", f"{exc} (limit {limits.max_pixels:,} pixels)") from exc
        except Exception as exc:  # any plugin failure on a header that looked right is a broken file
            raise ImageInputError("corrupt", f"the {fmt.upper()} header cannot be read ({exc})") from exc
    width, height = img.size
    _check_dimensions(width, height, limits)
    if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        # Pillow's threshold is below ours; our own header check above already passed, so the image is allowed
        notes.append(f"{width}×{height} is over Pillow's decompression-bomb warning threshold but within the limit")

    n_frames = 1
    try:
        n_frames = int(getattr(img, "n_frames", 1))
        if n_frames > 1:
            img.seek(0)
            kind = "pages" if fmt == "tiff" else "frames"
            label = "multi-page" if fmt == "tiff" else "animated"
            notes.append(f"{label}: first of {n_frames} {kind} used")
        original_mode = img.mode
        img.load()
        exif = read_exif(img)  # after load: PNG keeps eXIf after the pixel data and would decode here anyway
        if img.size != (width, height):  # a plugin may change size on load (e.g. JPEG draft): re-check
            width, height = img.size
            _check_dimensions(width, height, limits)
        rgb = to_rgb(ImageOps.exif_transpose(img))
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageInputError("too_many_pixels", f"{exc} (limit {limits.max_pixels:,} pixels)") from exc
    except Exception as exc:  # truncated data, bad Huffman tables, zlib errors, broken palettes...
        raise ImageInputError("corrupt", f"the {fmt.upper()} data cannot be decoded ({exc})") from exc
    finally:
        img.close()
    return LoadedImage(
        image=rgb,
        format=fmt,
        media_type=media_type,
        width=rgb.width,
        height=rgb.height,
        original_mode=original_mode,
        n_frames=n_frames,
        exif=exif,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        warnings=notes,
    )


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    """Pixels first (a bomb is reported as a bomb even when a side is also too long), then sides and aspect."""
    if width * height > limits.max_pixels:
        raise ImageInputError(
            "too_many_pixels",
            f"the header says {width}×{height} = {width * height:,} pixels; the limit is {limits.max_pixels:,}",
        )
    short, long = min(width, height), max(width, height)
    if short < limits.min_side:
        raise ImageInputError(
            "bad_dimensions", f"{width}×{height}: the shortest side must be at least {limits.min_side} px"
        )
    if long > limits.max_side:
        raise ImageInputError(
            "bad_dimensions", f"{width}×{height}: the longest side must be at most {limits.max_side:,} px"
        )
    if long / short > limits.max_aspect_ratio:
        raise ImageInputError(
            "bad_dimensions",
            f"{width}×{height}: aspect ratio {long / short:,.0f}:1 exceeds the limit of {limits.max_aspect_ratio:g}:1",
        )
