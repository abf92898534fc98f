"""Text-bearing demo images (signs, posters, a menu, a receipt, screenshots) and design artwork.

Why: the offline image model cannot name a café sign, but OCR can read it, so these images are what make text
search over OCR text demonstrable. Text is large, high-contrast and horizontal so rapidocr reads it reliably; the
backgrounds still get texture so the pictures look photographed rather than typed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from projects.multimodal_search.demo_art.paint import (
    Color,
    blend,
    draw_text,
    font,
    glow,
    gradient,
    grain,
    mix,
    noise,
    radial,
    to_image,
)


def _wall(rng: np.random.Generator, w: int, h: int, color: Color, bricks: bool = False) -> np.ndarray:
    c = np.broadcast_to(np.asarray(color, np.float32), (h, w, 3)).copy()
    c *= (0.88 + 0.2 * noise(rng, h, w, cells=60, octaves=3))[..., None]
    if bricks:
        bh, bw = h // 18, w // 10
        yy, xx = np.mgrid[0:h, 0:w]
        offset = (yy // bh % 2) * (bw // 2)
        mortar = ((yy % bh) < 3) | (((xx + offset) % bw) < 3)
        c[mortar] = c[mortar] * 0.6 + 90
    return c


def _rounded(d: ImageDraw.ImageDraw, box, radius: float, fill, outline=None, width: int = 0) -> None:
    d.rounded_rectangle(box, radius=radius, fill=fill, outline=outline, width=width)


def _shadowed(img: Image.Image, box, radius: float, fill: Color, blur: float = 8) -> None:
    """A panel with a soft drop shadow: signs and paper look mounted instead of pasted."""
    x0, y0, x1, y1 = box
    shadow = Image.new("L", img.size, 0)
    ImageDraw.Draw(shadow).rounded_rectangle((x0 + 6, y0 + 10, x1 + 6, y1 + 10), radius=radius, fill=140)
    shadow = shadow.filter(ImageFilter.GaussianBlur(blur))
    img.paste((0, 0, 0), mask=shadow)
    ImageDraw.Draw(img).rounded_rectangle(box, radius=radius, fill=fill)


def _finish(rng: np.random.Generator, img: Image.Image, sigma: float = 1.4) -> Image.Image:
    c = np.asarray(img, np.float32).copy()
    grain(rng, c, sigma)
    return to_image(c)


def cafe_sign(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A café front: plaster wall, green board with "Café Aurora", a lit window, an "OPEN 9-17" plate."""
    c = _wall(rng, w, h, (226, 206, 176))
    glow(c, w * 0.5, h * 0.75, w * 0.35, (255, 190, 110), 0.25)
    img = to_image(c)
    _shadowed(img, (w * 0.1, h * 0.1, w * 0.9, h * 0.36), 18, (24, 74, 56))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (w * 0.1 + 8, h * 0.1 + 8, w * 0.9 - 8, h * 0.36 - 8), radius=14, outline=(212, 176, 96), width=4
    )
    draw_text(d, (w * 0.5, h * 0.23), "Café Aurora", int(h * 0.13), (240, 214, 140), anchor="mm", bold=True)
    # shop window with warm light
    win = (w * 0.14, h * 0.46, w * 0.6, h * 0.95)
    d.rectangle(win, fill=(60, 40, 30))
    wc = np.asarray(img, np.float32).copy()
    glow(wc, (win[0] + win[2]) / 2, h * 0.72, w * 0.18, (255, 200, 120), 0.8)
    img = to_image(wc)
    d = ImageDraw.Draw(img)
    d.rectangle(win, outline=(40, 30, 24), width=8)
    d.line([((win[0] + win[2]) / 2, win[1]), ((win[0] + win[2]) / 2, win[3])], fill=(40, 30, 24), width=6)
    _shadowed(img, (w * 0.65, h * 0.5, w * 0.9, h * 0.7), 8, (250, 248, 240), blur=5)
    d = ImageDraw.Draw(img)
    draw_text(d, (w * 0.775, h * 0.56), "OPEN", int(h * 0.07), (180, 30, 30), anchor="mm", bold=True)
    draw_text(d, (w * 0.775, h * 0.645), "9-17", int(h * 0.06), (30, 30, 30), anchor="mm")
    return _finish(rng, img)


