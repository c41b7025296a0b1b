"""Confidence, validity, issue place/date and checks: lifted out of `extra` into `result` attributes."""

import math

import pytest
from ktp_pipeline.models import ExtractionResult
from ktp_pipeline.provider_details import split_details
from ktp_pipeline.stored_result import MAX_DETAIL_BYTES, MAX_RESULT_BYTES, size_of, stored_result

from .conftest import completed_body, extractor_body

REF = "ktp-provider-details"


def test_the_extractors_details_become_attributes_and_leave_extra():
    stored = stored_result(ExtractionResult.parse(extractor_body(REF)))
    result = stored.result
    assert result["field_confidence"]["nik"] == 0.97
    assert result["field_confidence"]["issue_date"] == 0.75
    assert (result["valid_until"], result["issue_city"], result["issue_date"]) == ("SEUMUR HIDUP", "JAKARTA PUSAT", "01-02-2015")
    assert result["checks"] == [{"name": "nik_structure", "ok": True, "detail": "16 digits, valid date and serial"}]
    kept = result["extra"]["ktp_extractor"]
    assert not {"confidence", "checks", "valid_until", "issue_city", "issue_date"} & set(kept)
    assert kept["raw_text"]["nik"] == "3171234567890001"  # what has no attribute stays verbatim
    assert kept["engine"] == "test-engine"
    assert "dropped" not in result


def test_details_sent_next_to_the_fields_are_lifted_too():
    body = completed_body(REF)
    body["data"].update({"confidence": {"nik": 1, "city": 0.5}, "valid_until": " 17-08-2030 ", "issue_city": "-"})
    result = stored_result(ExtractionResult.parse(body)).result
    assert result["field_confidence"] == {"nik": 1, "city": 0.5}
    assert result["valid_until"] == "17-08-2030"
    assert "issue_city" not in result  # "-" means not read
    assert "extra" not in result


@pytest.mark.parametrize("confidence", [{"nik": 1.5}, {"nik": True}, {"nik": "0.9"}, {"nik": math.nan}, [0.9], {}])
def test_a_confidence_of_another_shape_stays_in_extra(confidence):
    details, rest = split_details({"ktp_extractor": {"confidence": confidence}})
    assert "field_confidence" not in details
    assert rest["ktp_extractor"]["confidence"] is confidence


@pytest.mark.parametrize("checks", [[{"name": "x"}], [{"name": "x", "ok": "yes"}], [{"name": "x", "ok": True, "more": 1}], "ok"])
def test_checks_of_another_shape_stay_in_extra(checks):
    details, rest = split_details({"checks": checks, "issue_date": 20150201})
    assert details == {}
    assert rest == {"checks": checks, "issue_date": 20150201}


def test_split_does_not_change_the_parsed_result():
    parsed = ExtractionResult.parse(extractor_body(REF))
    before = parsed.model_dump()
    stored_result(parsed)
    assert parsed.model_dump() == before


def test_an_oversized_detail_is_dropped_by_itself():
    body = extractor_body(REF)
    body["ktp_extractor"]["issue_city"] = "C" * (MAX_DETAIL_BYTES + 1)
    result = stored_result(ExtractionResult.parse(body)).result
    assert "issue_city" not in result
    assert result["dropped"] == {"issue_city": size_of("C" * (MAX_DETAIL_BYTES + 1))}
    assert result["field_confidence"]["nik"] == 0.97


def test_details_go_after_unknown_keys_and_message_but_before_any_field():
    body = extractor_body(REF)
    body["message"] = "m" * (MAX_RESULT_BYTES // 2)
    body["data"]["address"] = "A" * (MAX_RESULT_BYTES - 2000)
    stored = stored_result(ExtractionResult.parse(body))
    assert stored.result["fields"]["address"] == body["data"]["address"]
    assert set(stored.result["dropped"]) == {"extra", "message"}
    assert stored.result["field_confidence"]["nik"] == 0.97  # kept: it still fits
    assert size_of([stored.result, stored.status_code, stored.error_code, stored.reason]) <= MAX_RESULT_BYTES


def test_details_go_too_when_only_the_fields_fit():
    body = extractor_body(REF)
    body["data"]["address"] = "A" * (MAX_RESULT_BYTES - 500)
    stored = stored_result(ExtractionResult.parse(body))
    assert stored.status.value == "COMPLETED"
    assert stored.result["fields"]["address"] == body["data"]["address"]
    assert {"extra", "field_confidence"} <= set(stored.result["dropped"])
    assert size_of([stored.result, stored.status_code, stored.error_code, stored.reason]) <= MAX_RESULT_BYTES
