from hypothesis import given
from hypothesis import strategies as st
from ktp_pipeline.reference_ids import is_valid_reference_id, reference_id_for


def test_same_object_same_id():
    a = reference_id_for("bucket", "incoming/a b.jpg", "v1", '"etag"')
    assert a == reference_id_for("bucket", "incoming/a b.jpg", "v1", "etag-ignored-when-versioned")


def test_version_etag_bucket_and_key_all_change_the_id():
    base = reference_id_for("bucket", "k.jpg", "v1", None)
    assert base != reference_id_for("bucket", "k.jpg", "v2", None)
    assert base != reference_id_for("other", "k.jpg", "v1", None)
    assert base != reference_id_for("bucket", "k2.jpg", "v1", None)
    assert reference_id_for("b", "k", None, "e1") != reference_id_for("b", "k", None, "e2")


def test_unversioned_null_version_falls_back_to_etag():
    assert reference_id_for("b", "k", "null", '"e1"') == reference_id_for("b", "k", None, "e1")


def test_without_identity_raises():
    import pytest

    with pytest.raises(ValueError):
        reference_id_for("b", "k", None, None)


@given(st.text(min_size=1), st.text(min_size=1), st.one_of(st.none(), st.text(min_size=1)), st.text(min_size=1))
def test_always_matches_contract_form(bucket, key, version, etag):
    ref = reference_id_for(bucket, key, version, etag)
    assert is_valid_reference_id(ref)
    assert 6 <= len(ref) <= 64


def test_validity_check():
    assert not is_valid_reference_id("short")
    assert not is_valid_reference_id("x" * 65)
    assert not is_valid_reference_id("has space ok")
    assert not is_valid_reference_id(None)
    assert is_valid_reference_id("REFERENCE_ID")
