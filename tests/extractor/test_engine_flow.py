"""When the stronger model is asked (fake models on a fixed card: no OCR model is loaded)."""

from __future__ import annotations

import numpy as np
from test_engine_layout import card_boxes
from test_engine_second_reading import FakeModel

from extractor.engine.backends import CascadeBackend, models_of
from extractor.engine.ocr_pass import Attempt, detected, label_hits, read_card
from extractor.engine.pipeline import with_stronger_model
from extractor.engine.preprocess import PreparedCard
from extractor.engine.thresholds import GOOD_LABELS
from extractor.result import ImageQuality

CARD = np.full((631, 1000, 3), 255, np.uint8)


def first_pass(boxes, engine="fast"):
    return Attempt(CARD, boxes, label_hits(boxes), engine, CARD)


def echo(index, shape):
    return []  # the stronger model reads nothing in a crop: the fast boxes stay


def test_models_of_a_cascade_and_of_a_single_model():
    fast, strong = FakeModel("fast"), FakeModel("strong")
    cascade = models_of(CascadeBackend(fast, strong))
    assert cascade.first is fast
    assert cascade.stronger is strong
    assert cascade.name == "fast+strong"
    single = models_of(fast)
    assert single.first is fast
    assert single.stronger is None
    assert single.name == "fast"


def test_a_single_model_settles_on_its_first_pass_unread():
    first = first_pass(card_boxes())
    settled = with_stronger_model(models_of(FakeModel("fast")), first, ImageQuality(blur=True))
    assert settled.attempt is first
    assert settled.reading is None


def test_a_well_read_sharp_card_gets_only_the_second_opinion():
    strong = FakeModel("strong", boxes=card_boxes(), answer=echo)
    models = models_of(CascadeBackend(FakeModel("fast"), strong))
    first = first_pass(card_boxes())
    assert first.hits >= GOOD_LABELS
    settled = with_stronger_model(models, first, ImageQuality())
    assert settled.attempt is first
    assert settled.reading is not None
    assert settled.reading.fields["nik"].value == "3273015708900002"
    assert strong.crops  # the unconfirmed lines were offered to the stronger model
    assert strong.whole_reads == 0


def test_few_labels_send_the_whole_card_to_the_stronger_model():
    few = card_boxes()[:6]
    strong = FakeModel("strong", boxes=card_boxes(), answer=echo)
    models = models_of(CascadeBackend(FakeModel("fast"), strong))
    first = first_pass(few)
    assert first.hits < GOOD_LABELS
    settled = with_stronger_model(models, first, ImageQuality())
    assert strong.whole_reads == 1
    assert settled.attempt.engine == "strong"
    assert settled.attempt.unlevelled is first.unlevelled
    assert settled.reading is None


def test_a_whole_card_pass_that_finds_clearly_fewer_labels_is_dropped():
    strong = FakeModel("strong", boxes=card_boxes()[:2], answer=echo)
    models = models_of(CascadeBackend(FakeModel("fast"), strong))
    first = first_pass(card_boxes()[:8])
    settled = with_stronger_model(models, first, ImageQuality())
    assert strong.whole_reads == 1
    assert settled.attempt is first


class FramesModel(FakeModel):
    """Reads the outline's crop first, then the whole frame: one list of boxes for each."""

    def __init__(self, crop_boxes, frame_boxes):
        super().__init__("fast")
        self.answers = [crop_boxes, frame_boxes]

    def read(self, image):
        self.whole_reads += 1
        return list(self.answers[min(self.whole_reads, 2) - 1])


def outlined_card() -> PreparedCard:
    photo = np.full((400, 600, 3), 200, np.uint8)
    return PreparedCard(CARD, CARD, photo)


def test_an_outline_that_cut_off_the_provinsi_line_is_read_again_on_the_whole_frame():
    headless = card_boxes(header1=None)
    model = FramesModel(headless, card_boxes())
    attempt = read_card(model, outlined_card())
    assert model.whole_reads == 2
    assert detected(attempt)
    assert attempt.card.shape[:2] != CARD.shape[:2]  # the frame's reading, not the crop's


def test_a_document_without_the_header_anywhere_keeps_the_outline_reading():
    # A letter listing Nama/NIK: no PROVINSI line on the frame either, so still not a KTP.
    letter = card_boxes(header1=None)
    model = FramesModel(letter, letter)
    attempt = read_card(model, outlined_card())
    assert model.whole_reads == 2
    assert attempt.card is CARD
    assert not detected(attempt)


def test_a_card_read_with_its_header_is_not_read_twice():
    model = FramesModel(card_boxes(), card_boxes())
    attempt = read_card(model, outlined_card())
    assert model.whole_reads == 1
    assert detected(attempt)
