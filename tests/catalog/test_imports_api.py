"""The imports API: upload (multipart, admins only), job status, report pages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pricewatch.catalog.models import ImportJob, Product
from pricewatch.core.asgi_limits import BodyLimitMiddleware
from tests.accounts.conftest import Api
from tests.accounts.factories import UserFactory
from tests.catalog.test_imports import item, rss

pytestmark = pytest.mark.django_db
URL = "/api/v1/imports"


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def admin_token(api: Api) -> str:
    admin = UserFactory(is_staff=True)
    return str(api.login(admin.email)["access_token"])


def upload(client: Client, token: str | None, content: bytes = b"", **fields: Any) -> Any:
    data: dict[str, Any] = {"file": SimpleUploadedFile("feed.xml", content, "application/xml")}
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(URL, data=data, **headers)


def test_upload_answers_202_at_once_and_the_worker_imports_after_commit(
    client: Client, admin_token: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    # given a feed with a good and a bad item
    feed = rss(item(sku="A"), item(sku="B", price="-1 USD"))

    # when uploaded
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(client, admin_token, feed)

    # then the job is queued and nothing is imported before the commit
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["filename"] == "feed.xml"
    assert body["size"] == len(feed)
    assert response["Location"] == f"{URL}/{body['id']}"
    assert not Product.objects.exists()

    # when the transaction commits, the (eager) worker task runs
    for callback in callbacks:
        callback()

    # then the job shows the outcome
    detail = client.get(f"{URL}/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {admin_token}").json()
    assert detail["status"] == "succeeded"
    assert detail["progress"] == {"processed": 2, "total": 2}
    assert detail["counts"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "duplicate": 0,
    }
    assert detail["error"] is None
    assert [(i["line"], i["outcome"]) for i in detail["report"]["items"]] == [
        (3, "created"),
        (4, "rejected"),
    ]
    assert detail["report"]["items"][1]["reason"] == "price: '-1 USD' is negative"


def test_dry_run_flag(
    client: Client, admin_token: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, admin_token, rss(item()), dry_run="true")
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.dry_run
    assert job.created_count == 1
    assert not Product.objects.exists()


def test_anonymous_gets_401_and_non_admin_403(client: Client, api: Api) -> None:
    assert upload(client, None, rss(item())).status_code == 401
    assert client.get(URL).status_code == 401
    user = UserFactory()
    token = api.login(user.email)["access_token"]
    response = upload(client, token, rss(item()))
    assert response.status_code == 403
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    assert not ImportJob.objects.exists()


def test_a_json_body_is_415(client: Client, admin_token: str) -> None:
    response = client.post(
        URL,
        data=json.dumps({"file": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {admin_token}",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"file": None}, "file", "This field is required."),
        ({"file": "<rss/>"}, "file", "The field 'file' must be a file upload, not a text value."),
        ({"dry_run": "maybe"}, "dry_run", "Not a boolean."),
        ({"colour": "red"}, "colour", "Unknown field."),
    ],
    ids=["missing", "text-field", "bad-dry-run", "unknown-field"],
)
def test_bad_form_fields_are_400(
    client: Client, admin_token: str, fields: dict[str, Any], field: str, message: str
) -> None:
    response = upload(client, admin_token, rss(item()), **fields)
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {field: message}
    assert not ImportJob.objects.exists()


def test_an_upload_over_the_limit_is_413(
    client: Client, admin_token: str, settings: Any, tmp_path: Path
) -> None:
    # given a small limit (standing in for the 100 MB default)
    settings.MAX_UPLOAD_BYTES = 1000

    # when a bigger feed is uploaded
    response = upload(client, admin_token, rss(*[item(sku=str(n)) for n in range(50)]))

    # then it is refused, and nothing is stored or queued
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not ImportJob.objects.exists()
    assert not any((tmp_path / "imports").glob("*")) if (tmp_path / "imports").exists() else True


def _asgi_post(path: str, chunks: Any, content_length: int | None) -> tuple[list[Any], bool]:
    called = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal called
        called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if message["type"] != "http.disconnect":
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "path": path, "headers": headers, "method": "POST"}
    sent: list[Any] = []

    async def receive() -> Any:
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    return sent, called


def test_a_2_gb_upload_is_refused_by_the_asgi_guard_before_django_reads_it(settings: Any) -> None:
    settings.MAX_UPLOAD_BYTES = 100 * 1024 * 1024
    # declared: refused from the header, the app never runs
    sent, called = _asgi_post(URL, iter([b"x" * 1024]), content_length=2 * 1024**3)
    assert not called
    assert sent[0]["status"] == 413
    # streamed without a length: cut off once past the limit, long before 2 GB are read
    pulled = 0

    def stream() -> Any:
        nonlocal pulled
        while pulled < 2 * 1024**3:
            pulled += 1024 * 1024
            yield b"x" * (1024 * 1024)

    sent, _ = _asgi_post(URL, stream(), content_length=None)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    assert pulled <= 101 * 1024 * 1024


def test_list_is_paginated_newest_first(client: Client, admin_token: str, tmp_path: Path) -> None:
    from pricewatch.catalog import imports

    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(item()))
    jobs = [imports.start_import(path=feed) for _ in range(3)]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}

    first = client.get(URL, {"page_size": 2}, **auth).json()
    second = client.get(URL, {"page_size": 2, "page": 2}, **auth).json()

    assert [job["id"] for job in first["items"]] == [jobs[2].pk, jobs[1].pk]
    assert (first["count"], first["pages"], first["previous"]) == (3, 2, None)
    assert first["next"].endswith("page_size=2&page=2")
    assert [job["id"] for job in second["items"]] == [jobs[0].pk]
    assert second["next"] is None
    assert client.get(URL, {"page_size": 500}, **auth).status_code == 400
    assert client.get(URL, {"page": 0}, **auth).status_code == 400


def test_report_pages_and_outcome_filter(client: Client, admin_token: str, tmp_path: Path) -> None:
    from pricewatch.catalog import imports

    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(*[item(sku=f"S{n}", price="1 USD" if n % 2 else "x") for n in range(7)]))
    job = imports.run_import(imports.start_import(path=feed).pk)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}

    page = client.get(
        f"{URL}/{job.pk}", {"outcome": "rejected", "report_page_size": 3}, **auth
    ).json()
    assert page["counts"]["rejected"] == 4
    assert page["report"]["count"] == 4
    assert page["report"]["pages"] == 2
    assert [row["sku"] for row in page["report"]["items"]] == ["S0", "S2", "S4"]
    assert "outcome=rejected" in page["report"]["next"]
    last = client.get(
        f"{URL}/{job.pk}",
        {"outcome": "rejected", "report_page_size": 3, "report_page": 2},
        **auth,
    ).json()
    assert [row["sku"] for row in last["report"]["items"]] == ["S6"]

    bad = client.get(f"{URL}/{job.pk}", {"outcome": "exploded"}, **auth)
    assert bad.status_code == 422
    assert "query.outcome" in bad.json()["fields"]


def test_a_failed_job_shows_its_error_with_line_and_column(
    client: Client, admin_token: str, tmp_path: Path
) -> None:
    from pricewatch.catalog import imports

    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(item(sku="A"), item(sku="B"))[:-30])
    job = imports.run_import(imports.start_import(path=feed).pk)
    body = client.get(f"{URL}/{job.pk}", HTTP_AUTHORIZATION=f"Bearer {admin_token}").json()
    assert body["status"] == "failed"
    assert body["error"]["message"].startswith("truncated or malformed document")
    assert body["error"]["line"] >= 1
    assert body["error"]["column"] >= 1
    assert body["report"]["items"] == []


def test_unknown_job_is_404(client: Client, admin_token: str) -> None:
    response = client.get(f"{URL}/999999", HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_list_query_count_does_not_grow_with_jobs(
    client: Client,
    admin_token: str,
    tmp_path: Path,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    from pricewatch.catalog import imports

    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(item()))
    for _ in range(15):
        imports.start_import(path=feed)
    with django_assert_max_num_queries(8):
        response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert len(response.json()["items"]) == 15


@pytest.mark.worker
def test_a_real_worker_imports_an_upload_while_the_api_shows_progress(
    live_worker: Any, client: Client, api: Api
) -> None:
    import time

    # given an admin and a feed
    admin = UserFactory(is_staff=True)
    token = api.login(admin.email)["access_token"]
    feed = rss(*[item(sku=f"W{n}") for n in range(30)], item(sku="BAD", price="free"))

    # when uploaded, the worker process picks the job up from the broker
    response = upload(client, token, feed)
    assert response.status_code == 202
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"{URL}/{job_id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
        if body["status"] in {"succeeded", "failed"}:
            break
        time.sleep(0.2)

    # then it finished with the expected counts
    assert body["status"] == "succeeded", (body, live_worker.log())
    assert body["progress"] == {"processed": 31, "total": 31}
    assert (body["counts"]["created"], body["counts"]["rejected"]) == (30, 1)
    assert Product.objects.filter(sku__startswith="W").count() == 30
