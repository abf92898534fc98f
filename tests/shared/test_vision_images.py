"""shared.vision.images: every bad input from issue 6, format/mode normalisation, EXIF, thumbnails, pHash, colours.

Images are generated with Pillow here, or read from scikit-learn's packaged sample photos (china.jpg, flower.jpg).
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from shared.vision.features import COLOUR_NAMES
from shared.vision.images import (
    ImageInputError,
    ImageLimits,
    dominant_colours,
    hamming,
    load_image,
    make_thumbnail,
    orientation_of,
    perceptual_hash,
    sniff_format,
)

SAMPLES = Path(sklearn.datasets.__file__).parent / "images"


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def photo(name: str = "china.jpg") -> bytes:
    return (SAMPLES / name).read_bytes()


def refused(data: bytes, filename: str | None = "x.jpg", limits: ImageLimits | None = None) -> ImageInputError:
    with pytest.raises(ImageInputError) as info:
        load_image(data, filename, limits or ImageLimits())
    return info.value


def png_with_header_size(width: int, height: int) -> bytes:
    """A real 8×8 PNG whose IHDR claims ``width``×``height`` (CRC fixed up): a decompression bomb's header."""
    data = bytearray(encode(Image.new("RGB", (8, 8), "white"), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# -- bad input ------------------------------------------------------------------------------------------------


def test_empty_bytes_are_refused():
    assert refused(b"").code == "empty"


def test_text_file_named_jpg_is_unsupported_whatever_its_extension():
    err = refused(b"just some notes, not a picture\n", "holiday.jpg")
    assert err.code == "unsupported_type"
    assert "text" in str(err) and "JPEG" in str(err)
    assert refused(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "scan.png").code == "unsupported_type"
    assert refused(encode(Image.new("RGB", (4, 4)), "BMP"), "x.png").code == "unsupported_type"


def test_file_over_the_byte_limit_is_refused_before_decoding():
    err = refused(photo(), limits=ImageLimits(max_bytes=10_000))
    assert err.code == "too_large"
    assert "10,000" in str(err)


def test_truncated_jpeg_is_corrupt():
    data = photo()
    err = refused(data[: len(data) // 2])
    assert err.code == "corrupt"
    assert "JPEG" in str(err)


def test_decompression_bomb_is_refused_from_the_header():
    # 40000×40000 = 1.6 GP: Pillow's own DecompressionBombError fires while reading the header
    err = refused(png_with_header_size(40_000, 40_000), "bomb.png")
    assert err.code == "too_many_pixels"
    # 12000×9000 = 108 MP: over our 100 MP limit but under Pillow's error threshold — our header check catches it
    err = refused(png_with_header_size(12_000, 9_000), "bomb.png")
    assert err.code == "too_many_pixels"
    assert "12000×9000" in str(err) and "100,000,000" in str(err)
    # the configured limit is what counts, not Pillow's
    err = refused(png_with_header_size(2_000, 2_000), "big.png", ImageLimits(max_pixels=1_000_000))
    assert err.code == "too_many_pixels"


def test_header_within_limits_but_missing_pixel_data_is_corrupt():
    assert refused(png_with_header_size(64, 64), "lie.png").code == "corrupt"


def test_one_by_one_and_a_30000_by_100_strip_load_with_the_project_defaults():
    tiny = load_image(encode(Image.new("RGB", (1, 1), "blue"), "PNG"), "dot.png", ImageLimits())
    assert (tiny.width, tiny.height) == (1, 1)
    assert tiny.image.getpixel((0, 0)) == (0, 0, 255)
    strip = load_image(encode(Image.new("RGB", (30_000, 100), "green"), "PNG"), "strip.png", ImageLimits())
    assert (strip.width, strip.height) == (30_000, 100)
    assert strip.image.size == (30_000, 100)


def test_side_and_aspect_limits():
    thin = encode(Image.new("L", (30_000, 50)), "PNG")  # 600:1
    err = refused(thin, "thin.png")
    assert err.code == "bad_dimensions" and "500:1" in str(err)
    assert refused(encode(Image.new("L", (40, 20)), "PNG"), limits=ImageLimits(max_side=32)).code == "bad_dimensions"
    assert refused(encode(Image.new("L", (40, 20)), "PNG"), limits=ImageLimits(min_side=32)).code == "bad_dimensions"


# -- formats and modes ----------------------------------------------------------------------------------------


def test_real_jpeg_photo_loads_with_hash_and_size():
    data = photo()
    loaded = load_image(data, "china.jpg", ImageLimits())
    assert (loaded.format, loaded.media_type) == ("jpeg", "image/jpeg")
    assert (loaded.width, loaded.height) == (640, 427)
    assert loaded.image.mode == "RGB" and loaded.n_frames == 1 and loaded.warnings == []
    assert loaded.size_bytes == len(data) and len(loaded.sha256) == 64


def test_png_named_jpg_loads_as_png_with_a_warning():
    loaded = load_image(encode(Image.new("RGB", (30, 20), "red"), "PNG"), "photo.JPG", ImageLimits())
    assert loaded.format == "png" and loaded.media_type == "image/png"
    assert any(".jpg" in w and "PNG" in w for w in loaded.warnings)
    assert load_image(encode(Image.new("RGB", (3, 2)), "PNG"), "upload", ImageLimits()).warnings == []


def test_cmyk_jpeg_becomes_rgb():
    loaded = load_image(encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"), "cmyk.jpg", ImageLimits())
    assert loaded.original_mode == "CMYK" and loaded.image.mode == "RGB"
    r, g, b = loaded.image.getpixel((20, 15))
    assert r > 200 and g < 60 and b < 60


def test_16_bit_png_is_scaled_to_8_bit():
    arr = np.tile(np.array([0, 32896, 65535], dtype=np.uint16), (4, 1))
    loaded = load_image(encode(Image.fromarray(arr), "PNG"), "depth.png", ImageLimits())
    assert loaded.original_mode.startswith("I")
    assert loaded.image.mode == "RGB"
    assert [loaded.image.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_rgba_png_is_composited_on_white():
    img = Image.new("RGBA", (3, 1))
    img.putdata([(255, 0, 0, 255), (0, 0, 0, 0), (0, 0, 0, 128)])
    loaded = load_image(encode(img, "PNG"), "alpha.png", ImageLimits())
    assert loaded.original_mode == "RGBA" and loaded.image.mode == "RGB"
    assert loaded.image.getpixel((0, 0)) == (255, 0, 0)
    assert loaded.image.getpixel((1, 0)) == (255, 255, 255)
    assert 120 <= loaded.image.getpixel((2, 0))[0] <= 135


def test_palette_with_transparency_and_grey_become_rgb():
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 0)
    loaded = load_image(encode(pal, "PNG", transparency=0), "pal.png", ImageLimits())
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)  # transparent index → white
    assert loaded.image.getpixel((1, 1)) == (0, 0, 255)
    grey = load_image(encode(Image.new("L", (2, 2), 77), "PNG"), "g.png", ImageLimits())
    assert grey.original_mode == "L" and grey.image.getpixel((0, 0)) == (77, 77, 77)


def test_animated_gif_uses_the_first_frame_and_says_so():
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "lime", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image(data, "anim.gif", ImageLimits())
    assert loaded.format == "gif" and loaded.n_frames == 3
    assert "animated: first of 3 frames used" in loaded.warnings
    assert loaded.image.getpixel((10, 10)) == (255, 0, 0)


def test_tiff_first_page_and_webp():
    pages = [Image.new("RGB", (16, 12), "yellow"), Image.new("RGB", (16, 12), "black")]
    tiff = load_image(encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]), "scan.tif", ImageLimits())
    assert (tiff.format, tiff.media_type, tiff.n_frames) == ("tiff", "image/tiff", 2)
    assert tiff.image.getpixel((0, 0)) == (255, 255, 0)
    assert any("first of 2 pages" in w for w in tiff.warnings)
    webp = load_image(encode(Image.new("RGB", (50, 40), "blue"), "WEBP", quality=90), "p.webp", ImageLimits())
    assert (webp.format, webp.media_type, webp.width, webp.height) == ("webp", "image/webp", 50, 40)
    assert webp.image.getpixel((25, 20))[2] > 200


def test_sniff_format_reads_magic_bytes():
    assert sniff_format(photo()) == "jpeg"
    assert sniff_format(encode(Image.new("RGB", (2, 2)), "GIF")) == "gif"
    assert sniff_format(b"GIF") is None and sniff_format(b"") is None


# -- EXIF --------------------------------------------------------------------------------------------------------


def exif_jpeg(orientation: int = 6) -> bytes:
    img = Image.new("RGB", (200, 100), "blue")
    img.paste((255, 0, 0), (0, 0, 100, 100))  # left half red in the stored pixels
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D Mark IV"
    exif[0x0112] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "2021:07:04 15:30:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "W", 4: (0.0, 7.0, 30.0)})
    return encode(img, "JPEG", exif=exif, quality=95)


def test_exif_round_trip_and_orientation_applied():
    loaded = load_image(exif_jpeg(6), "cam.jpg", ImageLimits())
    exif = loaded.exif
    assert exif.taken_at == datetime(2021, 7, 4, 15, 30, 0)
    assert (exif.camera_make, exif.camera_model) == ("Canon", "EOS 5D Mark IV")
    assert exif.gps_lat == pytest.approx(52.52, abs=1e-6)
    assert exif.gps_lon == pytest.approx(-0.125, abs=1e-6)
    assert exif.orientation == 6
    # orientation 6 = rotate 90° clockwise for display: 200×100 stored → 100×200 shown, stored left half on top
    assert (loaded.width, loaded.height) == (100, 200)
    top, bottom = loaded.image.getpixel((50, 20)), loaded.image.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_garbage_exif_values_become_none():
    exif = Image.Exif()
    exif[0x0132] = "0000:00:00 00:00:00"
    exif[0x010F] = b"\x00\x00"
    exif[0x0112] = 42
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (152.0, 0.0, 0.0), 3: "E", 4: (IFDRational(7, 0), 0.0, 0.0)})
    loaded = load_image(encode(Image.new("RGB", (8, 6)), "JPEG", exif=exif), "junk.jpg", ImageLimits())
    assert loaded.exif.taken_at is None and loaded.exif.camera_make is None
    assert loaded.exif.gps_lat is None and loaded.exif.gps_lon is None
    assert loaded.exif.orientation is None
    assert (loaded.width, loaded.height) == (8, 6)


