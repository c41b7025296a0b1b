"""Dropped spaces restored from the ink gaps of a rendered line (Arimo, metric-compatible with Arial)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from extractor.engine.backends import TextBox
from extractor.engine.spacing import restore_spaces


def rendered(text: str, size: int = 24, face: str = "sans") -> tuple[np.ndarray, TextBox]:
    from extractor.synth.fonts import load

    font = load(face, size)
    width = int(font.getlength(text)) + 40
    image = Image.new("L", (width, size * 2), 235)
    ImageDraw.Draw(image).text((20, size // 3), text, font=font, fill=25)
    grey = np.asarray(image)
    rows, cols = np.nonzero(grey < 128)
    box = TextBox(text, 0.95, float(cols.min() - 4), float(rows.min() - 4), float(cols.max() + 5), float(rows.max() + 5))
    return grey, box


@pytest.mark.parametrize(
    ("printed", "read"),
    [
        ("RAHMAT PRATAMA ANTONIUS", "RAHMAT PRATAMAANTONIUS"),
        ("WULANDARI AISYAH IIS", "WULANDARIAISYAH IIS"),
        ("GG. GRIYA INDAH BLOK C9", "GG. GRIYAINDAH BLOK C9"),
        ("BANDUNG WETAN", "BANDUNGWETAN"),
    ],
)
def test_dropped_space_is_restored(printed, read):
    grey, box = rendered(printed)
    assert restore_spaces(grey, box.with_text(read)) == printed


@pytest.mark.parametrize("printed", ["SRIWAHYUNI PURWANINGSIH SIHOMBING", "KEBAYORAN BARU", "PEGAWAI NEGERI SIPIL (PNS)", "3273015708900002"])
def test_correct_text_is_left_alone(printed):
    grey, box = rendered(printed)
    assert restore_spaces(grey, box) == printed


def test_moderate_blur_still_shows_the_gap():
    grey, box = rendered("RAHMAT PRATAMA ANTONIUS")
    blurred = cv2.GaussianBlur(grey, (0, 0), 2.0)
    assert restore_spaces(blurred, box.with_text("RAHMAT PRATAMAANTONIUS")) == "RAHMAT PRATAMA ANTONIUS"


def test_heavy_blur_invents_nothing():
    grey, box = rendered("RAHMAT PRATAMA ANTONIUS")
    smeared = cv2.GaussianBlur(grey, (0, 0), 12.0)
    assert restore_spaces(smeared, box.with_text("RAHMAT PRATAMAANTONIUS")) == "RAHMAT PRATAMAANTONIUS"


def test_mixed_case_labels_are_never_split():
    grey, box = rendered("Status Perkawinan")
    assert restore_spaces(grey, box.with_text("StatusPerkawinan")) == "StatusPerkawinan"


@pytest.mark.parametrize(("printed", "read"), [("GG. MAWAR III NO. 9", "GG. MAWAR II NO. 9"), ("LUBUK SANAI II", "LUBUK SANAI III"), ("KEBON JERUK I NO. 147", "KEBON JERUKI NO. 147")])
def test_roman_numerals_are_counted(printed, read):
    grey, box = rendered(printed)
    assert restore_spaces(grey, box.with_text(read)) == printed


@pytest.mark.parametrize("printed", ["SRIWAHYUNI", "GG. AHMAD YANI NO. 24"])
def test_known_words_are_not_torn_apart(printed):
    grey, box = rendered(printed)
    assert restore_spaces(grey, box) == printed


def test_abbreviation_after_a_narrow_letter():
    grey, box = rendered("GG. AHMAD YANI NO. 24")
    assert restore_spaces(grey, box.with_text("GG. AHMAD YANINO. 24")) == "GG. AHMAD YANI NO. 24"


def test_trailing_roman_numeral_v_is_split_off():
    grey, box = rendered("JLN. KRAJAN GG. MERDEKA V NO. 180")
    assert restore_spaces(grey, box.with_text("JLN. KRAJAN GG. MERDEKAV NO. 180")) == "JLN. KRAJAN GG. MERDEKA V NO. 180"


@pytest.mark.parametrize(
    ("printed", "read"),
    [
        # A and V stand flush in their advance: the space is most of the gap between them.
        ("CANTIKA ADIT SAMSUL", "CANTIKAADIT SAMSUL"),
        ("PETRUS WIDYA ANDI", "PETRUS WIDYAANDI"),
        ("SUSI AZIZAH", "SUSIAZIZAH"),
    ],
)
def test_space_between_flush_letters_is_restored(printed, read):
    grey, box = rendered(printed)
    assert restore_spaces(grey, box.with_text(read)) == printed


@pytest.mark.parametrize("printed", ["ANDI RAMADHANI EMA KRISNA", "ARDIANSYAH SAHRUL HABIBI", "SRI DEDEH ASIH PRASETYA"])
def test_wide_letter_pairs_are_not_word_gaps(printed):
    # N-I and B-I leave as much blank as A A with a space; a final I is not a roman numeral.
    grey, box = rendered(printed)
    assert restore_spaces(grey, box) == printed


def test_roman_numeral_glued_to_the_house_number():
    grey, box = rendered("JALAN KARTINI GG. TELUK BETUNG I NO. 91")
    read = box.with_text("JALAN KARTINI GG. TELUK BETUNG INO.91")
    assert restore_spaces(grey, read) == "JALAN KARTINI GG. TELUK BETUNG I NO. 91"


def test_space_after_a_period_comes_from_the_pixels():
    # Printed with a space: the dropped space is restored; printed without one: left alone.
    grey, box = rendered("JL. MERDEKA NO. 36")
    assert restore_spaces(grey, box.with_text("JL.MERDEKA NO.36")) == "JL. MERDEKA NO. 36"
    grey, box = rendered("JL.MERDEKA NO.36")
    assert restore_spaces(grey, box) == "JL.MERDEKA NO.36"


def test_a_space_the_pixels_do_not_show_is_dropped():
    grey, box = rendered("KALIMANTAN BARAT")
    assert restore_spaces(grey, box.with_text("KALIMAN TAN BARAT")) == "KALIMANTAN BARAT"
    grey, box = rendered("RIZKA HAMZAH")
    assert restore_spaces(grey, box.with_text("RIZKA HAM ZAH")) == "RIZKA HAMZAH"
    # Printed spaces stay.
    grey, box = rendered("TITI RANTAI BARU")
    assert restore_spaces(grey, box) == "TITI RANTAI BARU"


def test_a_known_word_is_not_split_at_a_narrow_gap():
    grey, box = rendered("PALOPO, 14-11-2008")
    assert restore_spaces(grey, box) == "PALOPO, 14-11-2008"


def test_a_colon_glued_to_the_value_does_not_stop_the_numeral_count():
    grey, box = rendered(":TABEAK BLAU I")
    assert restore_spaces(grey, box.with_text(":TABEAK BLAUI")) == ":TABEAK BLAU I"


@pytest.mark.parametrize(
    ("printed", "read", "size"),
    [
        ("LUMENTUT MELATI", "LUMENTUTMELATI", 24),
        ("BENGKULU UTARA", "BENGKULUUTARA", 24),
        ("KABUPATEN HALMAHERA SELATAN", "KABUPATEN HALMAHERASELATAN", 24),
        ("KAYOA BARAT", "KAYOABARAT", 20),
    ],
)
def test_condensed_face_keeps_its_own_scale(printed, read, size):
    # Roboto Condensed is a fifth narrower than Arial at the same cap height: measured in cap
    # heights its word gaps looked like letter pairs, and the space landed a letter off or not at all.
    grey, box = rendered(printed, size, "roboto-condensed")
    assert restore_spaces(grey, box.with_text(read)) == printed


@pytest.mark.parametrize("printed", ["ANDI RAMADHANI EMA KRISNA", "SRIWAHYUNI PURWANINGSIH SIHOMBING", "HUMBANG HASUNDUTAN"])
def test_condensed_letter_spacing_is_not_a_word_gap(printed):
    # Its A stands as far from an H as an N from an I: no space is invented between them.
    grey, box = rendered(printed, 24, "roboto-condensed")
    assert restore_spaces(grey, box) == printed


def test_roman_numeral_strokes_merged_by_the_copy_still_count_as_two():
    # A photocopy's spread ink fills the blank between the two strokes of II: one wide run.
    grey, box = rendered("LUBUK LINGGAU UTARA II", size=32)
    ink_columns = np.flatnonzero((grey < 128).any(axis=0))
    last, second_last = ink_columns[-1], ink_columns[np.flatnonzero(np.diff(ink_columns) > 1)[-1]]
    merged = grey.copy()
    rows = np.flatnonzero((grey < 128).any(axis=1))
    merged[rows[0]:rows[-1] + 1, second_last:last] = 25
    assert restore_spaces(merged, box.with_text("LUBUK LINGGAUUTARA II")) == "LUBUK LINGGAU UTARA II"


@pytest.mark.parametrize("spread", [1, 2, 3])
def test_a_dropped_stroke_is_counted_where_the_strokes_stand_close(spread):
    # Spread ink (a phone photo) narrows the blank between the strokes of II below a word gap:
    # the numeral's ink run is then two strokes wide, which a one-stroke reading must still fit.
    grey, box = rendered(": SIDONDO II", size=20)
    inked = cv2.erode(grey, np.ones((1, spread), np.uint8))
    assert restore_spaces(inked, box.with_text(": SIDONDO I")) == ": SIDONDO II"
    assert restore_spaces(inked, box) == ": SIDONDO II"


def _without_t_bars(text: str, size: int = 24) -> tuple[np.ndarray, TextBox]:
    """The line as blur or a light print leaves it: each T's thin bar gone, its stem left."""
    from extractor.synth.fonts import load

    grey, box = rendered(text, size)
    font = load("sans", size)
    grey = grey.copy()
    for i, ch in enumerate(text):
        if ch == "T":
            left = 20 + font.getlength(text[:i])
            centre = left + font.getlength("T") / 2
            stem = (int(centre - 0.06 * size), int(np.ceil(centre + 0.06 * size)))
            grey[:, int(left):stem[0]] = 235
            grey[:, stem[1]:int(np.ceil(left + font.getlength("T")))] = 235
    return grey, box


