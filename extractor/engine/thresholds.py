"""Every tuned threshold of the engine's flow, quality flags and space restoration, in one place.

Each comment says what the number decides and what it was calibrated on, as far as the history
shows (commit, docs/extractor-engine.md). "First round" means the engine's first day of tuning on
synthetic seeds 101, 202, 303, 404 and 777; "second round" the later tuning on synthetic seeds
555-560 and 7000+ (plus the old measurement seeds 9001-9601 once they had been measured). Where no
record says which cards a number was chosen on, the comment says so. None was tuned on real photos.

Geometry rules that only shape one parser step (column positions in layout.py, outline scores in
localize.py, snapping evidence in normalize.py, edit budgets in fuzzy.py) stay next to their code.
"""

from __future__ import annotations

# --- Is there a KTP, and which orientation (pipeline) ------------------------------------------

# A card is "detected" when at least this many distinct row labels are read (besides an anchor:
# the NIK label, a 16-digit number or PROVINSI). Since the first engine commit (06ed98e); no record
# of the cards it was chosen on (first round). Checked, not tuned: none of the 12 no-KTP photos of
# measurement seed 9801 passes.
MIN_LABELS_DETECTED = 4

# A box is a KTP anchor when its squashed text starts with NIK, holds at least ANCHOR_DIGITS
# digits making up at least ANCHOR_DIGIT_SHARE of it (the NIK number), or starts within
# ANCHOR_HEADER_EDITS edits of PROVINSI. Since c38e6fa (first round), checked against the
# SIM-like look-alike in tests/extractor and the synthetic no-KTP photos; no record of tuning data.
ANCHOR_DIGITS = 14
ANCHOR_DIGIT_SHARE = 0.8
ANCHOR_HEADER_EDITS = 2

# Besides labels and an anchor, a KTP needs its PROVINSI header (within ANCHOR_HEADER_EDITS) and no
# number of this many digits or more (a NIK has 16; OCR rarely adds two digits to one, a 20-digit
# parody "NIK" has four more). Set in the i9-flags branch from the NIK's 16 digits, checked on
# the synthetic look-alikes of extractor/synth/lookalikes.py and the tuned styles, never on real-v1.
NIK_MAX_DIGITS = 18

# A photo flagged blur or dark where no KTP anchor was read is still a KTP to retake when it looks
# like one (card_look.py): the label/value column's background colour in the KTP's blue (OpenCV hue
# hue_min..hue_max, saturation >= saturation) and at least `rows` printed rows (dips of at least
# row_dip stretched grey levels) whose profile varies by at least row_contrast. Set in the
# i9-quality branch on generated photos only: default and tuned-style KTPs blurred 4-8x the phone
# level's blur, motion-blurred (14-24 px per 1000) or at 4-12 % light, against every negative kind
# (extractor/synth/negatives.py) damaged the same way, 6 seeds each (1000-1005). KTPs: hue 93-118,
# saturation 44-91 (a few near-black ones 9-41, lost), 6-14 rows, contrast 4.8-20; blank KTP
# blanks: 0-14 rows at contrast <= 7.1; blue-grey SIMs saturation 33-39; every other negative
# another hue or saturation <= 37. Parody and 20-digit cards copy the layout and pass (a retake).
# Never measured on real-v1.
KTP_LOOK = {
    "hue_min": 90,
    "hue_max": 125,
    "saturation": 42,
    "rows": 6,
    "row_dip": 4.0,
    "row_contrast": 6.5,
    # A line this high on the card (share of its height), read at this confidence with this many
    # letters, that is neither header line (PROVINSI ..., KABUPATEN ... / KOTA ...) is another
    # document's title (a parody's joke, a SIM's issuer): not a KTP. The header ends at 0.115 of
    # the card's height on the synthetic layout (extractor/synth/render.py), tilt allowed for.
    "title_band": 0.15,
    "title_confidence": 0.8,
    "title_letters": 8,
}

