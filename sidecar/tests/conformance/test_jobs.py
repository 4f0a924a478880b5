"""The Jobs API through the sidecar: scheduling over HTTP and with the Dapr SDK, delivery
to real apps, failure policies, per-app isolation and persistence across restarts."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.grpc._jobs import ConstantFailurePolicy, DropFailurePolicy, Job
from google.protobuf.any_pb2 import Any as GrpcAny
from starlette.responses import Response

from wfb_sidecar.testing import (
    AppPorts,
    Recorded,
    SidecarProcess,
    TinyApp,
    dapr_settings,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.integration


class Platform:
    def __init__(self, sidecar: SidecarProcess, apps: dict[str, TinyApp]) -> None:
        self.sidecar = sidecar
        self.apps = apps

    def url(self, app_id: str, name: str, version: str = "v1.0-alpha1") -> str:
        return f"{self.sidecar.url(app_id)}/{version}/jobs/{name}"

    def schedule(self, name: str, body: dict[str, Any], app_id: str = "owner") -> httpx.Response:
        return httpx.post(self.url(app_id, name), json=body)

    def get(self, name: str, app_id: str = "owner") -> httpx.Response:
        return httpx.get(self.url(app_id, name))

    @contextlib.contextmanager
    def client(self, app_id: str = "owner") -> Iterator[DaprClient]:
        with dapr_settings(self.sidecar, app_id) as address, DaprClient(address=address) as client:
            yield client

    def deliveries(self, name: str, app_id: str = "owner") -> list[Recorded]:
        return self.apps[app_id].received(f"/job/{name}")

    def metrics(self) -> str:
        return httpx.get(f"{self.sidecar.url('owner')}/metrics").text


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("jobs")
    apps = {"owner": TinyApp().start(), "other": TinyApp().start()}
    sidecar = SidecarProcess(
        directory, [AppPorts(app_id, app.port) for app_id, app in apps.items()], {}
    )
    sidecar.start()
    yield Platform(sidecar, apps)
    sidecar.stop()
    for app in apps.values():
        app.stop()


@pytest.fixture(autouse=True)
def _clear(platform: Platform) -> None:
    for app in platform.apps.values():
        app.requests.clear()
        app.handlers.clear()


def wait_for(
    platform: Platform, name: str, count: int = 1, app_id: str = "owner"
) -> list[Recorded]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (
            len(platform.deliveries(name, app_id)) >= count and platform.deliveries(name, app_id)
        ),
        15,
    )


def gone(platform: Platform, name: str, app_id: str = "owner") -> bool:
    return platform.get(name, app_id).status_code == 500


class TestOneShot:
    def test_http_job_delivers_its_data_then_is_deleted(self, platform: Platform) -> None:
        data = {"workflowId": "w1", "generation": 3, "occurrence": "2025-01-01T00:00:00Z"}
        response = platform.schedule("once-http", {"dueTime": "1s", "data": data})
        assert response.status_code == 204
        (delivery,) = wait_for(platform, "once-http")
        assert delivery.method == "POST"
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.json() == data  # the data itself, no envelope
        wait_until(lambda: gone(platform, "once-http"))
        time.sleep(1.2)
        assert len(platform.deliveries("once-http")) == 1

    def test_rfc3339_due_time(self, platform: Platform) -> None:
        due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        assert platform.schedule("once-at", {"dueTime": due, "data": "text"}).status_code == 204
        assert wait_for(platform, "once-at")[0].json() == "text"

    def test_sdk_job_delivers_raw_any_bytes(self, platform: Platform) -> None:
        with platform.client() as client:
            client.schedule_job(
                Job(name="once-grpc", due_time="1s", data=GrpcAny(value=b'{"via": "grpc"}'))
            )
            fetched = client.get_job("once-grpc")
            assert fetched.due_time == "1s"
            assert fetched.data is not None and fetched.data.value == b'{"via": "grpc"}'
        (delivery,) = wait_for(platform, "once-grpc")
        assert delivery.body == b'{"via": "grpc"}'
        wait_until(lambda: gone(platform, "once-grpc"))

    def test_sdk_alpha1_methods(self, platform: Platform) -> None:
        with platform.client() as client, warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # the SDK forwards to the stable RPCs
            client.schedule_job_alpha1(Job(name="alpha", due_time="1h"))
            assert client.get_job_alpha1("alpha").name == "alpha"
            client.delete_job_alpha1("alpha")
        with platform.client() as client:
            client._stub.ScheduleJobAlpha1(_schedule_request("alpha-rpc"))
            assert client._stub.GetJobAlpha1(_get_request("alpha-rpc")).job.due_time == "1h"
        assert gone(platform, "alpha")


class TestRecurring:
    def test_repeats_limit_the_number_of_deliveries(self, platform: Platform) -> None:
        body = {"schedule": "@every 1s", "repeats": 3, "data": {"tick": True}}
        assert platform.schedule("thrice", body).status_code == 204
        wait_for(platform, "thrice", 3)
        wait_until(lambda: gone(platform, "thrice"))
        time.sleep(1.5)
        assert len(platform.deliveries("thrice")) == 3

    def test_cron_with_seconds(self, platform: Platform) -> None:
        body = {"schedule": "* * * * * *", "repeats": 2, "data": 1}
        assert platform.schedule("cron", body).status_code == 204
        assert [d.json() for d in wait_for(platform, "cron", 2)] == [1, 1]
        wait_until(lambda: gone(platform, "cron"))

    def test_ttl_ends_a_recurring_job(self, platform: Platform) -> None:
        body = {"schedule": "@every 1s", "ttl": "2500ms", "data": {}}
        assert platform.schedule("short-lived", body).status_code == 204
        wait_until(lambda: gone(platform, "short-lived"))
        assert 1 <= len(platform.deliveries("short-lived")) <= 2


class TestManagement:
    def test_get_returns_the_job_with_dapr_default_failure_policy(self, platform: Platform) -> None:
        body = {"schedule": "@daily", "repeats": 5, "dueTime": "1h", "data": {"a": [1, "b"]}}
        assert platform.schedule("managed", body).status_code == 204
        for version in ("v1.0-alpha1", "v1.0"):
            response = httpx.get(platform.url("owner", "managed", version))
            assert response.status_code == 200
            assert response.json() == {
                "name": "managed",
                "schedule": "@daily",
                "repeats": 5,
                "dueTime": "1h",
                "data": {
                    "@type": "type.googleapis.com/google.protobuf.Value",
                    "value": {"a": [1, "b"]},
                },
                "failurePolicy": {"constant": {"interval": "1s", "maxRetries": 3}},
            }
        with platform.client() as client:
            job = client.get_job("managed")
        assert (job.schedule, job.repeats, job.due_time) == ("@daily", 5, "1h")
        assert isinstance(job.failure_policy, ConstantFailurePolicy)
        assert (job.failure_policy.max_retries, job.failure_policy.interval_seconds) == (3, 1)

    def test_delete_over_http_and_stable_alias(self, platform: Platform) -> None:
        assert (
            httpx.post(platform.url("owner", "doomed", "v1.0"), json={"dueTime": "1h"}).status_code
            == 204
        )
        assert platform.get("doomed").status_code == 200
        assert httpx.delete(platform.url("owner", "doomed")).status_code == 204
        response = platform.get("doomed")
        assert response.status_code == 500
        assert response.json()["errorCode"] == "DAPR_SCHEDULER_GET_JOB"
        assert "job not found: doomed" in response.json()["message"]
        assert httpx.delete(platform.url("owner", "never-was")).status_code == 204

    def test_sdk_delete_and_get_missing(self, platform: Platform) -> None:
        with platform.client() as client:
            client.schedule_job(Job(name="sdk-del", schedule="@hourly"))
            client.delete_job("sdk-del")
            with pytest.raises(Exception, match="job not found") as caught:
                client.get_job("sdk-del")
        assert caught.value.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]

    def test_existing_name_needs_overwrite(self, platform: Platform) -> None:
        assert platform.schedule("dup", {"dueTime": "1h", "data": 1}).status_code == 204
        conflict = platform.schedule("dup", {"dueTime": "2h", "data": 2})
        assert conflict.status_code == 500
        assert conflict.json()["errorCode"] == "DAPR_SCHEDULER_SCHEDULE_JOB"
        assert "already exists" in conflict.json()["message"]
        assert platform.get("dup").json()["data"]["value"] == 1
        replaced = platform.schedule("dup", {"dueTime": "1s", "data": 2, "overwrite": True})
        assert replaced.status_code == 204
        assert wait_for(platform, "dup")[0].json() == 2
        with platform.client() as client:
            client.schedule_job(Job(name="dup-grpc", due_time="1h"))
            with pytest.raises(Exception, match="already exists") as caught:
                client.schedule_job(Job(name="dup-grpc", due_time="1h"))
            assert caught.value.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
            client.schedule_job(Job(name="dup-grpc", due_time="2h"), overwrite=True)
            assert client.get_job("dup-grpc").due_time == "2h"
            client.delete_job("dup-grpc")

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "DAPR_SCHEDULER_SCHEDULE_EMPTY"),
            ({"data": {"x": 1}}, "DAPR_SCHEDULER_SCHEDULE_EMPTY"),
            ({"schedule": "* * * * *"}, "DAPR_SCHEDULER_SCHEDULE_JOB"),  # 5 fields
            ({"schedule": "@every soon"}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"schedule": "@fortnightly"}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"dueTime": "tomorrow"}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"dueTime": "1s", "ttl": "later"}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"schedule": "@hourly", "repeats": 0}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"dueTime": "1s", "repeats": -1}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"dueTime": "1s", "failurePolicy": {"sometimes": {}}}, "DAPR_SCHEDULER_SCHEDULE_JOB"),
            ({"dueTime": "1s", "name": "other"}, "DAPR_SCHEDULER_JOB_NAME"),
            ({"dueTime": "1s", "colour": "red"}, "ERR_MALFORMED_REQUEST"),
        ],
    )
    def test_bad_input_is_a_400(self, platform: Platform, body: dict[str, Any], code: str) -> None:
        response = platform.schedule("bad", body)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == code
        assert gone(platform, "bad")

    def test_bad_json_and_blank_name(self, platform: Platform) -> None:
        response = httpx.post(platform.url("owner", "bad"), content=b"{nope")
        assert response.status_code == 400
        blank = httpx.post(platform.url("owner", "%20"), json={"dueTime": "1s"})
        assert blank.status_code == 400
        assert blank.json()["errorCode"] == "DAPR_SCHEDULER_JOB_NAME_EMPTY"

    def test_sdk_bad_schedule_is_invalid_argument(self, platform: Platform) -> None:
        with platform.client() as client, pytest.raises(Exception, match="6 fields") as caught:
            client.schedule_job(Job(name="bad-grpc", schedule="0 0 * * *"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


class TestFailurePolicy:
    def test_constant_policy_retries_then_drops(self, platform: Platform) -> None:
        platform.apps["owner"].handlers["/job/failing"] = lambda r: Response(status_code=500)
        body = {
            "dueTime": "0s",
            "data": {},
            "failurePolicy": {"constant": {"interval": "200ms", "maxRetries": 2}},
        }
        assert platform.schedule("failing", body).status_code == 204
        wait_until(lambda: gone(platform, "failing"))
        time.sleep(0.6)
        assert len(platform.deliveries("failing")) == 3  # the first attempt and two retries
        metrics = platform.metrics()
        assert 'wfb_sidecar_job_triggers_total{app_id="owner",outcome="failed"}' in metrics
        assert 'wfb_sidecar_job_triggers_total{app_id="owner",outcome="retry"}' in metrics
        assert "dropped this occurrence after 3 attempt(s)" in platform.sidecar.logs()

    def test_a_retry_that_succeeds_completes_the_job(self, platform: Platform) -> None:
        answers = iter([503, 200])
        platform.apps["owner"].handlers["/job/flaky"] = lambda r: Response(
            status_code=next(answers)
        )
        body = {"dueTime": "0s", "failurePolicy": {"constant": {"interval": "100ms"}}}
        assert platform.schedule("flaky", body).status_code == 204
        wait_until(lambda: gone(platform, "flaky"))
        assert len(platform.deliveries("flaky")) == 2

    def test_drop_policy_and_404_are_not_retried(self, platform: Platform) -> None:
        platform.apps["owner"].handlers["/job/dropped"] = lambda r: Response(status_code=500)
        platform.apps["owner"].handlers["/job/missing"] = lambda r: Response(status_code=404)
        with platform.client() as client:
            client.schedule_job(
                Job(name="dropped", due_time="0s", failure_policy=DropFailurePolicy())
            )
        assert platform.schedule("missing", {"dueTime": "0s"}).status_code == 204
        wait_until(lambda: gone(platform, "dropped") and gone(platform, "missing"))
        time.sleep(1.5)  # the default policy would retry the 404 after 1s
        assert len(platform.deliveries("dropped")) == 1
        assert len(platform.deliveries("missing")) == 1


class TestIsolation:
    def test_jobs_belong_to_the_app_that_scheduled_them(self, platform: Platform) -> None:
        assert platform.schedule("mine", {"dueTime": "1h", "data": "owner"}).status_code == 204
        assert gone(platform, "mine", "other")
        assert httpx.delete(platform.url("other", "mine")).status_code == 204
        assert platform.get("mine").status_code == 200  # the other app cannot delete it
        same = platform.schedule("shared-name", {"dueTime": "1s", "data": "other"}, "other")
        assert same.status_code == 204
        assert (
            platform.schedule("shared-name", {"dueTime": "1s", "data": "owner"}).status_code == 204
        )
        assert wait_for(platform, "shared-name", app_id="other")[0].json() == "other"
        assert wait_for(platform, "shared-name")[0].json() == "owner"
        time.sleep(0.5)
        assert len(platform.deliveries("shared-name", "other")) == 1
        with platform.client("other") as client:
            assert [j.name for j in client._stub.ListJobsAlpha1(_list_request()).jobs] == []
        with platform.client() as client:
            names = [j.name for j in client._stub.ListJobsAlpha1(_list_request()).jobs]
        assert "mine" in names
        httpx.delete(platform.url("owner", "mine"))


def _schedule_request(name: str) -> Any:
    from dapr.proto import api_v1

    return api_v1.ScheduleJobRequest(job=api_v1.Job(name=name, due_time="1h"))


def _get_request(name: str) -> Any:
    from dapr.proto import api_v1

    return api_v1.GetJobRequest(name=name)


def _list_request() -> Any:
    from dapr.proto import api_v1

    return api_v1.ListJobsRequestAlpha1()


def test_overdue_jobs_fire_once_after_a_restart(tmp_path: Path) -> None:
    """Jobs due while the sidecar was down fire exactly once when it is back and the app
    is up; missed occurrences of a recurring job collapse into that one delivery."""
    app_port = free_port()
    sidecar = SidecarProcess(tmp_path, [AppPorts("owner", app_port)], {})
    app = TinyApp(app_port).start()
    sidecar.start()
    try:
        base = sidecar.url("owner")
        for name, body in {
            "once": {"dueTime": "2s", "data": {"n": 1}},
            "hourly": {"dueTime": "2s", "schedule": "@every 1h", "data": {"n": 2}},
            "every-second": {"schedule": "@every 1s", "dueTime": "2s", "data": {"n": 3}},
        }.items():
            assert httpx.post(f"{base}/v1.0-alpha1/jobs/{name}", json=body).status_code == 204
        sidecar.kill()  # kill -9 before anything is due
        app.stop()
        time.sleep(4)  # every due time passes while the sidecar is down
        sidecar.start()
        time.sleep(1.5)  # the app is still down: nothing can be delivered, nothing is lost
        app = TinyApp(app_port).start()
        wait_until(lambda: app.received("/job/once") and app.received("/job/hourly"), 15)
        wait_until(lambda: httpx.get(f"{base}/v1.0-alpha1/jobs/once").status_code == 500)
        time.sleep(1.5)
        assert len(app.received("/job/once")) == 1
        assert len(app.received("/job/hourly")) == 1
        assert app.received("/job/once")[0].json() == {"n": 1}
        hourly = httpx.get(f"{base}/v1.0-alpha1/jobs/hourly")
        assert hourly.status_code == 200  # recurring: kept for its next occurrence
        # ~4 missed seconds collapsed into one delivery, then one per second again
        ticks = len(app.received("/job/every-second"))
        assert 1 <= ticks <= 3
        assert "was due at" in sidecar.logs()
    finally:
        sidecar.stop()
        app.stop()
