from hypothesis import given
from hypothesis import strategies as st

from ktp_pipeline.models import ExtractionResult
from aws_lambda_powertools.utilities.data_classes import S3Event
from ktp_pipeline.submitter import Submitter, decoded_key, is_object_created

from .conftest import completed_body, load_event


def test_s3_event_key_is_url_decoded_with_plus_as_space():
    record = next(S3Event(load_event("s3_put.json")).records)
    assert decoded_key(record) == "incoming/scan batch 7/kartu über a+b.jpg"
    assert is_object_created(record)
    assert record.s3.get_object.version_id


def test_an_event_without_records_such_as_the_s3_test_event_is_ignored():
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    assert Submitter(None, None, None, None).handle_event(event) == []  # touches neither store nor provider


def test_only_object_created_records_from_s3_count():
    record = next(S3Event(load_event("s3_put.json")).records)
    assert not is_object_created(type(record)({**record.raw_event, "eventName": "ObjectRemoved:Delete"}))
    assert not is_object_created(type(record)({**record.raw_event, "eventSource": "aws:sqs"}))


def test_nested_and_flat_bodies_parse_the_same():
    nested = ExtractionResult.parse(completed_body("ref-000001", nested=True))
    flat = ExtractionResult.parse(completed_body("ref-000001", nested=False))
    assert nested == flat
    assert nested.reference_id == "ref-000001"
    assert nested.status_code == "BILLED"
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


def test_the_extractor_uses_the_layers_single_copy_of_the_contract():
    from extractor.result import CONTRACT_FIELDS as EXTRACTOR_FIELDS
    from extractor.service import images
    from ktp_pipeline import contract, image_checks, models

    assert EXTRACTOR_FIELDS is contract.CONTRACT_FIELDS is models.CONTRACT_FIELDS
    assert images.MAX_IMAGE_BYTES is image_checks.MAX_IMAGE_BYTES is contract.MAX_IMAGE_BYTES
    assert (images.MIN_LONG_SIDE, images.MIN_SHORT_SIDE) == (contract.MIN_LONG_SIDE, contract.MIN_SHORT_SIDE)
    assert images._JPEG_MAGIC is contract.JPEG_SIGNATURE
    assert images._PNG_MAGIC is contract.PNG_SIGNATURE