# The fast model's reading is good enough to build on (second opinion, strips) from this many of
# the 13 row labels; below it the stronger model reads the whole card. Since 06ed98e; no record of
# the cards it was chosen on (first round).
GOOD_LABELS = 9

# The stronger model's whole-card reading replaces the fast one unless it finds more than this
# many labels fewer (and does not score higher). Since 618fd85 (first round); no record of the
# cards it was chosen on.
WHOLE_CARD_LABEL_MARGIN = 1

# --- Dim cards are stretched before OCR (pipeline) ----------------------------------------------

# A card whose mean grey is below this is stretched (1st-99th percentile to full range), unless that
# range is under STRETCH_MIN_RANGE grey levels (a flat image has nothing to stretch). Both since
# 17ddd8a (first round; then "the dark flag's mean threshold, 80, plus 10"); no record of the cards.
# The value stayed 90 when the dark flag was re-set (i9-flags).
STRETCH_BELOW_MEAN = 90
STRETCH_MIN_RANGE = 8

# --- When the stronger model is asked (pipeline, second_reading) -------------------------------

# A reading of a blurred or dark card is trusted without strips or a whole-card pass only when
# every field has at least this confidence and every NIK check passes. Since 7da1873 (first
# round); no record of the cards it was chosen on.
TRUSTED_CONFIDENCE = 0.85

# A field read with at least this confidence has snapped to its vocabulary or the register, so its
# line is not re-read. Since e7b8381 (second round); no record of the cards it was chosen on.
CONFIRMED_CONFIDENCE = 0.9

# Margin around a line box when cropping it for a re-read, in line heights: room for the detector,
# not enough to reach the next row. Since e7b8381 (second round); no record of the cards.
PAD_Y = 0.3
PAD_X = 0.6

# A strip for a row the fast model missed spans this many row pitches and stops at this share of
# the card width, short of the photo column (the synthetic layout's values end at 712 of 1000 px,
# the photo starts at 738: extractor/synth/render.py). Since a69b043; the strip re-read was
# measured on 120 blurred/dark synthetic tuning cards of seeds 555 and 557 (whole-card passes 33
# -> 15, field accuracy 0.946 -> 0.948); no record that these two numbers were varied.
STRIP_PITCHES = 1.6
STRIP_RIGHT = 0.72

# --- Image quality flags (quality) -------------------------------------------------------------

