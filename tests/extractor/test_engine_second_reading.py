"""The stronger model's second opinion on unconfirmed lines (fake backends: no model is loaded)."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_layout import box, card_boxes

from extractor.engine import localize, second_reading
from extractor.engine.backends import CascadeBackend, TextBox, models_of
from extractor.engine.interpretation import interpret
from extractor.engine.ocr_pass import Attempt, label_hits
from extractor.result import FieldReading


def reading(value, confidence=0.98):
    return FieldReading(value=value, raw=value, confidence=confidence)


def test_what_counts_as_confirmed():
    assert not second_reading.confirmed("full_name", reading("SITI NURHALIZA"))
    assert not second_reading.confirmed("address", reading("JL. MERDEKA NO. 17"))
    assert second_reading.confirmed("place_of_birth", reading("BIMA"))
    assert not second_reading.confirmed("place_of_birth", reading("BMA"))
    assert second_reading.confirmed("religion", reading("ISLAM", 0.95))
    assert not second_reading.confirmed("religion", reading("ISLAM", 0.6))  # a fuzzy snap
    assert not second_reading.confirmed("occupation", reading(None, 0.0))


def test_a_confirmed_reading_beats_an_unconfirmed_one_else_the_stronger_model_wins():
    assert second_reading.choose("place_of_birth", reading("BMA"), reading("BIMA")).value == "BIMA"
    assert second_reading.choose("place_of_birth", reading("BIMA"), reading("BMA")).value == "BIMA"
    assert second_reading.choose("full_name", reading("IS VINCENT"), reading("IIS VINCENT")).value == "IIS VINCENT"
    assert second_reading.choose("full_name", reading("IIS VINCENT"), reading(None, 0.0)).value == "IIS VINCENT"


class FakeModel:
    """Answers each crop with ``answer(crop_index, crop_shape)`` in crop coordinates."""

    def __init__(self, name, boxes=(), answer=None):
        self.name = name
        self.boxes = list(boxes)
        self.answer = answer
        self.crops: list[tuple[int, int]] = []
        self.whole_reads = 0

    def load(self):
        pass

    def read(self, image):
        self.whole_reads += 1
        return list(self.boxes)

    def read_many(self, images):
        out = []
        for image in images:
            shape = localize.decode(image).shape[:2]
            self.crops.append(shape)
            out.append(self.answer(len(self.crops) - 1, shape))
        return out


def test_rereads_are_mapped_back_and_lines_of_neighbours_dropped():
    target = TextBox(": BMA, 26-01-1984", 0.97, 240, 187, 420, 211)
    card = np.full((631, 1000, 3), 255, np.uint8)

    def answer(index, shape):
        h, w = shape
        return [
            TextBox(": BIMA, 26-01-1984", 0.99, 5, 4, w - 5, h - 4),
            TextBox("KELAMIN", 0.9, 5, -8, 60, 3),  # the row above, cut by the crop
        ]

    model = FakeModel("strong", answer=answer)
    replaced = second_reading.reread_boxes(model, card, [target])
    assert [b.text for b in replaced[0]] == [": BIMA, 26-01-1984"]
    new = replaced[0][0]
    assert target.y0 - 10 < new.y0 < target.y0
    assert target.x0 - 20 < new.x0 < target.x0
    other = TextBox("NIK", 1.0, 30, 110, 80, 144)
    merged = second_reading.merge_boxes([other, target], [target], replaced)
    assert merged == [other, new]
    empty = second_reading.reread_boxes(FakeModel("strong", answer=lambda i, s: []), card, [target])
    assert empty == {}


@pytest.fixture
def cascade():
    boxes = card_boxes(birth=box("Tempat/Tgl Lahir : BMA, 26-01-1984", 30, 187, 520))

    def answer(index, shape):
        h, w = shape
        return [TextBox(text, 0.99, 4, 3, w - 4, h - 3) for text in answers.pop(0)]

    answers: list[list[str]] = []
    fast = FakeModel("fast", boxes)
    strong = FakeModel("strong", answer=answer)
    backend = CascadeBackend(fast, strong)
    return backend, boxes, answers


def attempt(card, boxes, engine):
    return Attempt(card, boxes, label_hits(boxes), engine, card)


def test_second_opinion_fixes_an_unconfirmed_place_and_keeps_the_rest(cascade):
    backend, boxes, answers = cascade
    card = np.full((631, 1000, 3), 255, np.uint8)
    first = interpret(attempt(card, boxes, "fast"))
    assert first.fields["place_of_birth"].value == "BMA"
    rows = second_reading.fields_to_reread(first.fields, first.raw)
    assert rows == ["full_name", "birth", "address"]
    # Name, birth row (label and value in one box) and address, in the card's order.
    answers.extend([[": SITI NURHALIZA"], ["Tempat/Tgl Lahir : BIMA, 26-01-1984"], [": JL. MERDEKA NO. 17"]])
    second = second_reading.second_opinion(models_of(backend), first)
    assert len(backend.fallback.crops) == 3
    assert second.fields["place_of_birth"].value == "BIMA"
    assert second.fields["date_of_birth"].value == "26-01-1984"
    assert second.fields["religion"] == first.fields["religion"]
    assert second.engine == backend.name


def test_no_second_opinion_on_a_card_the_strong_model_read(cascade):
    backend, boxes, _ = cascade
    card = np.full((631, 1000, 3), 255, np.uint8)
    first = interpret(attempt(card, boxes, "strong"))
    assert second_reading.second_opinion(models_of(backend), first) is first
    assert backend.fallback.crops == []


def test_rows_missed_entirely_are_placed_and_read_from_strips():
    from extractor.engine.layout import expected_rows

    boxes = card_boxes(religion_label=None, religion_value=None)
    centres, pitch = expected_rows(boxes)
    assert abs(pitch - 32) < 1.5
    assert abs(centres["religion"] - (379 + 12)) < 4  # between Kecamatan (347) and Status (411)
    first = interpret(attempt(np.full((631, 1000, 3), 255, np.uint8), boxes, "fast"))
    assert first.fields["religion"].value is None
    assert second_reading.unread_rows(["religion", "full_name"], first.raw) == ["religion"]

    def answer(index, shape):
        h, w = shape
        return [TextBox("Agama", 0.99, 30, h / 2 - 12, 95, h / 2 + 12), TextBox(": ISLAM", 0.99, 240, h / 2 - 12, 330, h / 2 + 12)]

    model = FakeModel("strong", answer=answer)
    card = np.full((631, 1000, 3), 255, np.uint8)
    merged = second_reading.read_row_strips(model, card, boxes, ["religion"])
    assert model.crops[0][1] == 720  # stops short of the photo column
    added = [b for b in merged if b not in boxes]
    assert [b.text for b in added] == ["Agama", ": ISLAM"]
    assert all(abs(b.cy - centres["religion"]) < 4 for b in added)
    again = interpret(attempt(card, merged, "fast"))
    assert again.fields["religion"].value == "ISLAM"
    assert again.fields["marital_status"].value == first.fields["marital_status"].value == "BELUM KAWIN"