def station_sign(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A blue platform sign hanging in a grey station hall: "Platform 4" and "Trains to Porto"."""
    c = gradient(h, w, [(0, (70, 74, 82)), (0.6, (140, 142, 146)), (1, (96, 96, 98))])
    c *= (0.92 + 0.12 * noise(rng, h, w, cells=20, octaves=3))[..., None]
    for x in np.linspace(0, w, 7)[1:-1]:  # roof girders
        c[:, int(x) : int(x + w * 0.012)] *= 0.6
    img = to_image(c)
    d = ImageDraw.Draw(img)
    d.rectangle((0, h * 0.86, w, h), fill=(70, 70, 72))
    d.rectangle((0, h * 0.86, w, h * 0.875), fill=(236, 200, 40))
    d.line([(w * 0.3, 0), (w * 0.3, h * 0.22)], fill=(40, 40, 44), width=5)
    d.line([(w * 0.7, 0), (w * 0.7, h * 0.22)], fill=(40, 40, 44), width=5)
    _shadowed(img, (w * 0.12, h * 0.22, w * 0.88, h * 0.62), 10, (16, 60, 140))
    d = ImageDraw.Draw(img)
    draw_text(d, (w * 0.5, h * 0.35), "Platform 4", int(h * 0.13), (255, 255, 255), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.52), "Trains to Porto", int(h * 0.075), (255, 255, 255), anchor="mm")
    d.polygon([(w * 0.18, h * 0.5), (w * 0.23, h * 0.46), (w * 0.23, h * 0.54)], fill=(255, 255, 255))
    return _finish(rng, img)


def sale_poster(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A red shop-window poster: "SALE 50%", "Summer collection", "Ends Sunday"."""
    c = gradient(h, w, [(0, (214, 30, 44)), (1, (160, 16, 36))])
    glow(c, w * 0.3, h * 0.3, w * 0.5, (255, 120, 90), 0.3)
    img = to_image(c)
    d = ImageDraw.Draw(img)
    for k in range(6):
        r = w * (0.08 + 0.05 * k)
        d.arc((w * 0.85 - r, h * 0.85 - r, w * 0.85 + r, h * 0.85 + r), 180, 270, fill=(236, 70, 70), width=6)
    draw_text(d, (w * 0.5, h * 0.3), "SALE", int(h * 0.2), (255, 255, 255), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.52), "50%", int(h * 0.22), (255, 226, 80), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.72), "Summer collection", int(h * 0.065), (255, 255, 255), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.82), "Ends Sunday", int(h * 0.05), (255, 220, 220), anchor="mm")
    return _finish(rng, img)


def jazz_poster(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A concert poster on a brick wall: "JAZZ NIGHT", "Friday 21:00", "Blue Note Club"."""
    c = _wall(rng, w, h, (150, 70, 50), bricks=True)
    img = to_image(c)
    box = (w * 0.12, h * 0.06, w * 0.88, h * 0.94)
    _shadowed(img, box, 4, (34, 22, 64))
    pc = np.asarray(img, np.float32).copy()
    glow(pc, w * 0.5, h * 0.3, w * 0.35, (200, 90, 160), 0.5)
    img = to_image(pc)
    d = ImageDraw.Draw(img)
    for k in range(4):
        r = w * (0.06 + 0.05 * k)
        d.ellipse((w * 0.5 - r, h * 0.3 - r, w * 0.5 + r, h * 0.3 + r), outline=(250, 200, 90), width=3)
    draw_text(d, (w * 0.5, h * 0.58), "JAZZ NIGHT", int(w * 0.1), (250, 200, 90), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.7), "Friday 21:00", int(w * 0.065), (255, 255, 255), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.8), "Blue Note Club", int(w * 0.055), (200, 190, 230), anchor="mm")
    return _finish(rng, img)


MENU_DISHES = [
    ("Tomato soup", "6.50"),
    ("Caesar salad", "9.00"),
    ("Mushroom risotto", "14.50"),
    ("Grilled salmon", "18.00"),
    ("Apple pie", "5.50"),
    ("Espresso", "2.20"),
]


def menu(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A restaurant menu on cream paper lying on a wooden table."""
    wood = np.broadcast_to(np.asarray((120, 78, 46), np.float32), (h, w, 3)).copy()
    wood *= (0.8 + 0.35 * noise(rng, h, w, cells=40, octaves=3, stretch=0.12))[..., None]
    img = to_image(wood)
    _shadowed(img, (w * 0.08, h * 0.05, w * 0.92, h * 0.95), 6, (250, 244, 226), blur=10)
    d = ImageDraw.Draw(img)
    draw_text(d, (w * 0.5, h * 0.13), "MENU", int(w * 0.12), (120, 30, 30), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.21), "Trattoria Sole", int(w * 0.05), (90, 80, 70), anchor="mm")
    d.line([(w * 0.2, h * 0.25), (w * 0.8, h * 0.25)], fill=(170, 140, 100), width=3)
    size = int(w * 0.052)
    for i, (dish, price) in enumerate(MENU_DISHES):
        y = h * (0.33 + 0.095 * i)
        draw_text(d, (w * 0.15, y), dish, size, (40, 36, 32), anchor="lm")
        draw_text(d, (w * 0.85, y), price, size, (40, 36, 32), anchor="rm")
    return _finish(rng, img, 1.2)


