"""Erasure: the keyed NIK hash, the sparse index write, what erasure removes and keeps, the erasure
record, the provider's copy, and the erase handler (moto; the provider through httpx.MockTransport)."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from ktp_pipeline.dynamo_values import from_item
from ktp_pipeline.erasure import ERASURE_PREFIX, Eraser, ErasureRequestError
from ktp_pipeline.job_store import JobStore
from ktp_pipeline.models import ExtractionResult
from ktp_pipeline.nik_hash import BY_NIK_HASH_INDEX, NikHasher, nik_hash, normalise_nik
from ktp_pipeline.provider_client import ProviderClient
from ktp_pipeline.secrets import ProviderCredentials

from .conftest import BUCKET, TABLE_NAME, FakeContext, completed_body, load_event

KEY = b"k" * 40
NIK = "3171234567890001"  # the NIK in completed_body
NIK_SECRET = "test/nik-hash"


def test_hash_is_hmac_sha256_of_the_digits():
    expected = hmac.new(KEY, NIK.encode(), hashlib.sha256).hexdigest()
    assert nik_hash(KEY, NIK) == expected
    assert nik_hash(KEY, "3171 2345-6789 0001") == expected  # normalised: digits only
    assert nik_hash(b"another key" * 4, NIK) != expected  # keyed: useless without the secret
    assert nik_hash(KEY, "") is None and nik_hash(KEY, None) is None and nik_hash(KEY, "n/a") is None
    assert normalise_nik(" 31.71 ") == "3171"


def test_the_key_is_read_once_and_only_when_needed():
    reads = []
    hasher = NikHasher(lambda: reads.append(1) or KEY)
    assert hasher.of_result({"fields": {"nik": None}}) is None
    assert reads == []
    assert hasher.of_result({"fields": {"nik": NIK}}) == nik_hash(KEY, NIK)


class Provider:
    """DELETE on the result path: 200, 404 or 405 by reference id; records what was asked."""

    def __init__(self, answers: dict[str, int] | None = None) -> None:
        self.answers = answers or {}
        self.deleted: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "DELETE" and request.url.path == "/ktp/id/extract-async/result"
        ref = request.url.params["reference_id"]
        self.deleted.append(ref)
        status = self.answers.get(ref, 200)
        if status == 200:
            return httpx.Response(200, json={"message": "deleted", "data": {"reference_id": ref}})
        return httpx.Response(status, json={"message": "no", "error_code": "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"})


@pytest.fixture
def store(stack):
    return JobStore(stack.dynamodb, TABLE_NAME, nik_hasher=NikHasher(KEY))


def eraser(stack, store, provider: Provider) -> Eraser:
    client = ProviderClient("https://provider.test", ProviderCredentials(app_id="a", api_key="k"),
                            httpx.Client(transport=httpx.MockTransport(provider)), max_attempts=1)
    return Eraser(store, stack.dynamodb, TABLE_NAME, stack.s3, client, NikHasher(KEY))


def completed_job(stack, store, ref: str, key: str) -> dict:
    meta = stack.put_object(key, b"card bytes of " + ref.encode())
    store.create_received(ref, bucket=BUCKET, key=key, version_id=meta["version_id"], etag=meta["etag"],
                          size=meta["size"], claim_seconds=60)
    store.mark_submitted(ref, 60, "sent")
    body = completed_body(ref)
    body["data"]["raw_text"] = {"nik": f"NIK : {NIK}"}
    store.record_result(ExtractionResult.parse(body), "callback")
    return meta


def raw(stack, ref: str) -> dict:
    return from_item(stack.raw_item(ref))


def test_a_stored_nik_puts_the_item_in_the_sparse_index(stack, store):
    completed_job(stack, store, "ktp-a1", f"incoming/{NIK}.jpg")
    store.create_received("ktp-pending", bucket=BUCKET, key="incoming/p.jpg", version_id=None, etag=None, size=1,
                          claim_seconds=60)
    assert raw(stack, "ktp-a1")["nik_hash"] == nik_hash(KEY, NIK)
    assert "nik_hash" not in raw(stack, "ktp-pending")
    index = stack.dynamodb.scan(TableName=TABLE_NAME, IndexName=BY_NIK_HASH_INDEX)["Items"]  # the test looks, the code never scans
    assert [from_item(item) for item in index] == [{"reference_id": "ktp-a1", "nik_hash": nik_hash(KEY, NIK)}]


def test_after_a_key_rotation_erasure_by_nik_finds_the_jobs_of_every_key(stack):
    """A job hashed before the rotation (old key) and one after (new key): one request erases both."""
    old_key, new_key = b"o" * 40, b"n" * 40
    before = JobStore(stack.dynamodb, TABLE_NAME, nik_hasher=NikHasher(old_key))
    completed_job(stack, before, "ktp-before", "incoming/before.jpg")
    rotated = NikHasher((new_key, old_key))  # {"key": new, "previous_keys": [old]}
    after = JobStore(stack.dynamodb, TABLE_NAME, nik_hasher=rotated)
    completed_job(stack, after, "ktp-after", "incoming/after.jpg")
    assert raw(stack, "ktp-before")["nik_hash"] == nik_hash(old_key, NIK)
    assert raw(stack, "ktp-after")["nik_hash"] == nik_hash(new_key, NIK)  # new results: the new key only
    assert rotated.candidates(NIK) == [nik_hash(new_key, NIK), nik_hash(old_key, NIK)]

    client = ProviderClient("https://provider.test", ProviderCredentials(app_id="a", api_key="k"),
                            httpx.Client(transport=httpx.MockTransport(Provider())), max_attempts=1)
    report = Eraser(after, stack.dynamodb, TABLE_NAME, stack.s3, client, rotated).erase({"nik": NIK})
    assert (report.jobs_found, report.jobs_erased) == (2, 2)
    for ref in ("ktp-before", "ktp-after"):
        assert "result" not in raw(stack, ref)
    # Without the previous key the job hashed before the rotation is not found.
    completed_job(stack, before, "ktp-orphan", "incoming/orphan.jpg")
    alone = Eraser(after, stack.dynamodb, TABLE_NAME, stack.s3, client, NikHasher(new_key)).erase({"nik": NIK})
    assert alone.jobs_found == 0


def test_the_secret_may_list_previous_keys(stack, monkeypatch):
    from ktp_pipeline.nik_hash import load_keys
    from ktp_pipeline.secrets import SecretUnavailable

    stack.secrets.create_secret(Name=NIK_SECRET, SecretString=json.dumps({"key": "n" * 40, "previous_keys": ["o" * 40]}))
    assert load_keys(NIK_SECRET) == (b"n" * 40, b"o" * 40)
    stack.secrets.create_secret(Name="test/no-previous", SecretString=json.dumps({"key": "n" * 40}))
    assert load_keys("test/no-previous") == (b"n" * 40,)
    stack.secrets.create_secret(Name="test/short-previous", SecretString=json.dumps({"key": "n" * 40, "previous_keys": ["short"]}))
    with pytest.raises(SecretUnavailable):
        load_keys("test/short-previous")


def test_a_store_without_a_hasher_writes_no_hash(stack):
    plain = JobStore(stack.dynamodb, TABLE_NAME)
    completed_job(stack, plain, "ktp-nohash", "incoming/n.jpg")
    assert "nik_hash" not in raw(stack, "ktp-nohash")


def test_erase_by_nik_removes_personal_data_every_version_and_the_provider_copy(stack, store):
    key = f"incoming/{NIK}.jpg"
    completed_job(stack, store, "ktp-a1", key)
    completed_job(stack, store, "ktp-a2", "incoming/second.jpg")  # same person, another upload
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=b"card bytes of ktp-a1")  # same bytes again: a 2nd version
    completed_job(stack, store, "ktp-other", "incoming/other.jpg")
    stack.dynamodb.update_item(TableName=TABLE_NAME, Key={"reference_id": {"S": "ktp-other"}},
                               UpdateExpression="SET nik_hash = :h",
                               ExpressionAttributeValues={":h": {"S": nik_hash(KEY, "3171000000000009")}})
    provider = Provider({"ktp-a2": 404})
    report = eraser(stack, store, provider).erase({"nik": "3171-2345-6789-0001"})

    assert (report.request_kind, report.jobs_found, report.jobs_erased, report.jobs_pending) == ("nik", 2, 2, 0)
    assert report.object_versions_deleted == 3
    assert report.provider_copies == {"deleted": 1, "not_found": 1}
    assert sorted(provider.deleted) == ["ktp-a1", "ktp-a2"]
    for ref in ("ktp-a1", "ktp-a2"):
        item = raw(stack, ref)
        assert not {"result", "nik_hash", "object_key", "object_etag"} & set(item)
        assert (item["status"], item["status_reason"], item["result_source"]) == ("COMPLETED", "Extraction completed.", "callback")
        assert item["erasure_id"] == report.erasure_id and item["erased_at"] and item["completed_at"]
        assert NIK not in json.dumps(item)
    for prefix in (key, "incoming/second.jpg"):
        listing = stack.s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
        assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    assert raw(stack, "ktp-other")["result"]["fields"]["nik"] == NIK  # another person's hash: untouched
    assert stack.s3.list_object_versions(Bucket=BUCKET, Prefix="incoming/other.jpg")["Versions"]


def test_the_erasure_record_has_counts_and_no_personal_data(stack, store):
    completed_job(stack, store, "ktp-a1", "incoming/a.jpg")
    report = eraser(stack, store, Provider({"ktp-a1": 405})).erase({"nik": NIK})
    record = raw(stack, ERASURE_PREFIX + report.erasure_id)
    assert record == {
        "reference_id": ERASURE_PREFIX + report.erasure_id, "record_type": "erasure", "erasure_id": report.erasure_id,
        "request_kind": "nik", "requested_at": report.requested_at, "jobs_found": 1, "jobs_erased": 1,
        "jobs_pending": 0, "object_versions_deleted": 1, "provider_copies": {"not_supported": 1},
    }
    text = json.dumps(record)
    assert NIK not in text and nik_hash(KEY, NIK) not in text and "ktp-a1" not in text
    assert "status" not in record  # not an item of the by-status index (not a job)


def test_erase_by_reference_id_keeps_other_content_under_the_same_key(stack, store):
    key = "incoming/shared.jpg"
    completed_job(stack, store, "ktp-a1", key)
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=b"someone else's card")  # another job's version
    report = eraser(stack, store, Provider()).erase({"reference_id": "ktp-a1"})
    assert (report.request_kind, report.jobs_erased, report.object_versions_deleted) == ("reference_id", 1, 1)
    versions = stack.s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    assert [stack.s3.get_object(Bucket=BUCKET, Key=key, VersionId=v["VersionId"])["Body"].read() for v in versions] \
        == [b"someone else's card"]


def test_a_pending_job_is_left_alone_and_counted(stack, store):
    store.create_received("ktp-p", bucket=BUCKET, key="incoming/p.jpg", version_id=None, etag=None, size=1,
                          claim_seconds=60)
    provider = Provider()
    report = eraser(stack, store, provider).erase({"reference_id": "ktp-p"})
    assert (report.jobs_found, report.jobs_erased, report.jobs_pending) == (1, 0, 1)
    assert provider.deleted == [] and raw(stack, "ktp-p")["object_key"] == "incoming/p.jpg"


def test_unknown_ids_and_bad_requests(stack, store):
    report = eraser(stack, store, Provider()).erase({"reference_id": "ktp-never"})
    assert (report.jobs_found, report.jobs_erased) == (0, 0)
    assert raw(stack, ERASURE_PREFIX + report.erasure_id)["jobs_found"] == 0  # the request is recorded anyway
    for bad in ({}, {"nik": NIK, "reference_id": "x"}, {"nik": "no digits"}):
        with pytest.raises(ErasureRequestError):
            eraser(stack, store, Provider()).erase(bad)


def test_erase_handler_and_callback_handler_share_the_secret_key(stack, monkeypatch, logs):
    """The callback (wired from the environment) writes the hash; the erase handler finds it by NIK."""
    from ktp_pipeline import wiring

    from .conftest import load_handler

    secret_key = "s" * 64
    stack.secrets.create_secret(Name=NIK_SECRET, SecretString=json.dumps({"key": secret_key}))
    monkeypatch.setenv("NIK_HASH_SECRET_ID", NIK_SECRET)
    wiring.reset()
    event = load_event("callback_success.json")
    ref = json.loads(event["body"])["data"]["reference_id"]
    JobStore(stack.dynamodb, TABLE_NAME).create_received(ref, bucket=BUCKET, key="incoming/x.jpg", version_id=None,
                                                         etag=None, size=1, claim_seconds=60)
    assert load_handler("callback").lambda_handler(event, FakeContext())["statusCode"] == 200
    nik = ExtractionResult.parse(json.loads(event["body"])).fields["nik"]
    assert raw(stack, ref)["nik_hash"] == nik_hash(secret_key.encode(), nik)

    erase = load_handler("erase").lambda_handler
    answer = erase({"nik": nik}, FakeContext())
    assert answer["ok"] and answer["jobs_erased"] == 1
    assert answer["provider_copies"] == {"not_found": 1}  # the unit tests' fake provider has no DELETE route
    assert "result" not in raw(stack, ref)
    assert erase({}, FakeContext()) == {"ok": False, "error": "give exactly one of reference_id or nik"}
    assert nik not in logs.getvalue()


def test_erasure_reads_a_just_rotated_key_at_once(stack, monkeypatch):
    """The callback path caches the secret for minutes; the erase handler reads it anew, so a job
    hashed with a key rotated in a moment ago (by a function whose cache had expired) is found."""
    from ktp_pipeline import wiring

    from .conftest import load_handler

    old, new = "a" * 64, "b" * 64
    stack.secrets.create_secret(Name=NIK_SECRET, SecretString=json.dumps({"key": old}))
    monkeypatch.setenv("NIK_HASH_SECRET_ID", NIK_SECRET)
    wiring.reset()
    assert wiring.nik_hasher()(NIK) == nik_hash(old.encode(), NIK)  # the old secret is now in the cache
    stack.secrets.put_secret_value(SecretId=NIK_SECRET, SecretString=json.dumps({"key": new, "previous_keys": [old]}))
    completed_job(stack, JobStore(stack.dynamodb, TABLE_NAME, nik_hasher=NikHasher(new.encode())), "ktp-new",
                  "incoming/new.jpg")
    assert wiring.nik_hasher()(NIK) == nik_hash(old.encode(), NIK)  # still cached here

    answer = load_handler("erase").lambda_handler({"nik": NIK}, FakeContext())
    assert answer["ok"] and answer["jobs_found"] == 1 and answer["jobs_erased"] == 1
    assert "result" not in raw(stack, "ktp-new")


def test_the_poller_path_writes_the_hash_too(stack, monkeypatch):
    """A result the poller fetches (no callback) lands in the by-nik-hash index like a callback's."""
    from ktp_pipeline import wiring

    from .conftest import load_handler

    stack.secrets.create_secret(Name=NIK_SECRET, SecretString=json.dumps({"key": "p" * 64}))
    monkeypatch.setenv("NIK_HASH_SECRET_ID", NIK_SECRET)
    wiring.reset()
    old = JobStore(stack.dynamodb, TABLE_NAME, clock=lambda: 1_000.0)  # long overdue
    old.create_received("ktp-polled", bucket=BUCKET, key="incoming/p.jpg", version_id=None, etag="e", size=1,
                        claim_seconds=0)
    old.mark_submitted("ktp-polled", 0, "sent")
    stack.provider.result_reply = lambda ref: httpx.Response(200, json=completed_body(ref))
    counts = load_handler("poller").lambda_handler(load_event("poller_schedule.json"), FakeContext())
    assert counts["completed"] == 1
    assert raw(stack, "ktp-polled")["nik_hash"] == nik_hash(b"p" * 64, NIK)