QUALITY = {
    # Each of blur, dark and flashlight has a "suspect" threshold (the image shows the problem: the
    # stronger model is brought in, and an unreadable image is told apart from no KTP) and a
    # "severe" one (quality.settle): the returned flag is severe, or suspect with the reading in
    # doubt. Re-set in the i9-quality branch on the synthetic tuning cards of seed 5151 only (30
    # hard, 30 phone, 8 per tuned cross-style set; readable = >= 0.98 of fields right): every
    # readable card's reading was free of doubt, half the unreadable ones were not. No real-v1
    # card was looked at.
    # Fine over coarse directional detail (quality.py, percent). Readable hard-level blurred cards
    # scored 65-88, unreadable ones 46-118; phone and tuned cross-style cards >= 90. Since the score
    # is a median over five crops (2026-12-07), on the seed-5151 tuning cards (30 hard, 30 phone, 20
    # per tuned cross-style set): readable hard cards 59-168, unreadable 50-157, phone >= 110, tuned
    # cross-style readable >= 82; severe stays below every readable hard card (60 -> 55).
    "blur": 95.0,
    "blur_severe": 55.0,
    # Mean luminance and 95th percentile. The engine stretches dim cards first and reads most hard
    # level underexposed cards (readable: mean 37-51, p95 47-62; unreadable: mean 36-54, p95 44-74;
    # phone >= 158 / 185). Severe: darker than any hard-level card, where noise swamps the print.
    "dark_mean": 60.0,
    "dark_p95": 80.0,
    "dark_mean_severe": 30.0,
    "dark_p95_severe": 50.0,
    # Share of the card in glare spots (quality._off_the_edge); severe counts only the spots over
    # the label/value columns (left of STRIP_RIGHT: glare on the photo hides no text). Hard-level
    # glare cores covered 0.03-0.13 of the card and cost a field in 14 of 16 forced-glare cards of
    # seeds 5252-5267 (the two read right: 0.08 all on text, 0.017 on text + the rest on the
    # photo); a tuned xs-copy sleeve's highlight 0.02 before specks were left out, 0 after.
    "flashlight": 0.01,
    "flashlight_severe": 0.04,
    # A blown-out blob covering more than this share of the card is white paper (a photocopy), not
    # a glare spot; the synthetic hard level's glare covers 0.06-0.09 of the card in all.
    "glare_max_blob": 0.25,
    # Blobs smaller than this share of the card are specks (a photocopy's paper between letters:
    # 0.0005-0.0016 on the tuned xs-copy cards of seed 5151), and a blob filling this much of its
    # (rotated) bounding rectangle is a drawn box (a page's input fields: 1.0 when the outline
    # caught a tuned xs-frame page screenshot), not glare: the hard level's glare cores measured
    # 0.04-0.10 of the card and fill 0.73-0.76 of their rectangle (seed 5151). i9-quality branch.
    "glare_min_blob": 0.004,
    "glare_max_rect_fill": 0.9,
    # Mean channel spread below this = grayscale. Since c444897; no record of the cards.
    "grayscale": 3.0,
}

# --- Dropped spaces (spacing), all in cap heights unless said otherwise ------------------------
# The pair-bearing judgement (b30a8de) was tuned on the 150 clean + 150 phone synthetic cards of
# seed 555 (every field right 0.960 / 0.967 -> 0.993 / 1.000, docs/extractor-engine.md).