RECEIPT_LINES = [
    ("Bananas", "1.99"),
    ("Milk", "1.15"),
    ("Bread", "2.40"),
    ("Coffee beans", "8.90"),
]


def receipt(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A scanned shop receipt: store name, items with prices, TOTAL, thank-you line."""
    paper = np.full((h, w, 3), 250, np.float32)
    paper *= (0.97 + 0.03 * noise(rng, h, w, cells=10, octaves=2))[..., None]
    img = to_image(paper)
    d = ImageDraw.Draw(img)
    size = int(w * 0.075)
    draw_text(d, (w * 0.5, h * 0.07), "GREEN MARKET", int(w * 0.1), (20, 20, 20), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.13), "12 Harbour Road", int(w * 0.055), (50, 50, 50), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.18), "2024-03-14  10:42", int(w * 0.055), (50, 50, 50), anchor="mm")
    y = h * 0.26
    for item, price in RECEIPT_LINES:
        draw_text(d, (w * 0.08, y), item, size, (20, 20, 20), anchor="lm")
        draw_text(d, (w * 0.92, y), price, size, (20, 20, 20), anchor="rm")
        y += h * 0.07
    d.line([(w * 0.08, y), (w * 0.92, y)], fill=(60, 60, 60), width=2)
    y += h * 0.06
    draw_text(d, (w * 0.08, y), "TOTAL", int(size * 1.15), (0, 0, 0), anchor="lm", bold=True)
    draw_text(d, (w * 0.92, y), "14.44", int(size * 1.15), (0, 0, 0), anchor="rm", bold=True)
    draw_text(d, (w * 0.5, h * 0.8), "Thank you!", int(w * 0.07), (40, 40, 40), anchor="mm")
    for x in np.arange(w * 0.15, w * 0.85, w * 0.018):  # a barcode
        bw = int(rng.integers(1, 5))
        d.rectangle((x, h * 0.86, x + bw, h * 0.94), fill=(20, 20, 20))
    return _finish(rng, img, 1.0)


CHAT = [
    (False, "Are we still on for dinner tonight?"),
    (True, "Yes! 7pm at Café Aurora"),
    (False, "Great, see you there"),
    (True, "I booked a table by the window"),
]


def chat_screenshot(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A phone chat screenshot: status bar, contact header "Anna", alternating bubbles."""
    img = Image.new("RGB", (w, h), (236, 229, 221))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, h * 0.04), fill=(7, 94, 84))
    draw_text(d, (w * 0.05, h * 0.02), "9:41", int(h * 0.022), (255, 255, 255), anchor="lm")
    d.rectangle((0, h * 0.04, w, h * 0.11), fill=(7, 94, 84))
    d.ellipse((w * 0.05, h * 0.05, w * 0.05 + h * 0.05, h * 0.1), fill=(200, 170, 140))
    draw_text(d, (w * 0.05 + h * 0.065, h * 0.075), "Anna", int(h * 0.03), (255, 255, 255), anchor="lm", bold=True)
    y = h * 0.16
    size = int(h * 0.026)
    for mine, text in CHAT:
        tw = d.textlength(text.replace("é", "e"), font=font(size))
        bw, bh = tw + w * 0.08, h * 0.06
        x0 = w - bw - w * 0.04 if mine else w * 0.04
        d.rounded_rectangle((x0, y, x0 + bw, y + bh), radius=18, fill=(220, 248, 198) if mine else (255, 255, 255))
        draw_text(d, (x0 + w * 0.04, y + bh / 2), text, size, (20, 20, 20), anchor="lm")
        y += bh + h * 0.03
    d.rectangle((0, h * 0.92, w, h), fill=(246, 246, 246))
    d.rounded_rectangle((w * 0.04, h * 0.935, w * 0.8, h * 0.985), radius=24, fill=(255, 255, 255))
    draw_text(d, (w * 0.08, h * 0.96), "Message", int(h * 0.022), (150, 150, 150), anchor="lm")
    d.ellipse((w * 0.84, h * 0.93, w * 0.96, h * 0.93 + w * 0.12), fill=(7, 94, 84))
    return img


