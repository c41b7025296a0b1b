"""Layout parser and normaliser on OCR-fragment fixtures (lists of line boxes, no OCR run)."""

from __future__ import annotations

from extractor.engine.backends import TextBox
from extractor.engine.layout import parse_layout
from extractor.engine.normalize import normalize_fields

WIDTH = 1000.0


def box(text: str, x0: float, y0: float, x1: float | None = None, h: float = 24.0, conf: float = 0.98) -> TextBox:
    return TextBox(text, conf, x0, y0, x1 if x1 is not None else x0 + 11.0 * len(text), y0 + h)


def card_boxes(**overrides) -> list[TextBox]:
    """A card as the OCR typically returns it: labels and values separate, some merged."""
    rows = {
        "header1": box("PROVINSI JAWA BARAT", 330, 20, 670, h=30),
        "header2": box("KOTA BANDUNG", 400, 56, 600, h=30),
        "nik_label": box("NIK", 30, 110, 80, h=34),
        "nik_value": box(": 3273015708900002", 240, 110, 620, h=34),
        "name_label": box("Nama", 30, 155),
        "name_value": box(": SITI NURHALIZA", 240, 155),
        "birth": box("Tempat/Tgl Lahir : BANDUNG, 17-08-1990", 30, 187, 520),
        "gender_label": box("Jenis Kelamin", 30, 219),
        "gender_value": box(": PEREMPUAN", 240, 219),
        "blood": box("Gol. Darah : O", 470, 219),
        "address_label": box("Alamat", 30, 251),
        "address_value": box(": JL. MERDEKA NO. 17", 240, 251),
        "rtrw_label": box("RT/RW", 50, 283),
        "rtrw_value": box(":001/002", 240, 283),
        "village_label": box("Kel/Desa", 50, 315),
        "village_value": box(": CITARUM", 240, 315),
        "district_label": box("Kecamatan", 50, 347),
        "district_value": box(": BANDUNG WETAN", 240, 347),
        "religion_label": box("Agama", 30, 379),
        "religion_value": box(": ISLAM", 240, 379),
        "marital": box("Status Perkawinan: BELUM KAWIN", 30, 411, 420),
        "issue_city": box("BANDUNG", 790, 415, 900),
        "occupation_label": box("Pekerjaan", 30, 443),
        "occupation_value": box(": KARYAWAN SWASTA", 240, 443),
        "issue_date": box("12-03-2015", 790, 447, 910),
        "nationality": box("Kewarganegaraan: WNI", 30, 475, 300),
        "valid": box("Berlaku Hingga : SEUMUR HIDUP", 30, 507, 420),
    }
    rows.update(overrides)
    return [b for b in rows.values() if b is not None]


def read(boxes: list[TextBox]) -> dict[str, str | None]:
    fields = normalize_fields(parse_layout(boxes, WIDTH))
    return {name: reading.value for name, reading in fields.items()}


def test_every_field_from_a_typical_card():
    values = read(card_boxes())
    assert values == {
        "nik": "3273015708900002",
        "full_name": "SITI NURHALIZA",
        "place_of_birth": "BANDUNG",
        "date_of_birth": "17-08-1990",
        "gender": "PEREMPUAN",
        "blood_type": "O",
        "address": "JL. MERDEKA NO. 17",
        "rt_rw": "001/002",
        "administrative_village": "CITARUM",
        "district": "BANDUNG WETAN",
        "city": "KOTA BANDUNG",
        "state": "JAWA BARAT",
        "religion": "ISLAM",
        "marital_status": "BELUM KAWIN",
        "occupation": "KARYAWAN SWASTA",
        "nationality": "WNI",
        "valid_until": "SEUMUR HIDUP",
        "issue_city": "BANDUNG",
        "issue_date": "12-03-2015",
    }


def test_wrapped_name_and_address_are_joined():
    values = read(card_boxes(
        name_value=box(": ANDI WIJAYA KUSUMA SAPUTRA", 240, 155),
        name_wrap=box("NUGROHO HARYANTO", 252, 171),
        address_value=box(": PERUM GRIYA ASRI BLOK C", 240, 251),
        address_wrap=box("NO. 17", 252, 267),
    ))
    assert values["full_name"] == "ANDI WIJAYA KUSUMA SAPUTRA NUGROHO HARYANTO"
    assert values["address"] == "PERUM GRIYA ASRI BLOK C NO. 17"
    assert values["place_of_birth"] == "BANDUNG"
    assert values["rt_rw"] == "001/002"


