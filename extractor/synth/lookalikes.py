"""Documents that look like a KTP in one way or another but are not one (not-a-KTP negatives).

Each shares something with a KTP front and lacks something only a KTP has:

- ``sim``: a driver's licence (SURAT IZIN MENGEMUDI): ID-1 card, Nama / Tempat & Tgl. Lahir /
  Alamat / Pekerjaan rows and a 12-14 digit licence number, no PROVINSI header, no NIK.
- ``npwp``: a tax card: ID-1, a 15-digit NPWP number ``NN.NNN.NNN.N-NNN.NNN``, a name, no rows.
- ``student_card``: KARTU PELAJAR / MAHASISWA with Nama, NIS/NIM, Tempat/Tgl Lahir, Alamat.
- ``domicile_letter``: an A4 letter (SURAT KETERANGAN DOMISILI) listing Nama, NIK (16 valid digits),
  Tempat/Tgl Lahir, Jenis Kelamin, Alamat, Agama, Pekerjaan under a village letterhead.
- ``blank_card``: a KTP's background, photo box and nothing printed.
- ``parody_card``: a KTP layout whose header is a joke ("KARTU TANDA PENDUDUK KUCING") and whose
  "NIK" has 20 digits.
- ``long_nik_card``: a KTP layout with its PROVINSI header but a 20-digit "NIK".

Everything is drawn with the project's fonts (extractor/synth/fonts.py) and photographed like the
``phone`` level; the decision they test is general (docs/extractor-engine.md, "Not a KTP").
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from extractor.synth import fonts
from extractor.synth.holder import random_holder
from extractor.synth.render import CARD_ASPECT, render_card

LOOKALIKE_KINDS: tuple[str, ...] = (
    "sim", "npwp", "student_card", "domicile_letter", "blank_card", "parody_card", "long_nik_card")

_ANIMALS = ("KUCING", "KELINCI", "ANJING", "HAMSTER", "BEBEK")


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _card(width: int, colour) -> tuple[Image.Image, ImageDraw.ImageDraw, float]:
    image = Image.new("RGB", (width, round(width / CARD_ASPECT)), tuple(int(c) for c in colour))
    return image, ImageDraw.Draw(image), width / 1000


def _rows(draw, s: float, rows, top: float, pitch: float, size: float, label_x=40.0, value_x=300.0,
          ink=(20, 20, 20), face=fonts.SANS) -> None:
    font = fonts.load(face, round(size * s))
    for i, (label, value) in enumerate(rows):
        y = (top + pitch * i) * s
        draw.text((label_x * s, y), label, font=font, fill=ink)
        draw.text((value_x * s, y), f": {value}", font=font, fill=ink)


def _photo_box(draw, s: float, box=(740, 150, 950, 420)) -> None:
    draw.rectangle(tuple(v * s for v in box), fill=(70, 110, 190), outline=(40, 40, 40))


def _sim(rng: np.random.Generator, width: int) -> Image.Image:
    holder = random_holder(rng)
    f = holder.fields
    card, draw, s = _card(width, rng.choice([[236, 226, 196], [222, 232, 240]]))
    bold = fonts.load(fonts.SANS, round(30 * s), 700)
    draw.text((40 * s, 20 * s), "KEPOLISIAN NEGARA REPUBLIK INDONESIA", font=bold, fill=(30, 30, 60))
    draw.text((40 * s, 62 * s), "SURAT IZIN MENGEMUDI", font=fonts.load(fonts.SANS, round(38 * s), 700),
              fill=(150, 20, 20))
    draw.text((700 * s, 62 * s), str(rng.choice(["A", "B I", "C"])), font=bold, fill=(150, 20, 20))
    rows = (("1. Nama", f["full_name"]), ("2. Tempat/Tgl Lahir", f"{f['place_of_birth']}, {f['date_of_birth']}"),
            ("3. Gol. Darah - Jenis Kelamin", f"{f['blood_type']} - {f['gender'][:4]}"),
            ("4. Alamat", f["address"]), ("   RT/RW", f["rt_rw"]), ("   Kecamatan", f["district"]),
            ("5. Pekerjaan", f["occupation"]), ("6. Berlaku s/d", f["issue_date"]))
    _rows(draw, s, rows, 140, 40, 22, value_x=330)
    draw.text((40 * s, 480 * s), f"No. SIM {_digits(rng, int(rng.integers(12, 15)))}",
              font=fonts.load(fonts.MONO, round(30 * s), 700), fill=(20, 20, 20))
    _photo_box(draw, s, (760, 140, 950, 380))
    return card


def _npwp(rng: np.random.Generator, width: int) -> Image.Image:
    holder = random_holder(rng)
    card, draw, s = _card(width, rng.choice([[250, 250, 245], [240, 244, 250]]))
    draw.rectangle((0, 0, width, 120 * s), fill=(20, 50, 120))
    draw.text((40 * s, 20 * s), "KEMENTERIAN KEUANGAN REPUBLIK INDONESIA", font=fonts.load(fonts.SANS, round(26 * s), 700),
              fill=(255, 255, 255))
    draw.text((40 * s, 62 * s), "DIREKTORAT JENDERAL PAJAK", font=fonts.load(fonts.SANS, round(30 * s), 700),
              fill=(255, 230, 120))
    d = _digits(rng, 15)
    npwp = f"{d[:2]}.{d[2:5]}.{d[5:8]}.{d[8]}-{d[9:12]}.{d[12:]}"
    draw.text((40 * s, 170 * s), "NPWP :", font=fonts.load(fonts.SANS, round(30 * s), 700), fill=(20, 20, 20))
    draw.text((40 * s, 215 * s), npwp, font=fonts.load(fonts.MONO, round(44 * s), 700), fill=(20, 20, 20))
    body = fonts.load(fonts.SANS, round(26 * s))
    draw.text((40 * s, 300 * s), holder.fields["full_name"], font=body, fill=(20, 20, 20))
    draw.text((40 * s, 345 * s), f"NIK : {holder.fields['nik']}" if rng.random() < 0.5 else holder.fields["address"],
              font=body, fill=(20, 20, 20))
    draw.text((40 * s, 390 * s), f"{holder.fields['district']}, {holder.fields['city']}", font=body, fill=(20, 20, 20))
    draw.text((40 * s, 470 * s), f"Tanggal Terdaftar {holder.fields['issue_date']}", font=body, fill=(20, 20, 20))
    return card


def _student_card(rng: np.random.Generator, width: int) -> Image.Image:
    holder = random_holder(rng)
    f = holder.fields
    card, draw, s = _card(width, rng.choice([[226, 240, 226], [250, 240, 215], [235, 235, 250]]))
    draw.rectangle((0, 0, width, 130 * s), fill=(20, 90, 60))
    school = str(rng.choice(["SMA NEGERI 3", "SMK NEGERI 1", "UNIVERSITAS NUSANTARA", "SMP NEGERI 12"]))
    draw.text((40 * s, 20 * s), str(rng.choice(["KARTU PELAJAR", "KARTU TANDA MAHASISWA"])),
              font=fonts.load(fonts.SANS, round(40 * s), 700), fill=(255, 255, 255))
    draw.text((40 * s, 75 * s), f"{school} {f['city']}", font=fonts.load(fonts.SANS, round(26 * s), 700),
              fill=(255, 255, 255))
    rows = (("Nama", f["full_name"]), (str(rng.choice(["NIS", "NIM", "NISN"])), _digits(rng, int(rng.integers(8, 11)))),
            ("Tempat/Tgl Lahir", f"{f['place_of_birth']}, {f['date_of_birth']}"), ("Jenis Kelamin", f["gender"]),
            ("Alamat", f["address"]), ("Agama", f["religion"]), ("Kelas/Jurusan", str(rng.choice(["XI IPA 2", "TEKNIK"]))))
    _rows(draw, s, rows, 160, 40, 23, value_x=280)
    _photo_box(draw, s, (770, 160, 950, 400))
    return card


def _domicile_letter(rng: np.random.Generator, width: int) -> Image.Image:
    holder = random_holder(rng)
    f = holder.fields
    page = Image.new("RGB", (width, round(width * 297 / 210)), (248, 248, 244))
    draw = ImageDraw.Draw(page)
    s = width / 1000
    head = fonts.load(fonts.SANS, round(30 * s), 700)
    lines = (f"PEMERINTAH {f['city']}", f"KECAMATAN {f['district']}", f"KELURAHAN {f['administrative_village']}")
    for i, line in enumerate(lines):
        draw.text(((1000 - draw.textlength(line, font=head) / s) / 2 * s, (60 + 40 * i) * s), line, font=head,
                  fill=(15, 15, 15))
    draw.line((80 * s, 200 * s, 920 * s, 200 * s), fill=(15, 15, 15), width=max(1, round(3 * s)))
    title = fonts.load(fonts.SANS, round(30 * s), 700)
    draw.text((300 * s, 240 * s), "SURAT KETERANGAN DOMISILI", font=title, fill=(15, 15, 15))
    body = fonts.load(fonts.SANS, round(24 * s))
    draw.text((80 * s, 320 * s), "Yang bertanda tangan di bawah ini menerangkan bahwa:", font=body, fill=(25, 25, 25))
    rows = (("Nama", f["full_name"]), ("NIK", f["nik"]), ("Tempat/Tgl Lahir", f"{f['place_of_birth']}, {f['date_of_birth']}"),
            ("Jenis Kelamin", f["gender"]), ("Agama", f["religion"]), ("Status Perkawinan", f["marital_status"]),
            ("Pekerjaan", f["occupation"]), ("Alamat", f["address"]))
    _rows(draw, s, rows, 380, 42, 24, label_x=120, value_x=400, ink=(25, 25, 25))
    draw.text((80 * s, 760 * s), "benar berdomisili di wilayah kami. Demikian surat ini dibuat untuk",
              font=body, fill=(25, 25, 25))
    draw.text((80 * s, 800 * s), "dipergunakan sebagaimana mestinya.", font=body, fill=(25, 25, 25))
    draw.text((600 * s, 900 * s), f"{f['issue_city']}, {f['issue_date']}", font=body, fill=(25, 25, 25))
    draw.text((600 * s, 940 * s), "LURAH", font=body, fill=(25, 25, 25))
    return page


def _blank_card(rng: np.random.Generator, width: int) -> Image.Image:
    from extractor.synth.render import _background

    height = round(width / CARD_ASPECT)
    card = _background(width, height, rng)
    draw = ImageDraw.Draw(card)
    s = width / 1000
    if rng.random() < 0.5:
        _photo_box(draw, s, (738, 112, 948, 392))
    return card


def _ktp_layout(rng: np.random.Generator, width: int, *, parody: bool) -> Image.Image:
    """A KTP drawn by the card renderer with a 20-digit number; a parody also gets a joke header."""
    holder = random_holder(rng)
    holder.fields["nik"] = holder.fields["nik"] + _digits(rng, 4)
    card = render_card(holder, width, rng)
    if parody:
        draw = ImageDraw.Draw(card)
        s = width / 1000
        # Paint the header band over with the card's own background colour at its left edge.
        colour = card.getpixel((2, round(40 * s)))
        draw.rectangle((0, 0, width, 80 * s), fill=colour)
        font = fonts.load(fonts.SANS, round(26 * s), 700)
        for y, line in ((14, f"KARTU TANDA PENDUDUK {rng.choice(_ANIMALS)}"), (46, "REPUBLIK MEONG")):
            draw.text(((1000 - draw.textlength(line, font=font) / s) / 2 * s, y * s), line, font=font, fill=(20, 20, 30))
    return card


RENDERERS = {
    "sim": (_sim, 0.035),
    "npwp": (_npwp, 0.035),
    "student_card": (_student_card, 0.035),
    "domicile_letter": (_domicile_letter, 0.002),
    "blank_card": (_blank_card, 0.035),
    "parody_card": (lambda rng, width: _ktp_layout(rng, width, parody=True), 0.035),
    "long_nik_card": (lambda rng, width: _ktp_layout(rng, width, parody=False), 0.035),
}