def slide_screenshot(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A presentation slide: "Quarterly Review", three bullet points, a small bar chart."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, h * 0.2), fill=(32, 56, 100))
    draw_text(d, (w * 0.06, h * 0.1), "Quarterly Review", int(h * 0.09), (255, 255, 255), anchor="lm", bold=True)
    bullets = ["Revenue up 12%", "New stores in Lisbon and Porto", "Customer rating 4.7"]
    for i, b in enumerate(bullets):
        y = h * (0.36 + 0.14 * i)
        d.ellipse((w * 0.06, y - 7, w * 0.06 + 14, y + 7), fill=(32, 56, 100))
        draw_text(d, (w * 0.09, y), b, int(h * 0.055), (30, 30, 30), anchor="lm")
    vals = rng.uniform(0.3, 1.0, 4)
    vals.sort()
    for i, v in enumerate(vals):
        x0 = w * (0.66 + 0.075 * i)
        d.rectangle(
            (x0, h * 0.85 - v * h * 0.45, x0 + w * 0.05, h * 0.85), fill=mix((90, 140, 220), (32, 56, 100), i / 3)
        )
    d.line([(w * 0.64, h * 0.85), (w * 0.96, h * 0.85)], fill=(120, 120, 120), width=2)
    draw_text(d, (w * 0.94, h * 0.94), "3 / 12", int(h * 0.035), (140, 140, 140), anchor="rm")
    return img


def street_sign(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A green street-name sign "Main Street" on a pole against the sky, with a "NO PARKING" plate."""
    c = gradient(h, w, [(0, (80, 140, 210)), (1, (190, 214, 236))])
    c *= (0.97 + 0.05 * noise(rng, h, w, cells=6, octaves=2))[..., None]
    img = to_image(c)
    d = ImageDraw.Draw(img)
    d.rectangle((w * 0.48, h * 0.1, w * 0.52, h), fill=(110, 114, 118))
    _shadowed(img, (w * 0.08, h * 0.14, w * 0.92, h * 0.36), 8, (20, 110, 60), blur=4)
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (w * 0.08 + 6, h * 0.14 + 6, w * 0.92 - 6, h * 0.36 - 6), radius=6, outline=(255, 255, 255), width=4
    )
    draw_text(d, (w * 0.5, h * 0.25), "Main Street", int(h * 0.12), (255, 255, 255), anchor="mm", bold=True)
    _shadowed(img, (w * 0.3, h * 0.45, w * 0.7, h * 0.72), 6, (255, 255, 255), blur=4)
    d = ImageDraw.Draw(img)
    d.ellipse((w * 0.5 - h * 0.05, h * 0.47, w * 0.5 + h * 0.05, h * 0.57), outline=(200, 20, 20), width=6)
    d.line([(w * 0.5 - h * 0.035, h * 0.485), (w * 0.5 + h * 0.035, h * 0.555)], fill=(200, 20, 20), width=6)
    draw_text(d, (w * 0.5, h * 0.64), "NO PARKING", int(h * 0.06), (200, 20, 20), anchor="mm", bold=True)
    return _finish(rng, img)


def bakery_board(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A chalkboard A-frame outside a bakery: "BAKERY", "Fresh bread daily", "Croissant 1.80"."""
    c = _wall(rng, w, h, (196, 190, 180))
    img = to_image(c)
    _shadowed(img, (w * 0.15, h * 0.06, w * 0.85, h * 0.9), 10, (110, 76, 46))
    board = np.asarray(img, np.float32).copy()
    x0, y0, x1, y1 = int(w * 0.19), int(h * 0.1), int(w * 0.81), int(h * 0.86)
    chalk = np.broadcast_to(np.asarray((34, 40, 38), np.float32), (y1 - y0, x1 - x0, 3)).copy()
    chalk *= (0.85 + 0.3 * noise(rng, y1 - y0, x1 - x0, cells=8, octaves=3))[..., None]
    board[y0:y1, x0:x1] = chalk
    img = to_image(board)
    d = ImageDraw.Draw(img)
    draw_text(d, (w * 0.5, h * 0.22), "BAKERY", int(w * 0.12), (245, 245, 235), anchor="mm", bold=True)
    draw_text(d, (w * 0.5, h * 0.36), "Fresh bread daily", int(w * 0.055), (245, 230, 170), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.5), "Croissant 1.80", int(w * 0.055), (245, 245, 235), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.6), "Sourdough 4.50", int(w * 0.055), (245, 245, 235), anchor="mm")
    draw_text(d, (w * 0.5, h * 0.74), "Open from 7am", int(w * 0.05), (180, 220, 240), anchor="mm")
    return _finish(rng, img)


