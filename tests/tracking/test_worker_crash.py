"""A worker killed in the middle of a check loses nothing: the page stays due and is checked
again once its lease runs out (issue 4, "Kill the worker in the middle of a check")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from pricewatch.celery import app
from pricewatch.tracking import demo_shop, dispatch, tasks
from pricewatch.tracking.models import Check, Page
from tests.services import ROOT, child_env
from tests.tracking.factories import make_page

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUE = "crash-test"


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _start_worker(log: Path) -> subprocess.Popen[bytes]:
    # A solo pool runs the task in the worker's own process, so SIGKILL ends the check mid-way.
    process = subprocess.Popen(
        [sys.executable, "-m", "pricewatch", "worker", "--pool", "solo", "-Q", f"{QUEUE},celery"],
        env=child_env(),
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    _wait(lambda: "ready." in log.read_text(errors="replace"), 60, "the worker to start")
    return process


@pytest.fixture
def shop() -> Iterator[tuple[demo_shop.DemoShop, str]]:
    # Every answer takes 3 s: long enough to kill the worker while it waits for one.
    served = demo_shop.DemoShop(demo_shop.Catalog(products=3, seed=2), latency_ms=3000)
    with demo_shop.running(served) as base:
        yield served, base


@pytest.fixture
def through_broker() -> Iterator[None]:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


def test_a_check_killed_with_its_worker_runs_again_and_records_once(
    shop: tuple[demo_shop.DemoShop, str], through_broker: None, tmp_path: Path
) -> None:
    served, base = shop
    product = served.catalog.all()[0]
    offer = make_page(f"{base}/products/{product.slug}")
    now = timezone.now()
    Page.objects.filter(pk=offer.pk).update(due_at=now, leased_until=now + timedelta(minutes=10))
    log = tmp_path / "worker.log"
    worker = _start_worker(log)
    processes: list[subprocess.Popen[Any]] = [worker]
    try:
        # given a check under way (robots.txt answered, the product page being fetched)
        tasks.check_pages.apply_async(([offer.pk], "schedule"), queue=QUEUE)
        _wait(lambda: served.requests >= 2, 30, "the worker to fetch the page")

        # when the worker is killed in the middle of it
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

        # then nothing was recorded and the page is still due
        page = Page.objects.get(pk=offer.pk)
        assert not Check.objects.filter(page=page).exists()
        assert page.due_at is not None and page.last_checked_at is None

        # when the lease runs out and a worker is back, the dispatcher sends the check again
        served.latency = 0.0
        Page.objects.filter(pk=offer.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
        processes.append(_start_worker(log))
        summary = dispatch.dispatch_due()
        assert summary, summary

        # then it runs once, to the end, and records the price
        _wait(lambda: Check.objects.filter(page_id=offer.pk).exists(), 60, "the check to rerun")
        checks = list(Check.objects.filter(page_id=offer.pk))
        assert [check.status for check in checks] == [Check.Status.OK], log.read_text()
        page = Page.objects.select_related("offer").get(pk=offer.pk)
        assert page.due_at is None and page.leased_until is None
        assert page.offer.price == product.price
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