def test_image_without_exif_has_empty_exif():
    exif = load_image(encode(Image.new("RGB", (8, 6)), "PNG"), "p.png", ImageLimits()).exif
    assert exif.taken_at is None and exif.camera_make is None and exif.gps_lat is None and exif.orientation is None


# -- derived features -------------------------------------------------------------------------------------------


def test_orientation_of():
    assert orientation_of(640, 427) == "landscape"
    assert orientation_of(427, 640) == "portrait"
    assert orientation_of(300, 300) == "square"
    assert orientation_of(1, 1) == "square"


def test_thumbnails_keep_aspect_and_never_upscale():
    img = load_image(photo(), "china.jpg", ImageLimits()).image
    webp = Image.open(io.BytesIO(make_thumbnail(img, 256)))
    assert webp.format == "WEBP" and webp.size == (256, 171)
    jpeg = Image.open(io.BytesIO(make_thumbnail(img, 128, fmt="jpeg")))
    assert jpeg.format == "JPEG" and jpeg.mode == "RGB" and jpeg.size == (128, 85)
    assert Image.open(io.BytesIO(make_thumbnail(Image.new("RGB", (1, 1)), 256))).size == (1, 1)
    assert Image.open(io.BytesIO(make_thumbnail(Image.new("RGB", (30_000, 100)), 256))).size == (256, 1)
    assert img.size == (640, 427)  # the source is not modified


