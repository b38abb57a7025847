"""An admin uploads a product feed in the browser, watches its progress and reads the report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pricewatch.catalog import imports, tasks
from pricewatch.catalog.models import ImportJob
from tests.accounts.factories import PASSWORD, UserFactory
from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FEED = Path(__file__).resolve().parent.parent / "fixtures" / "feeds" / "rss_valid.xml"


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"


def test_an_admin_uploads_a_feed_watches_progress_and_sees_the_report(
    page: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = UserFactory(is_staff=True, email="admin@example.com")
    # Hold the job back from the (eager) worker so the page shows it queued; the test runs
    # it below, as the worker would.
    monkeypatch.setattr(tasks.run_import_task, "delay", lambda job_id: None)

    page.goto(f"{live_server.url}/catalog/imports/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=login]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/catalog/imports/$"))
    assert page.get_by_text("No imports yet").is_visible()

    page.get_by_label("Feed file").set_input_files(str(FEED))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/catalog/imports/\d+/$"))
    progress = page.locator("#job-progress")
    assert progress.get_attribute("aria-live") == "polite"
    assert page.locator("#job-progress progress").is_visible()
    assert "Queued" in progress.inner_text()
    shot(page, "import-progress")

    # the worker runs the job; the page notices on its next poll and shows the report
    job = ImportJob.objects.get()
    imports.run_import(job.pk)
    page.wait_for_selector("text=The catalog is up to date with this feed.", timeout=10000)
    assert page.locator("#job-progress").count() == 0
    assert page.locator("dt:has-text('Created') + dd").inner_text() == "3"
    assert page.get_by_role("cell", name="TV-22LB4510").is_visible()
    shot(page, "import-report")

    page.get_by_role("link", name="Rejected").click()
    page.wait_for_url(re.compile(r"outcome=rejected"))
    assert page.get_by_text("No items with the outcome").is_visible()

    # a file that is not XML is refused with a plain message
    page.goto(f"{live_server.url}/catalog/imports/")
    page.get_by_label("Feed file").set_input_files(
        {"name": "prices.csv", "mimeType": "text/csv", "buffer": b"sku,price\nA,3.00\n"}
    )
    page.get_by_role("button", name="Upload and import").click()
    assert page.get_by_text("This is not an XML feed").is_visible()
    assert page.get_by_role("link", name=re.compile(r"\d{4}")).count() == 1  # the one past job