@pytest.mark.parametrize("printed", ["FAJAR PUSPITASARI", "AGUSTINA PUTRI", "KOTA BATU"])
def test_the_blank_beside_a_t_without_its_bar_is_no_space(printed):
    grey, box = _without_t_bars(printed)
    assert restore_spaces(grey, box) == printed


@pytest.mark.parametrize(("printed", "read"), [("BARAT DAYA", "BARATDAYA"), ("JAKARTA TIMUR", "JAKARTATIMUR")])
def test_a_dropped_space_beside_a_t_without_its_bar_is_still_restored(printed, read):
    grey, box = _without_t_bars(printed)
    assert restore_spaces(grey, box.with_text(read)) == printed


def _upscaled(text: str, size: int, read: str) -> tuple[np.ndarray, TextBox]:
    """``text`` printed ``size`` px high and enlarged to 24 px as a small card is (cubic), read as ``read``."""
    grey, box = rendered(text, size)
    factor = 24 / size
    enlarged = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return enlarged, TextBox(read, box.confidence, box.x0 * factor, box.y0 * factor, box.x1 * factor, box.y1 * factor)


@pytest.mark.parametrize("size", [10, 12])
def test_a_space_inside_a_known_word_on_enlarged_small_print_is_dropped(size):
    # Enlarged small print opens blanks beside thin strokes wider than the letter pair's bearings
    # explain, but narrower than a wide gap: inside a known word (GROGOL, PETAMBURAN) whose pieces
    # are not both words, such a recogniser's space goes, as restore_spaces never splits one there.
    grey, box = _upscaled("GROGOL PETAMBURAN", size, "GR OGOL PE TAMBURAN")
    assert restore_spaces(grey, box) == "GROGOL PETAMBURAN"


