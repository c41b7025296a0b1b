"""When the stronger model is asked (fake models on a fixed card: no OCR model is loaded)."""

from __future__ import annotations

import numpy as np
from test_engine_layout import card_boxes
from test_engine_second_reading import FakeModel

from extractor.engine.backends import CascadeBackend, models_of
from extractor.engine.ocr_pass import Attempt, label_hits
from extractor.engine.pipeline import with_stronger_model
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
