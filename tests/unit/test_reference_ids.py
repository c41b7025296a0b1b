from hypothesis import given
from hypothesis import strategies as st
from ktp_pipeline.reference_ids import is_valid_reference_id, reference_id_for


def test_same_bytes_uploaded_again_under_the_same_key_is_the_same_job():
    # A versioned bucket gives the second PUT a new version id; the content (ETag) is what counts.
    a = reference_id_for("bucket", "incoming/a b.jpg", "v1", '"etag"')
    assert a == reference_id_for("bucket", "incoming/a b.jpg", "v2", "etag")


def test_content_bucket_and_key_all_change_the_id():
    base = reference_id_for("bucket", "k.jpg", "v1", "e1")
    assert base != reference_id_for("bucket", "k.jpg", "v1", "e2")
    assert base != reference_id_for("other", "k.jpg", "v1", "e1")
    assert base != reference_id_for("bucket", "k2.jpg", "v1", "e1")


def test_without_etag_the_version_id_identifies_the_object():
    assert reference_id_for("b", "k", "v1", None) != reference_id_for("b", "k", "v2", None)
    assert reference_id_for("b", "k", "v1", "") == reference_id_for("b", "k", "v1", None)


def test_without_identity_raises():
    import pytest

    with pytest.raises(ValueError):
        reference_id_for("b", "k", None, None)
    with pytest.raises(ValueError):
        reference_id_for("b", "k", "null", '""')


# An ETag of quotes only is no ETag (test_without_identity_raises): every other text identifies content.
ETAGS = st.text(min_size=1).filter(lambda etag: etag.strip('"'))


@given(st.text(min_size=1), st.text(min_size=1), st.one_of(st.none(), st.text(min_size=1)), ETAGS)
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
