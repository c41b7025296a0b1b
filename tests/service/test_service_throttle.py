"""Per-application submit throttling over real HTTP on 127.0.0.1, in both homes: `ktp serve`
(in-memory token bucket) and the serverless extractor on moto (DynamoDB window counter)."""

from __future__ import annotations

import pytest
from service_harness import APP_ID, AUTH, AUTH2, ServerlessService, Service, b64, jpeg

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
BURST = 3
REQUESTS = 8
# app-one: 3 submits, then one more per 100 s, far longer than this test runs; app-two keeps the
# service default (20/s, burst 50), which these few requests cannot reach.
APP_RATE = f"{APP_ID}=0.01:{BURST}"


@pytest.fixture(scope="module", params=["serve", "serverless"])
def service(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"throttle-{request.param}") / "data"
    if request.param == "serve":
        svc = Service(data_dir=data_dir, extra_args=["--app-rate", APP_RATE])
    else:
        svc = ServerlessService(data_dir=data_dir, extra_args=["--app-rate", APP_RATE])
    svc.start()
    yield svc
    svc.kill()


def test_a_burst_beyond_the_rate_is_429_for_that_application_only(service):
    image = b64(jpeg())
    with service.client() as http:
        one = [http.post(SUBMIT, json={"image": image, "reference_id": f"thr1-{n:04d}"}, headers=AUTH)
               for n in range(REQUESTS)]
        two = [http.post(SUBMIT, json={"image": image, "reference_id": f"thr2-{n:04d}"}, headers=AUTH2)
               for n in range(REQUESTS)]
    statuses = [r.status_code for r in one]
    assert statuses[:BURST] == [200] * BURST, [r.text for r in one]
    # The bucket admits exactly the burst; a DynamoDB window edge falling inside the test may
    # admit at most one more burst.
    assert 429 in statuses and statuses.count(200) <= 2 * BURST
    assert set(statuses) == {200, 429}
    refused = next(r for r in one if r.status_code == 429)
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json() == {"message": refused.json()["message"], "error_code": "TOO_MANY_REQUESTS"}
    assert refused.json()["message"]
    # When to try again, never "now": the bucket's next token is at most 1 / 0.01 = 100 s away, the
    # serverless home's next window at most burst / rate = 300 s.
    assert 1 <= int(refused.headers["Retry-After"]) <= BURST / 0.01
    # The other application is unaffected.
    assert [r.status_code for r in two] == [200] * REQUESTS, [r.text for r in two]
