"""The printed value wins: normalisation repairs OCR confusions only; register forms sit beside it."""

from extractor.engine import vocabulary as vocab
from extractor.engine.layout import RawField
from extractor.engine.normalize import (
    normalize_address,
    normalize_choice,
    normalize_fields,
    normalize_name,
    normalize_place,
    repair_from_register,
)


def raw(text: str, confidence: float = 0.95) -> RawField:
    return RawField(text, confidence)


def fixed_register(listed: str):
    return lambda text, **_: (listed, 1)


def test_digits_in_names_and_places_stay_digits():
    assert normalize_name("20 ILIR D I") == "20 ILIR D I"
    # A digit inside a word of letters is a misread letter.
    assert normalize_name("J0KO WID0D0") == "JOKO WIDODO"


def test_no_punctuation_or_spaces_added_to_addresses():
    assert normalize_address("JL DIMANA NO 100") == "JL DIMANA NO 100"
    assert normalize_address("JL. DIMANA NO. 100") == "JL. DIMANA NO. 100"
    # A comma read for an abbreviation's period is a misread, repaired.
    assert normalize_address("GG, SULTAN AGUNG") == "GG. SULTAN AGUNG"
    assert normalize_address("GG: SUKAJADI INDAH BLOK C5 NO; 69") == "GG. SUKAJADI INDAH BLOK C5 NO. 69"


def test_a_register_form_that_respells_stays_beside_the_printed_value():
    for printed, listed in (("ILIR TIMUR I", "ILIR TIMUR DUA"), ("TITI RANTAI", "TITI RANTE")):
        reading = normalize_place(raw(printed), fixed_register(listed))
        assert reading.value == printed
        assert reading.canonical == listed
        assert reading.snapped


def test_a_register_repairs_look_alike_letters_but_keeps_the_printed_spaces():
    reading = normalize_place(raw("SUKAMAIU"), fixed_register("SUKAMAJU"))
    assert reading.value == "SUKAMAJU"
    assert reading.snapped
    assert repair_from_register("WONOSARI", "WONO SARI") == "WONOSARI"
    assert repair_from_register("KEBAYORAN BARU", "KEBAYORANBARU") == "KEBAYORAN BARU"
    # Not a look-alike (A/E), a letter more, a numeral spelled out: no repair.
    assert repair_from_register("RANTAI", "RANTEI") is None
    assert repair_from_register("RANTAI", "RANTE") is None


def test_closed_vocabularies_say_they_snapped():
    reading = normalize_choice(raw("KRISTFN"), vocab.RELIGIONS)
    assert reading.value == "KRISTEN"
    assert reading.canonical == "KRISTEN"
    assert reading.snapped
    free = normalize_choice(raw("ASTRONOT"), vocab.OCCUPATIONS)
    assert free.value == "ASTRONOT"
    assert not free.snapped
    assert free.canonical is None


def test_mixed_case_l_read_as_capital_i():
    assert normalize_address("JI. MeIati No. 5") == "JL. MELATI NO. 5"
    # Upper-case text: a lower-case l is an I.
    assert normalize_name("SlTI") == "SITI"
    # Roman numerals in upper-case text stay.
    assert normalize_name("ILIR TIMUR II") == "ILIR TIMUR II"


def test_card_fields_keep_the_printed_place_and_note_the_register():
    fields = normalize_fields({
        "state": raw("PROVINSI SUMATERA SELATAN"),
        "city": raw("KOTA PALEMBANG"),
        "district": raw("ILIR TIMUR I"),
        "birth": raw("PALEMBANG, 01-02-1990"),
    })
    assert fields["state"].value == "SUMATERA SELATAN"
    assert fields["city"].value == "KOTA PALEMBANG"
    assert fields["district"].value == "ILIR TIMUR I"
    assert fields["place_of_birth"].value == "PALEMBANG"


def test_cjk_and_full_width_punctuation_is_read_as_the_cards_own():
    import numpy as np

    from extractor.engine.backends import TextBox
    from extractor.engine.interpretation import interpret
    from extractor.engine.normalize import latin_punctuation
    from extractor.engine.ocr_pass import Attempt, label_hits

    assert latin_punctuation("JL、BATU。") == "JL,BATU."
    assert latin_punctuation("Gol. Darah：O，NO．5") == "Gol. Darah:O,NO.5"
    assert latin_punctuation("JALÁN AHMAD YANÍ, Jl. Melatì") == "JALAN AHMAD YANI, Jl. Melati"
    assert latin_punctuation("NIK：3273 ÷ Ø") == "NIK:3273 ÷ Ø"  # no accented letter: left as read
    rows = (("PROVINSI JAWA BARAT", None), ("KOTA BANDUNG", None), ("NIK", ": 3273014703900012"),
            ("Nama", ": SITI AMINAH"), ("Alamat", "： JL、 BATU CEPER"), ("Agama", "：ISLAM"))
    boxes = []
    for i, (label, value) in enumerate(rows):
        y = 10 + 32 * i
        boxes.append(TextBox(label, 0.95, 30, y, 200, y + 26))
        if value:
            boxes.append(TextBox(value, 0.95, 210, y, 700, y + 26))
    card = np.full((400, 800, 3), 255, np.uint8)
    reading = interpret(Attempt(card, boxes, label_hits(boxes), "fake", card))
    assert reading.fields["address"].value == "JL. BATU CEPER"
    assert reading.fields["religion"].value == "ISLAM"