def test_dki_jakarta_city_has_no_prefix():
    values = read(card_boxes(
        header1=box("PROVINSI DKI JAKARTA", 330, 20, 670, h=30),
        header2=box("JAKARTA SELATAN", 380, 56, 620, h=30),
        district_value=box(": KEBAYORANBARU", 240, 347),
    ))
    assert values["state"] == "DKI JAKARTA"
    assert values["city"] == "JAKARTA SELATAN"
    # The register (districts of Jakarta Selatan) spaces it differently: its form sits beside
    # the printed one and never replaces it (spaces come from the image, spacing.py).
    fields = normalize_fields(parse_layout(card_boxes(
        header1=box("PROVINSI DKI JAKARTA", 330, 20, 670, h=30),
        header2=box("JAKARTA SELATAN", 380, 56, 620, h=30),
        district_value=box(": KEBAYORANBARU", 240, 347),
    ), WIDTH))
    assert fields["district"].value == "KEBAYORANBARU"
    assert fields["district"].canonical == "KEBAYORAN BARU"
    assert fields["district"].snapped


def test_address_spaces_are_not_invented_from_text():
    # Without the image nothing says whether the card prints `NO.7` or `NO. 7`: kept as read.
    values = read(card_boxes(address_value=box(": GG.GRIYA INDAH BLOK C9 NO.7", 240, 251)))
    assert values["address"] == "GG.GRIYA INDAH BLOK C9 NO.7"


def test_blood_type_on_the_gender_row_when_merged_and_noisy():
    values = read(card_boxes(gender_value=box(": LAKI-LAKI", 240, 219), blood=box("Goi. Darah :0", 470, 219)))
    assert values["gender"] == "LAKI-LAKI"
    assert values["blood_type"] == "O"
    merged = read(card_boxes(gender_value=box(": PEREMPUAN Gol. Darah : AB+", 240, 219, 700), blood=None))
    assert merged["gender"] == "PEREMPUAN"
    assert merged["blood_type"] == "AB+"
    underscored = read(card_boxes(gender_value=box(": LAKI-LAKI Gol. Darah _: -", 240, 219, 700), blood=None))
    assert underscored["gender"] == "LAKI-LAKI"
    assert underscored["blood_type"] == "-"
    stroke = read(card_boxes(gender_value=box(": PEREMPUAN Gol. Darah 1：", 240, 219, 700), blood=None))
    assert stroke["gender"] == "PEREMPUAN"
    assert stroke["blood_type"] == "-"


def test_a_garbled_blood_type_still_leaves_the_gender_alone():
    values = read(card_boxes(gender_value=box(":LAKI-LAKI", 198, 219), blood=box("Gol. Darah", 457, 219),
                             blood_value=box("1i", 563, 222, h=13, conf=0.48)))
    assert values["gender"] == "LAKI-LAKI"
    assert values["blood_type"] is None  # not read, not invented


def test_missing_birth_label_line_is_still_the_birth_row():
    values = read(card_boxes(birth=box(": BANDUNG, 17-08-1990", 240, 187)))
    assert values["full_name"] == "SITI NURHALIZA"
    assert values["place_of_birth"] == "BANDUNG"
    assert values["date_of_birth"] == "17-08-1990"


def test_ocr_confusions_are_repaired_in_the_nik_only():
    values = read(card_boxes(nik_value=box(": 32730I57O89OOOO2", 240, 110, 620, h=34), name_value=box(": SITI NURHAL1ZA", 240, 155)))
    assert values["nik"] == "3273015708900002"
    assert values["full_name"] == "SITI NURHALIZA"


def test_raw_text_and_confidence_are_kept():
    fields = normalize_fields(parse_layout(card_boxes(occupation_value=box(": KARYAWAN SWASTAA", 240, 443, conf=0.9)), WIDTH))
    occupation = fields["occupation"]
    assert occupation.value == "KARYAWAN SWASTA"
    assert occupation.raw == "KARYAWAN SWASTAA"
    assert 0.0 < occupation.confidence < 0.9
    assert fields["nik"].confidence > 0.9