def test_a_printed_space_inside_a_known_word_stays():
    # The pixels show a wide gap: the printed value wins over the lexicon's JAKARTA.
    grey, box = rendered("JAKAR TA UTARA")
    assert restore_spaces(grey, box) == "JAKAR TA UTARA"


@pytest.mark.parametrize(
    ("printed", "read"),
    [("TANAH LAUT", "TANAHLAUT"), ("KULISUSU UTARA", "KULISUSUUTARA"), ("BANDUNG WETAN", "BANDUNGWETAN")],
)
def test_a_colon_the_recogniser_left_out_does_not_shift_the_positions(printed, read):
    # The box takes in the label column's colon; the text starts at the value.
    grey, box = rendered(f": {printed}")
    assert restore_spaces(grey, box.with_text(read)) == printed


def test_a_lone_space_inside_a_known_word_goes_only_when_other_lines_are_sharp():
    grey, box = rendered("MOROWALI")
    read = box.with_text("MO ROWALI")
    assert restore_spaces(grey, read) == "MO ROWALI"  # nothing on the line to judge the gap by
    assert restore_spaces(grey, read, sharp_elsewhere=True) == "MOROWALI"
    # Not a known word: with no other space on the line, a misread letter could have moved it.
    grey, box = rendered("DIMASIBRAHM")
    assert restore_spaces(grey, box.with_text("DIMAS IBRAHM"), sharp_elsewhere=True) == "DIMAS IBRAHM"


