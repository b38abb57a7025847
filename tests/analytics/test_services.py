"""The worker's side: the tick flushes, salts rotate and vanish, old visits are purged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache

from pricewatch.analytics import buffer, services, visitors
from pricewatch.analytics.models import Salt, SiteDay, Visit, VisitorDay
from pricewatch.core import tasks
from tests.analytics.conftest import browser
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


def test_the_dispatcher_tick_writes_buffered_views(settings: Any) -> None:
    product = make_product()
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), tick=False) as clock:
        browser().get(f"/catalog/{product.pk}/")
        clock.shift(25)  # the spool slot has closed
        summary = tasks.dispatch()

    assert summary["pricewatch.analytics.services.flush_on_tick"] == {"views": 1, "beacons": 0}
    assert Visit.objects.filter(product=product).count() == 1


def test_a_flush_already_running_elsewhere_is_not_joined(settings: Any) -> None:
    cache.add(services.FLUSH_LOCK, 1, 60)

    assert services.flush(include_open=True) is None


def test_the_visitor_id_changes_with_the_daily_salt() -> None:
    today = date(2026, 3, 2)
    services.ensure_salts(today)

    first = visitors.visitor_id(address="203.0.113.7", user_agent="UA", day=today)
    again = visitors.visitor_id(address="203.0.113.7", user_agent="UA", day=today)
    tomorrow = visitors.visitor_id(address="203.0.113.7", user_agent="UA", day=today + timedelta(1))

    assert first == again != tomorrow
    assert len(first) == 32 and "203.0.113.7" not in first
    assert set(Salt.objects.values_list("day", flat=True)) >= {today, today + timedelta(1)}


def test_purge_drops_old_salts_visitor_days_and_visits_past_retention(settings: Any) -> None:
    settings.ANALYTICS_RETENTION_DAYS = 90
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    product = make_product()
    old_salt = Salt.objects.create(day=date(2026, 5, 29), value="x")
    Salt.objects.filter(pk=old_salt.pk).update(created_at=now - timedelta(hours=49))
    fresh_salt = Salt.objects.create(day=date(2026, 6, 1), value="y")
    Salt.objects.filter(pk=fresh_salt.pk).update(created_at=now - timedelta(hours=47))
    VisitorDay.objects.create(day=date(2026, 5, 29), visitor="a", product_id=0)
    VisitorDay.objects.create(day=date(2026, 5, 31), visitor="b", product_id=0)
    for key, age in (("old", 91), ("new", 89)):
        moment = now - timedelta(days=age)
        Visit.objects.create(
            key=key, product=product, visitor="v", started_at=moment, last_seen_at=moment
        )
    SiteDay.objects.create(day=date(2026, 1, 1), views=5)

    services.purge(now)

    assert set(Salt.objects.values_list("value", flat=True)) & {"x", "y"} == {"y"}
    assert list(VisitorDay.objects.values_list("visitor", flat=True)) == ["b"]
    assert list(Visit.objects.values_list("key", flat=True)) == ["new"]
    assert SiteDay.objects.get().views == 5  # roll-ups outlive raw visits


def test_the_worker_leaves_a_spool_slot_alone_until_it_has_closed(settings: Any) -> None:
    settings.REDIS_URL = ""
    product = make_product()
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, 1, tzinfo=UTC), tick=False) as clock:
        browser().get(f"/catalog/{product.pk}/")
        early = services.flush()
        clock.shift(buffer.SLOT_SECONDS)
        late = services.flush()

    assert early is not None and late is not None
    assert (early.views, late.views) == (0, 1)
