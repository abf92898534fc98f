"""EXIF metadata worth indexing: when, with what camera, where, and which way up.

Camera firmware and editing tools write all kinds of junk (``0000:00:00 00:00:00`` dates, zero denominators
in GPS rationals, bytes where strings belong), so every field is parsed on its own and a bad value becomes
``None`` instead of failing the upload: metadata is a bonus, the image is what was asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image

_MAKE, _MODEL, _DATETIME, _ORIENTATION = 0x010F, 0x0110, 0x0132, 0x0112
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4


@dataclass(frozen=True)
class ExifInfo:
    """Parsed EXIF fields; each is ``None`` when absent or unreadable.

    ``taken_at`` is naive (camera-local time, as EXIF stores it) unless the file carries OffsetTimeOriginal,
    in which case it is timezone-aware. ``gps_lat``/``gps_lon`` are decimal degrees, negative for S/W; a fix at
    exactly (0, 0) is treated as "no fix" (cameras write zeros when they have none).
    """

    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int | None = None


def read_exif(image: Image.Image) -> ExifInfo:
    """EXIF of an opened (not necessarily decoded) image; an unreadable EXIF block gives an empty ``ExifInfo``."""
    try:
        exif = image.getexif()
        ifd0: dict[int, Any] = dict(exif)
        try:
            sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
        except Exception:  # a broken sub-IFD pointer must not hide IFD0's fields
            sub = {}
        try:
            gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
        except Exception:
            gps = {}
    except Exception:
        return ExifInfo()
    taken = _parse_datetime(sub.get(_DATETIME_ORIGINAL)) or _parse_datetime(ifd0.get(_DATETIME))
    if taken is not None and sub.get(_DATETIME_ORIGINAL) is not None:
        taken = _with_offset(taken, sub.get(_OFFSET_TIME_ORIGINAL))
    lat = _gps_coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S", 90.0)
    lon = _gps_coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        lat = lon = None
    orientation = _as_int(ifd0.get(_ORIENTATION))
    return ExifInfo(
        taken_at=taken,
        camera_make=_clean_text(ifd0.get(_MAKE)),
        camera_model=_clean_text(ifd0.get(_MODEL)),
        gps_lat=lat,
        gps_lon=lon,
        orientation=orientation if orientation is not None and 1 <= orientation <= 8 else None,
    )


def _clean_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value.replace("\x00", " ") if ch.isprintable()).strip()
    return text[:128] or None


def _parse_datetime(value: Any) -> datetime | None:
    text = _clean_text(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y:%m:%d"):
        try:
            parsed = datetime.strptime(text[: len(datetime(2000, 1, 1).strftime(fmt))], fmt)
        except ValueError:
            continue
        return parsed if 1800 <= parsed.year <= 2200 else None
    return None


def _with_offset(taken: datetime, offset: Any) -> datetime:
    """Attach ``OffsetTimeOriginal`` ("+02:00") when it parses; otherwise keep the naive camera-local time."""
    text = _clean_text(offset)
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return taken
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return taken
    if hours > 14 or minutes > 59:
        return taken
    sign = 1 if text[0] == "+" else -1
    return taken.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _gps_coordinate(dms: Any, ref: Any, negative_ref: str, bound: float) -> float | None:
    """Degrees/minutes/seconds rationals plus an N/S or E/W reference → signed decimal degrees."""
    if not isinstance(dms, tuple | list) or not 1 <= len(dms) <= 3:
        return None
    parts = [_as_float(p) for p in dms]
    if any(p is None or p < 0 for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts))  # type: ignore[operator]
    if degrees > bound:
        return None
    ref_text = (_clean_text(ref) or "").upper()
    return round(-degrees if ref_text.startswith(negative_ref) else degrees, 7)