# -- design album ------------------------------------------------------------------------------------------

PALETTE = [
    ("Coral", (231, 111, 81)),
    ("Sand", (244, 162, 97)),
    ("Saffron", (233, 196, 106)),
    ("Teal", (42, 157, 143)),
    ("Ink", (38, 70, 83)),
]


def palette_swatches(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Five colour swatches with names and hex codes (a designer's palette board)."""
    img = Image.new("RGB", (w, h), (250, 250, 248))
    d = ImageDraw.Draw(img)
    draw_text(d, (w * 0.05, h * 0.1), "Palette: Seaside", int(h * 0.07), (40, 40, 40), anchor="lm", bold=True)
    sw = w * 0.9 / len(PALETTE)
    for i, (name, col) in enumerate(PALETTE):
        x0 = w * 0.05 + i * sw
        d.rounded_rectangle((x0 + 6, h * 0.2, x0 + sw - 6, h * 0.75), radius=12, fill=col)
        draw_text(d, (x0 + sw / 2, h * 0.82), name, int(h * 0.045), (40, 40, 40), anchor="mm")
        hex_code = "#{:02X}{:02X}{:02X}".format(*col)
        draw_text(d, (x0 + sw / 2, h * 0.89), hex_code, int(h * 0.038), (110, 110, 110), anchor="mm")
    return img


def gradient_blobs(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Abstract wallpaper: large blurred colour blobs over a soft gradient (a 'mesh gradient')."""
    c = gradient(h, w, [(0, (30, 20, 70)), (1, (240, 120, 140))])
    for _ in range(6):
        col = tuple(int(v) for v in rng.integers(40, 255, 3))
        d = radial(h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.45) * max(w, h))
        blend(c, np.exp(-(d**2) * 2), col, 0.7)
    grain(rng, c, 2.0)
    return to_image(c)


def bauhaus(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A geometric poster: a grid of circles, half-discs and triangles in primary colours."""
    img = Image.new("RGB", (w, h), (240, 232, 214))
    d = ImageDraw.Draw(img)
    cols = [(214, 48, 40), (28, 72, 160), (246, 190, 30), (20, 20, 20)]
    n = 4
    cell = min(w, h) / n
    for i in range(n):
        for j in range(n):
            x0, y0 = (w - cell * n) / 2 + i * cell, (h - cell * n) / 2 + j * cell
            col = cols[int(rng.integers(0, 4))]
            kind = int(rng.integers(0, 4))
            if kind == 0:
                d.ellipse((x0 + 8, y0 + 8, x0 + cell - 8, y0 + cell - 8), fill=col)
            elif kind == 1:
                d.pieslice((x0 + 8, y0 + 8, x0 + cell * 2 - 8, y0 + cell * 2 - 8), 180, 270, fill=col)
            elif kind == 2:
                d.polygon([(x0 + 8, y0 + cell - 8), (x0 + cell / 2, y0 + 8), (x0 + cell - 8, y0 + cell - 8)], fill=col)
            else:
                d.rectangle((x0 + cell * 0.25, y0 + cell * 0.25, x0 + cell * 0.75, y0 + cell * 0.75), fill=col)
    return img


def logo_draft(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A logo sketch for the café: a sun-over-horizon mark and the word "aurora" in three colourways."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    ways = [((24, 74, 56), (240, 214, 140)), ((255, 255, 255), (24, 74, 56)), ((231, 111, 81), (255, 255, 255))]
    panel = w / 3
    for i, (bg, fg) in enumerate(ways):
        x0 = i * panel
        d.rectangle((x0, 0, x0 + panel, h), fill=bg if bg != (255, 255, 255) else (246, 246, 244))
        cx, cy, r = x0 + panel / 2, h * 0.4, panel * 0.22
        d.pieslice((cx - r, cy - r, cx + r, cy + r), 180, 360, fill=fg)
        d.rectangle((cx - r * 1.3, cy + 6, cx + r * 1.3, cy + 14), fill=fg)
        draw_text(d, (cx, h * 0.72), "aurora", int(panel * 0.16), fg, anchor="mm", bold=True)
    return img


SIGNS = {
    "cafe": cafe_sign,
    "station": station_sign,
    "sale": sale_poster,
    "jazz": jazz_poster,
    "menu": menu,
    "receipt": receipt,
    "chat": chat_screenshot,
    "slide": slide_screenshot,
    "street": street_sign,
    "bakery": bakery_board,
    "palette": palette_swatches,
    "blobs": gradient_blobs,
    "bauhaus": bauhaus,
    "logo": logo_draft,
}
