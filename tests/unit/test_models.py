from hypothesis import given
from hypothesis import strategies as st

from ktp_pipeline.models import ExtractionResult, S3Event

from .conftest import completed_body, load_event


def test_s3_event_key_is_url_decoded_with_plus_as_space():
    record = S3Event.model_validate(load_event("s3_put.json")).records[0]
    assert record.decoded_key == "incoming/scan batch 7/kartu über a+b.jpg"
    assert record.is_object_created and record.s3.object.version_id


def test_s3_test_event_is_recognised():
    event = S3Event.model_validate({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert event.is_test_event and event.records == []


def test_nested_and_flat_bodies_parse_the_same():
    nested = ExtractionResult.parse(completed_body("ref-000001", nested=True))
    flat = ExtractionResult.parse(completed_body("ref-000001", nested=False))
    assert nested == flat
    assert nested.reference_id == "ref-000001" and nested.status_code == "BILLED"
    assert nested.state == "completed"


def test_dash_and_empty_are_missing_and_unknown_keys_are_kept():
    body = {"data": {"reference_id": "ref-000001", "nik": "3171234567890001", "blood_type": "-", "rt_rw": "",
                     "blur_score": 0.12, "valid_until": "SEUMUR HIDUP"}, "message": "ok", "trace": {"x": 1}}
    result = ExtractionResult.parse(body)
    assert result.fields == {"nik": "3171234567890001"}
    assert result.extra == {"blur_score": 0.12, "valid_until": "SEUMUR HIDUP", "trace": {"x": 1}}


def test_error_code_means_failed_and_nothing_means_pending():
    assert ExtractionResult.parse({"error_code": "FAIL_ON_1", "data": {"reference_id": "r"}}).state == "failed"
    assert ExtractionResult.parse({"message": "processing", "data": {"reference_id": "r"}}).state == "pending"
    assert ExtractionResult.parse({"data": None}).state == "pending"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["data", "message", "error_code", "status_code", "reference_id", "nik",
                                        "image_quality", "other"]) | st.text(max_size=10), json_values, max_size=8))
def test_any_json_object_parses_without_error(body):
    result = ExtractionResult.parse(body)
    assert result.state in ("completed", "failed", "pending")
    assert all(isinstance(v, str) and v not in ("", "-") for v in result.fields.values())


def test_layer_and_extractor_agree_on_the_contract_fields():
    # The layer ships to Lambda without the extractor, so it keeps its own copy of the list.
    from extractor.result import CONTRACT_FIELDS as EXTRACTOR_FIELDS
    from ktp_pipeline.models import CONTRACT_FIELDS as LAYER_FIELDS

    assert LAYER_FIELDS == EXTRACTOR_FIELDS