def test_phash_is_a_signed_int64_robust_to_resizing_and_recompression():
    china = load_image(photo(), "china.jpg", ImageLimits()).image
    copy_bytes = encode(china.resize((320, 213), Image.Resampling.BILINEAR), "JPEG", quality=50)
    copy = load_image(copy_bytes, "copy.jpg", ImageLimits()).image
    flower = load_image(photo("flower.jpg"), "flower.jpg", ImageLimits()).image
    h_china, h_copy, h_flower = perceptual_hash(china), perceptual_hash(copy), perceptual_hash(flower)
    for h in (h_china, h_copy, h_flower):
        assert -(2**63) <= h < 2**63
    assert hamming(h_china, h_copy) <= 6
    assert hamming(h_china, h_flower) > 20
    assert hamming(h_china, h_china) == 0


def test_hamming_masks_signed_values_to_64_bits():
    assert hamming(-1, 0) == 64
    assert hamming(-(2**63), 0) == 1
    assert hamming(2**63 - 1, -1) == 1


def test_dominant_colours_by_share():
    img = Image.new("RGB", (100, 100), (220, 20, 30))
    img.paste((30, 60, 200), (0, 0, 100, 25))  # a quarter blue
    img.paste((250, 250, 250), (0, 0, 2, 2))  # a speck of white is not a colour of the image
    assert dominant_colours(img) == ["red", "blue"]
    assert dominant_colours(Image.new("RGB", (10, 10), "white")) == ["white"]
    assert dominant_colours(Image.new("RGB", (10, 10), (5, 5, 5))) == ["black"]
    assert dominant_colours(Image.new("RGB", (10, 10), (128, 128, 128))) == ["gray"]
    assert dominant_colours(Image.new("RGB", (10, 10), (120, 70, 30))) == ["brown"]
    assert dominant_colours(Image.new("RGB", (10, 10), (255, 160, 0))) == ["orange"]
    assert dominant_colours(Image.new("RGB", (10, 10), (40, 160, 50))) == ["green"]
    assert dominant_colours(Image.new("RGB", (10, 10), (250, 170, 190))) == ["pink"]


def test_dominant_colours_of_a_real_photo_are_basic_names():
    names = dominant_colours(load_image(photo("flower.jpg"), "flower.jpg", ImageLimits()).image, k=3)
    assert 1 <= len(names) <= 3 and len(set(names)) == len(names)
    assert set(names) <= set(COLOUR_NAMES) and len(COLOUR_NAMES) == 11