# Blank columns separating two ink runs: anything narrower is never a candidate word gap.
# Since cbe448b (first round); no record of the cards.
WEAK_GAP = 0.22
# A gap wider than its letter pair explains by this much is a word gap (a space is 0.39 cap;
# anti-aliasing and blur eat part of it); a surplus between WEAK_SURPLUS and this only counts when
# the lexicon knows the words on both sides. Seed 555 (b30a8de).
SPACE_SURPLUS = 0.15
# split_glued_words parts a word nobody knows only into known words of at least this many letters
# (two-letter pieces are abbreviations the lexicon holds as words: NO, GG). Not tuned.
GLUED_PIECE = 3
# ... and only where the blank there exceeds its letter pair's bearings by SPACE_SURPLUS, or by
# GLUED_SURPLUS while standing out from the line's own median letter spacing by GLUED_EXCESS (tight
# and condensed faces, whose word gaps Arial's bearings explain away). Tuned on the tuned sets of
# seeds 4242, 5151, 6262 and 7373: the dropped spaces scored 0.038-0.44 over the bearings, the
# wrong splits the lexicon proposed (PATTI NAMA, LUMBAN TOBING, PEREM PUAN) at most 0.04; an
# excess of 0.15 missed three dropped spaces at 0.125-0.128 (a pixel at small print) that 0.12 finds.
GLUED_SURPLUS = 0.05
GLUED_EXCESS = 0.12
WEAK_SURPLUS = 0.10
# A gap this wide is a word gap whatever the lexicon says, if its pair allows it. Seed 555.
WIDE_GAP = 0.33
# A recogniser's space between two letters is dropped when the blank found within
# SPURIOUS_WINDOW em of where it should sit exceeds the pair's side bearings by less than
# SPURIOUS_SURPLUS cap heights (a printed space leaves 0.39), and only on a line where another
# space shows at least CLEAR_SPACE_SURPLUS (a sharp line). Set from Arial's metrics, not tuned.
SPURIOUS_WINDOW = 0.6
SPURIOUS_SURPLUS = 0.08
CLEAR_SPACE_SURPLUS = 0.2
# A line with a single space is judged when at least this many other lines of the card show a
# clear space (`MO ROWALI` on a sharp small card, xs-small tuned seed 6262).
SHARP_LINES = 3
# One I stroke's ink is 0.09 em (Arial); a run of a numeral wider than this is strokes merged by
# blur or spread ink, so it does not show that the recogniser read a stroke too many. Set from
# Arial's metrics and the merged-II case of tuned xs-copy seed 5151, not bench-tuned.
STROKE_WIDTH = 0.2
# A T whose thin bar blur or a light print lost is a bare stem: its ink run at the gap is at most
# this wide (em; a whole T is 0.57 em, its stem 0.09), and the blank beside it holds the bar's
# overhang, T_OVERHANG em (Arial: bar 565, stem 93, (565 - 93) / 2 = 236 per 1000 em). Set from
# Arial's metrics (the `PUSPIT ASARI` split of the hard level, seed 4242), not bench-tuned.
BARE_STEM_WIDTH = 0.3
T_OVERHANG = 0.236
# The alignment's price for a numeral of one stroke more or fewer than read (squared relative width
# error; a one-stroke I laid over two strokes costs ~10). Tuned xs-frame seed 4242/5151 and phone
# seed 4242, tuned styles only.
STROKE_CHANGE_COST = 0.1
# Strokes of a roman numeral sit closer than this; a wider gap ends the numeral. Seed 555.
NUMERAL_GAP = 0.33
# How far (relative) the line-width em may stray from the cap-height em and still be trusted.
# Seed 555.
LINE_EM_TOLERANCE = 0.15
# A line narrower or wider than Arial at its cap height by more than that, but within this band of
# the Arial width, is a condensed or wide face: gaps are measured in its own horizontal scale.
# Set to hold Roboto Condensed (tuned face, ~0.8) with margin; i9-spacing branch, not bench-tuned.
FACE_WIDTH = (0.7, 1.25)
# A word gap is at least this much wider than the line's median blank between ink runs (its own
# letter spacing; a space adds 0.39 cap in Arial). Only on such faces. Roboto Condensed lines: its
# letter pairs measure ~0.28, its word gaps 0.49-0.64 (i9-spacing branch).
LETTER_GAP_SURPLUS = 0.1
# The alignment's price for assuming one space the recogniser dropped (squared relative error).
# Seed 555.
DROPPED_SPACE_COST = 0.0005
# A multi-segment run whose first or last segment is narrower than this share of the token's first
# or last letter pays EDGE_MISMATCH_COST (squared relative error). Since e7b8381 (second round,
# the `SUKAMAJU I NO.` case); no record of the cards beyond that.
EDGE_SHARE = 0.6
EDGE_MISMATCH_COST = 0.01
# A first ink run at most SPECK_SHARE of the text's first letter's ink, set apart by a word-sized
# gap, before a line read from a letter or digit, is ink the recogniser did not read (the label
# column's colon, a dot of dirt): laying the text out from it puts every position a letter late
# (`TANAHL AUT` for TANAH LAUT). Tuned xs-small seed 6262 (the colon's dot, ~0.1 cap wide).
SPECK_SHARE = 0.5
# Boundaries whose predicted ink width is within this many em of the best fit are all candidates.
# Seed 555.
AMBIGUITY = 0.3
# How far (in average character widths) a gap may sit from the boundary it is assigned to.
# Since cbe448b (first round); no record of the cards.
MAX_OFFSET = 0.6

# --- Layout ------------------------------------------------------------------------------------

# Label rows follow each other every this share of the card width: gives the card's width when no
# outline was found. Since 7527bfa (second round); the synthetic layout prints a row every 31 +- 1
# px of 1000 (extractor/synth/render.py); no record of other data.
ROW_PITCH = 0.032