def test_nothing_parsed_without_labels():
    assert parse_layout([box("INDOMARET", 100, 100), box("TOTAL 25.000", 100, 140)], WIDTH) == {}


def test_colon_misread_as_a_letter_and_long_issuing_city():
    values = read(card_boxes(
        marital=box("Status Perkawinanx BELUM KAWIN", 30, 411, 420),
        issue_city=box("BOLAANG MONGONDOW SELATAN", 700, 413, 960),
    ))
    assert values["marital_status"] == "BELUM KAWIN"
    assert values["issue_city"] == "BOLAANG MONGONDOW SELATAN"
    assert values["issue_date"] == "12-03-2015"


def test_a_mixed_case_label_glued_to_its_value_ends_where_the_case_changes():
    # The recogniser left out the colon and the space: `Status Perkawin anKAWIN`.
    values = read(card_boxes(
        marital=box("Status Perkawin anKAWIN", 30, 411, 310),
        nationality=box("KewarganegaraanWNI", 30, 475, 250),
    ))
    assert values["marital_status"] == "KAWIN"
    assert values["nationality"] == "WNI"


def test_comma_for_an_abbreviation_period():
    values = read(card_boxes(address_value=box(": GG, SULTAN AGUNG NO, 5", 240, 251)))
    assert values["address"] == "GG. SULTAN AGUNG NO. 5"


def test_card_smaller_than_the_frame_still_has_its_photo_column():
    # No card outline found: the card fills half of a 1000-pixel frame, away from the left edge.
    def shrink(b: TextBox) -> TextBox:
        return TextBox(b.text, b.confidence, 110 + 0.48 * b.x0, 260 + 0.48 * b.y0, 110 + 0.48 * b.x1, 260 + 0.48 * b.y1)

    values = read([shrink(b) for b in card_boxes()])
    assert values["issue_city"] == "BANDUNG"
    assert values["issue_date"] == "12-03-2015"
    assert values["occupation"] == "KARYAWAN SWASTA"


def test_tall_header_reaching_beside_the_nik_label():
    values = read(
        card_boxes(
            header1=box("PROVINSI BENGKULU", 400, 40, 600, h=34),
            header2=box("KABUPATEN BENGKULU TENGAH", 342, 80, 746, h=40),
        )
    )
    assert values["state"] == "BENGKULU"
    assert values["city"] == "KABUPATEN BENGKULU TENGAH"
    assert values["nik"] == "3273015708900002"


def test_the_nik_is_read_when_its_label_is_not():
    # A small card's "NIK" read as "NK" matches no label: its row then sits above the first label
    # read (Nama), with the header. Its number is still the NIK, and not the city.
    values = read(card_boxes(nik_label=box("NK", 30, 110, 70, h=34), nik_value=box("3273015708900002", 240, 110, 620, h=34)))
    assert values["nik"] == "3273015708900002"
    assert values["state"] == "JAWA BARAT"
    assert values["city"] == "KOTA BANDUNG"


def test_a_header_without_a_sixteen_digit_number_gives_no_nik():
    values = read(card_boxes(nik_label=None, nik_value=box("NO. 3273015708", 240, 110, 620, h=34)))
    assert values["nik"] is None


def test_a_value_whose_label_was_not_read_takes_the_row_the_label_pitch_gives():
    # `Nama` read as noise: the name's line sits where the read labels' pitch puts the name row.
    values = read(card_boxes(name_label=box("NaaI2NR", 30, 155, conf=0.58)))
    assert values["full_name"] == "SITI NURHALIZA"
    # The same for a row further down, and for the birth row that has no label of its own left.
    values = read(card_boxes(religion_label=None, birth=box(": BANDUNG, 17-08-1990", 240, 187, 520)))
    assert values["religion"] == "ISLAM"
    assert (values["place_of_birth"], values["date_of_birth"]) == ("BANDUNG", "17-08-1990")


def test_an_unlabelled_line_between_rows_is_not_given_a_row():
    # Half a pitch off any row: a stray line (a stamp, the photo's caption) stays out of the fields.
    values = read(card_boxes(name_label=None, name_value=box(": SITI NURHALIZA", 240, 171)))
    assert values["full_name"] is None