def test_the_other_lines_of_the_card_show_that_it_is_sharp():
    from extractor.engine.spacing import restore_all

    lines = [("KABUPATEN TANAH LAUT", None), ("JL. MERDEKA RAYA NO. 5", None), ("BANDUNG WETAN", None),
             ("MOROWALI", "MO ROWALI")]
    rendered_lines = [rendered(printed) for printed, _ in lines]
    width = max(grey.shape[1] for grey, _ in rendered_lines)
    card, boxes, top = [], [], 0
    for (printed, read), (grey, box) in zip(lines, rendered_lines):
        card.append(np.pad(grey, ((0, 0), (0, width - grey.shape[1])), constant_values=235))
        boxes.append(TextBox(read or printed, 0.95, box.x0, box.y0 + top, box.x1, box.y1 + top))
        top += grey.shape[0]
    image = cv2.cvtColor(np.vstack(card), cv2.COLOR_GRAY2BGR)
    assert [box.text for box in restore_all(image, boxes)] == [printed for printed, _ in lines]
    # One sharp line is not enough to speak for the card.
    assert restore_all(image, boxes[2:])[-1].text == "MO ROWALI"


def _tightly_spaced(words: list[str], size: int, space_share: float) -> tuple[np.ndarray, TextBox]:
    """``words`` printed ``size`` px high with ``space_share`` of a space between them, enlarged to
    24 px as a small card is (cubic), read without the spaces."""
    from extractor.synth.fonts import load

    font = load("sans", size)
    gap = font.getlength(" ") * space_share
    image = Image.new("L", (int(sum(font.getlength(w) + gap for w in words)) + 40, size * 2), 235)
    draw, x = ImageDraw.Draw(image), 20.0
    for word in words:
        draw.text((x, size // 3), word, font=font, fill=25)
        x += font.getlength(word) + gap
    factor = 24 / size
    grey = cv2.resize(np.asarray(image), None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    rows, cols = np.nonzero(grey < 128)
    box = TextBox("".join(words), 0.95, float(cols.min() - 4), float(rows.min() - 4), float(cols.max() + 5), float(rows.max() + 5))
    return grey, box


@pytest.mark.parametrize("words", [["SUNGAI", "PENUH"], ["BUMI", "MAKMUR"]])
def test_a_word_gap_too_narrow_to_part_the_ink_is_found_between_two_known_words(words):
    # Small print set tight: the word gap closes to a letter pair's blank, too narrow to part the
    # ink runs; the lexicon proposes the boundary, the blank there confirms it.
    grey, box = _tightly_spaced(words, 10, 0.5)
    assert restore_spaces(grey, box) == " ".join(words)


@pytest.mark.parametrize("size", [9, 10, 24])
@pytest.mark.parametrize("printed", ["LUMBANTOBING", "PATTINAMA", "SUKAMAJUBARU"])
def test_a_word_printed_whole_is_not_split_where_the_lexicon_could(printed, size):
    # LUMBAN, TOBING, PATTI and NAMA are all region-name words, SUKAMAJU and BARU too; the line
    # prints one word, with no gap where the lexicon could split it.
    grey, box = _upscaled(printed, size, printed)
    assert restore_spaces(grey, box) == printed


def test_a_known_word_running_on_into_a_glued_word_is_not_split_inside():
    # Noto Sans at 8 px, enlarged: the blank after HALMA passes for a word gap, but HALMAHERA runs
    # on past it and HALMA is no word; the gap after HALMAHERA is the dropped space.
    grey, box = rendered("HALMAHERA TENGAH", 8, "noto-sans")
    enlarged = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    box = TextBox("HALMAHERATENGAH", box.confidence, box.x0 * 3, box.y0 * 3, box.x1 * 3, box.y1 * 3)
    assert restore_spaces(enlarged, box) == "HALMAHERA TENGAH"


def _colon_touching(value: str, size: int) -> tuple[np.ndarray, TextBox]:
    """``:`` printed one blank column before ``value`` (small print's label column), read as printed."""
    from extractor.synth.fonts import load

    font = load("sans", size)
    colon, words = (Image.new("L", (int(font.getlength(t)) + 20, size * 2), 235) for t in (":", value))
    ImageDraw.Draw(colon).text((10, size // 3), ":", font=font, fill=25)
    ImageDraw.Draw(words).text((10, size // 3), value, font=font, fill=25)
    colon_ink, value_ink = (np.flatnonzero((np.asarray(part) < 128).any(axis=0)) for part in (colon, words))
    image = Image.new("L", (words.width + 40, size * 2), 235)
    image.paste(colon, (20 - colon_ink[0], 0))
    # Paste the value with its first ink column two columns after the colon's last: one blank.
    value_x = 20 + colon_ink[-1] - colon_ink[0] + 2 - value_ink[0]
    image.paste(words.crop((value_ink[0] - 1, 0, words.width, words.height)), (value_x + value_ink[0] - 1, 0))
    grey = np.asarray(image)
    rows, cols = np.nonzero(grey < 128)
    box = TextBox(":" + value, 0.95, float(cols.min() - 4), float(rows.min() - 4), float(cols.max() + 5), float(rows.max() + 5))
    return grey, box


@pytest.mark.parametrize("size", [16, 20, 24])
def test_a_colon_touching_the_value_does_not_shift_where_a_glued_word_is_split(size):
    # DHARMA and WAN are both known words; measured from the D instead of the S, the A-W boundary
    # would fall on the word gap before SUYATNO and split the name.
    grey, box = _colon_touching("STEFANUS DHARMAWAN SUYATNO", size)
    assert restore_spaces(grey, box) == ":STEFANUS DHARMAWAN SUYATNO"


@pytest.mark.parametrize("size", [14, 16])
def test_a_letter_pair_without_a_blank_is_not_judged_by_its_neighbours_blank(size):
    # A and W stand flush; the blank within reach of where DHARMA|WAN would part is the M-A pair's.
    grey, box = rendered("STEFANUS DHARMAWAN SUYATNO", size)
    assert restore_spaces(grey, box) == "STEFANUS DHARMAWAN SUYATNO"


def test_a_narrow_gap_with_one_known_piece_yields_to_two_known_words_a_letter_away():
    # Measured on a frame-style card: the run's width put a 0.23 cap gap on K|A (TARAK is a known
    # word, ANUTARA none) or A|N; the card prints TARAKAN UTARA, whose N|U gap comes next.
    from extractor.engine.spacing import _choose_boundary

    assert _choose_boundary(":TARAKANUTARA", 0, [7, 6], 13, 0.232) is None
    # Where both pieces are known words the same gap still splits.
    assert _choose_boundary(":TARAKANUTARA", 0, [8], 13, 0.386) == 8


def test_a_tall_box_holding_the_neighbouring_lines_is_measured_on_its_own_line():
    # The stronger model's box from a padded crop reaches into the lines above and below; their
    # letters neither count towards the cap height nor fill this line's gaps.
    from extractor.synth.fonts import load

    size, pitch = 16, 19  # lines 7 px apart
    lines = ["SUKAMAJU BARU KOTA", "KOMP. KARTINI PERMAI BLOK G16", "TANJUNG PRIOK UTARA"]
    font = load("sans", size)
    image = Image.new("L", (int(max(font.getlength(t) for t in lines)) + 40, pitch * 3 + 20), 235)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        draw.text((20, 10 + row * pitch), text, font=font, fill=25)
    grey = np.asarray(image)
    middle = np.flatnonzero((grey[10 + pitch:10 + 2 * pitch] < 128).any(axis=1)) + 10 + pitch
    top, bottom = middle.min(), middle.max()
    reach = bottom - top  # a cap height above and below: into both neighbours
    box = TextBox("KOMP. KARTINIPERMAI BLOK G16", 0.95, 14.0, float(top - reach), float(font.getlength(lines[1]) + 26), float(bottom + reach))
    assert restore_spaces(grey, box) == "KOMP. KARTINI PERMAI BLOK G16"


@pytest.mark.parametrize(("words", "size", "space_share"), [
    (["HENDRA", "RIZAL"], 10, 0.5), (["IMAM", "DIAH"], 10, 0.5), (["KARTINI", "NUNUNG"], 10, 0.4), (["KARTINI", "NUNUNG"], 12, 0.5),
])
def test_a_name_the_lexicon_does_not_know_is_parted_from_one_it_does_at_the_word_s_widest_blank(words, size, space_share):
    # RIZAL, DIAH and NUNUNG are in no list: the known name beside them proposes the boundary, and
    # the widest blank of the glued word, a clear one, must stand there.
    grey, box = _tightly_spaced(words, size, space_share)
    assert restore_spaces(grey, box) == " ".join(words)


@pytest.mark.parametrize("size", [9, 10, 24])
@pytest.mark.parametrize("printed", ["SUPRIYANTO", "SRIWAHYUNI", "HENDRAWATI", "KURNIAWATI"])
def test_a_name_printed_whole_with_a_known_name_inside_is_not_split(printed, size):
    grey, box = _upscaled(printed, size, printed)
    assert restore_spaces(grey, box) == printed


@pytest.mark.parametrize(("read", "restored", "kept"), [
    # The layout drifted a letter on a non-Arial face: the recogniser's space was dropped and put back
    # a letter on. Its own place holds known words (MOHAMMAD, JALAN MARGONDA): it stays there.
    (": YOHANES MOHAMMAD LEWERISSA ARIS", ": YOHANES MOHAMMADL EWERISSA ARIS", ": YOHANES MOHAMMAD LEWERISSA ARIS"),
    (": JALAN MARGONDA RAYA", ": JALA NMARGONDA RAYA", ": JALAN MARGONDA RAYA"),
    # The recogniser's place a letter off and the new one between known words: the new one stays.
    ("TARAKANU TARA", "TARAKAN UTARA", "TARAKAN UTARA"),
    # A space restored where the recogniser had none is not a move.
    ("RAHMAT PRATAMAANTONIUS", "RAHMAT PRATAMA ANTONIUS", "RAHMAT PRATAMA ANTONIUS"),
])
def test_a_space_moved_by_a_letter_goes_back_unless_the_lexicon_prefers_the_new_place(read, restored, kept):
    from extractor.engine.spacing import _keep_moved_spaces

    assert _keep_moved_spaces(read, restored) == kept


def test_a_colon_the_box_does_not_hold_does_not_stop_the_glued_word_split():
    # The recogniser reads the label's colon into a box whose ink starts at the H: the first ink
    # reaches the middle of the cap band at once, so no colon stands before the value.
    grey, box = _tightly_spaced(["HENDRA", "RIZAL"], 10, 0.5)
    assert restore_spaces(grey, box.with_text(":HENDRARIZAL")) == ":HENDRA RIZAL"


def _colon_glued_on(words: list[str]) -> tuple[np.ndarray, TextBox]:
    """``words`` as _tightly_spaced prints them, with a colon touching the first letter (no blank
    column between), its lower dot on the baseline: small print's label column."""
    from extractor.synth.fonts import load

    grey, box = _tightly_spaced(words, 10, 0.5)
    colon = Image.new("L", (40, grey.shape[0]), 235)
    ImageDraw.Draw(colon).text((10, 4), ":", font=load("sans", 24), fill=25)
    dots = np.asarray(colon)
    cols, rows = np.flatnonzero((dots < 128).any(axis=0)), np.flatnonzero((dots < 128).any(axis=1))
    dots = np.roll(dots, np.flatnonzero((grey < 128).any(axis=1)).max() - rows.max(), axis=0)
    first = int(np.flatnonzero((grey < 128).any(axis=0))[0])
    width = cols[-1] - cols[0] + 1
    x = first - width  # the colon's last ink column right before the letter's first
    glued = grey.copy()
    glued[:, x:x + width] = np.minimum(glued[:, x:x + width], dots[:, cols[0]:cols[-1] + 1])
    return glued, TextBox(":" + box.text, box.confidence, float(x - 4), box.y0, box.x1, box.y1)


@pytest.mark.parametrize("words", [["HENDRA", "RIZAL"], ["SUNGAI", "PENUH"]])
def test_a_colon_touching_the_first_letter_is_told_apart_by_the_blank_between_its_dots(words):
    grey, box = _colon_glued_on(words)
    assert restore_spaces(grey, box) == ":" + " ".join(words)
