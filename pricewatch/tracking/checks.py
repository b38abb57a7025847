"""Checking tracked pages: fetch, extract, confirm, record.

A batch reads its pages, offers and site rules in a few queries; fetches and extracts every page
at once on the process's fetch loop (`tracking.fetching`), rendering in Chromium where needed and
fetching again a price implausibly far from the last; then writes in one transaction a `Check`
per page and one `pricing.record_prices` call. Every page ends with exactly one Check, and one
page's failure never costs the others theirs; `batch_seconds()` bounds the batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from pricewatch.core import bulk
from pricewatch.core.errors import DomainError
from pricewatch.core.fetch import Fetcher, FetchError, FetchResult, match_domain
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import SCHEMA_ORG_AVAILABILITY, Availability
from pricewatch.tracking import extraction, fetching
from pricewatch.tracking.models import Check, Page, SiteRule

__all__ = [
    "BatchSummary",
    "Outcome",
    "PageJob",
    "batch_seconds",
    "check_one",
    "check_pages",
    "check_url",
    "site_rule_for",
]

logger = logging.getLogger(__name__)

# Pages fetched together in one run of the fetch loop. The dispatcher sends 50 per task; a
# bigger list (an admin "check everything") is worked through in slices of this size.
BATCH_LIMIT = 100
# Chromium is heavy: at most this many pages of one batch are rendered at the same time.
RENDER_CONCURRENCY = 4
# A price that only the visible-text heuristics found is distrusted on a page showing many
# different prices: that is a category page or a wall of recommendations, and any one of its
# prices would be a guess. (distinct prices above, heuristic confidence at most) pairs; on the
# development pages, correct heuristic prices had confidence >= 0.64 with <= 30 prices shown,
# while a plain list of 300 products still scores 0.75 (the heuristics' maximum).
MANY_PRICES = ((100, 1.0), (40, 0.7), (10, 0.6))
_MANY_PRICES = "many-prices"  # our marker on an Extraction we refused to believe
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")


def batch_seconds() -> float:
    """How long one batch may take: half the dispatcher's lease, at most 5 minutes.

    Staying well inside the lease means a slow batch is never dispatched a second time while
    it still runs.
    """
    lease = float(getattr(settings, "TRACKING_CHECK_LEASE_SECONDS", 600))
    return max(1.0, min(300.0, lease / 2))


# --------------------------------------------------------------------------------------------
# What the async part gets and gives (no ORM objects cross the thread boundary)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageJob:
    page_id: int
    url: str
    render: bool = False
    rule: extraction.SiteRule | None = None
    last_price: Decimal | None = None
    last_currency: str = ""


@dataclass
class Outcome:
    """What one check of one page found; becomes a Check row (and maybe a price point)."""

    status: str
    started_at: datetime
    duration_ms: int = 0
    http_status: int | None = None
    error_code: str = ""
    error: str = ""
    bytes: int = 0
    attempts: int = 0
    method: str = ""
    confidence: float | None = None
    price: Decimal | None = None
    currency: str = ""
    availability: str = Availability.UNKNOWN
    regular_price: Decimal | None = None
    title: str = ""
    image: str = ""
    final_url: str = ""
    rendered: bool = False

    @property
    def records(self) -> bool:
        """Whether this check adds a point to the history (a price, or at least the stock)."""
        if self.status == Check.Status.OK:
            return True
        return (
            self.status == Check.Status.NO_PRICE
            and self.error_code == "no_price"
            and self.availability != Availability.UNKNOWN
        )


@dataclass
class BatchSummary:
    checked: int = 0
    skipped: int = 0  # pages deleted since they were dispatched
    statuses: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "skipped": self.skipped, **dict(self.statuses)}


class _PageProblem(Exception):
    """The answer arrived but is no product page (binary, not HTML)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Tally:
    attempts: int = 0
    bytes: int = 0
    http_status: int | None = None

    def add(self, result: FetchResult | FetchError) -> None:
        self.attempts += len(result.attempts)
        self.bytes += sum(attempt.bytes for attempt in result.attempts)
        if isinstance(result, FetchResult):
            self.http_status = result.status_code
        else:
            statuses = [a.status_code for a in result.attempts if a.status_code is not None]
            self.http_status = result.status or (statuses[-1] if statuses else self.http_status)


# --------------------------------------------------------------------------------------------
# Plain words for what went wrong
# --------------------------------------------------------------------------------------------


def _status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def describe_fetch_error(error: FetchError, *, max_bytes: int) -> str:
    """A sentence a user understands, e.g. "The shop answered 404 Not Found."."""
    code = error.code
    if code == "http_error" and error.status:
        text = f"The shop answered {error.status} {_status_phrase(error.status)}".rstrip()
        if error.status == 429:
            text += " (it asks to be checked less often)"
        elif error.status >= 500:
            text += " (a problem on the shop's side)"
        return text + "."
    if code == "too_many_redirects":
        if "loop" in error.message:
            return "The page redirects in a loop."
        return "The page redirects through too many addresses."
    fixed = {
        "timeout": "The shop took too long to send the page.",
        "too_large": f"The page is larger than the {max_bytes / 1_000_000:g} MB pricewatch reads.",
        "robots_disallowed": "The shop's robots.txt asks robots not to read this page.",
        "empty_body": "The shop answered with an empty page.",
        "decode_error": "The shop sent a compressed page that could not be unpacked.",
    }
    return fixed.get(code, error.message)


# --------------------------------------------------------------------------------------------
# The async part: one page
# --------------------------------------------------------------------------------------------

_NUMBER = rb"\d{1,3}(?:[.,\s\xc2\xa0']\d{3})*(?:[.,]\d{1,2})?"
_MARK = rb"(?:\$|\xe2\x82\xac|\xc2\xa3|\xc2\xa5|\b[A-Z]{3}\b|\bkr\b|\bz\xc5\x82\b)"
_PRICE_MENTION = re.compile(_MARK + rb"\s?" + _NUMBER + rb"|" + _NUMBER + rb"\s?" + _MARK)


def _distinct_prices(body: bytes, enough: int = 1000) -> int:
    """How many different currency amounts the page mentions (counting stops at `enough`)."""
    seen: set[bytes] = set()
    for match in _PRICE_MENTION.finditer(body, 0, 3_000_000):
        seen.add(re.sub(rb"\D", b"", match.group()))
        if len(seen) >= enough:
            break
    return len(seen)


def _guesswork(found: extraction.Extraction, body: bytes) -> bool:
    """True when a heuristic price sits among so many others that it is probably a guess."""
    if found.price is None or found.method != "heuristic":
        return False
    limits = [(count, ceiling) for count, ceiling in MANY_PRICES if found.confidence <= ceiling]
    if not limits:
        return False
    prices = _distinct_prices(body, enough=max(count for count, _ in limits) + 1)
    return any(prices > count for count, _ in limits)


def _is_binary(body: bytes) -> bool:
    head = body[:2048]
    return b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))  # UTF-16 BOMs


def _read(result: FetchResult, job: PageJob) -> extraction.Extraction:
    """Extract from a fetched page, refusing what is not a web page."""
    media_type = (result.content_type or "").split(";", 1)[0].strip().lower()
    if media_type and not media_type.startswith(_HTML_TYPES):
        raise _PageProblem(
            "not_html", f"The address leads to a file of type {media_type}, not a web page."
        )
    if _is_binary(result.body):
        raise _PageProblem("not_html", "The shop sent binary data, not a web page.")
    url = result.final_url
    if urlsplit(job.url).query and not urlsplit(url).query:
        url = job.url  # a redirect dropped the query that selects the variant
    found = extraction.extract(result.body, url, rules=job.rule)
    if _guesswork(found, result.body):
        # Neither the price nor the "add to cart" availability can be trusted here.
        return dataclasses.replace(
            found,
            price=None,
            currency=None,
            regular_price=None,
            availability=None,
            method=_MANY_PRICES,
            confidence=0.0,
        )
    return found


def _apply(outcome: Outcome, found: extraction.Extraction, result: FetchResult) -> None:
    outcome.final_url = result.final_url
    outcome.rendered = result.rendered
    outcome.title = found.title or ""
    image = found.image or ""
    outcome.image = image if image.startswith(("http://", "https://")) else ""
    outcome.availability = SCHEMA_ORG_AVAILABILITY.get(found.availability or "", "unknown")
    outcome.method = found.method if found.price is not None else ""
    outcome.confidence = found.confidence if found.price is not None else None
    outcome.price = found.price
    outcome.regular_price = found.regular_price
    outcome.currency = found.currency or ""


def _no_price_message(found: extraction.Extraction, outcome: Outcome) -> str:
    if found.method == _MANY_PRICES:
        return (
            "The page shows many different prices and none is clearly this product's "
            "(is it a product page? A site rule can point at the right price)."
        )
    if outcome.availability == Availability.OUT_OF_STOCK:
        return "No price on the page; the shop says the product is out of stock."
    if outcome.availability == Availability.DISCONTINUED:
        return "No price on the page; the shop says the product is discontinued."
    return "No price found on the page."


async def _fetch(
    fetcher: Fetcher, url: str, tally: _Tally, *, render: bool = False, fresh: bool = False
) -> FetchResult:
    try:
        result = await fetcher.fetch(url, render=render, fresh=fresh)
    except FetchError as error:
        tally.add(error)
        raise
    tally.add(result)
    return result


async def _look(
    fetcher: Fetcher,
    job: PageJob,
    outcome: Outcome,
    tally: _Tally,
    *,
    render_fallback: bool,
    render_gate: asyncio.Semaphore,
) -> None:
    if job.render:
        async with render_gate:
            result = await _fetch(fetcher, job.url, tally, render=True)
    else:
        result = await _fetch(fetcher, job.url, tally)
    found = _read(result, job)
    if found.price is None and render_fallback and not result.rendered:
        try:
            async with render_gate:
                rendered = await _fetch(fetcher, job.url, tally, render=True)
            again = _read(rendered, job)
        except (FetchError, _PageProblem) as error:
            logger.info("render fallback failed for %s: %s", job.url, error)
        else:
            if again.price is not None:
                result, found = rendered, again
    _apply(outcome, found, result)
    if found.price is None:
        outcome.status = Check.Status.NO_PRICE
        outcome.error = _no_price_message(found, outcome)
        outcome.error_code = "many_prices" if found.method == _MANY_PRICES else "no_price"
        return
    if not outcome.currency:
        if not job.last_currency:
            outcome.status = Check.Status.NO_PRICE
            outcome.error_code = "no_currency"
            outcome.error = (
                f"Found the price {found.price} but not its currency; "
                "a site rule can set the shop's currency."
            )
            return
        outcome.currency = job.last_currency
    outcome.status = Check.Status.OK
    if (
        job.last_price is not None
        and outcome.currency == job.last_currency
        and extraction.looks_implausible(job.last_price, found.price)
    ):
        await _confirm(fetcher, job, outcome, tally, rendered=result.rendered, gate=render_gate)


async def _confirm(
    fetcher: Fetcher,
    job: PageJob,
    outcome: Outcome,
    tally: _Tally,
    *,
    rendered: bool,
    gate: asyncio.Semaphore,
) -> None:
    """Look again, past caches: only a price seen twice is believed."""
    assert outcome.price is not None and job.last_price is not None
    was = f"{job.last_price.normalize():f} {job.last_currency}"
    now = f"{outcome.price.normalize():f} {outcome.currency}"
    second: Decimal | None = None
    try:
        if rendered:
            async with gate:
                result = await _fetch(fetcher, job.url, tally, render=True, fresh=True)
        else:
            result = await _fetch(fetcher, job.url, tally, fresh=True)
        again = _read(result, job)
        second = again.price if (again.currency or outcome.currency) == outcome.currency else None
    except (FetchError, _PageProblem) as error:
        outcome.status = Check.Status.UNCONFIRMED
        outcome.error_code = "unconfirmed"
        outcome.error = (
            f"The price jumped from {was} to {now}, which looks wrong, and a second look "
            f"failed ({error}). Nothing recorded; the next check tries again."
        )
        return
    if second == outcome.price:
        return  # confirmed: a real (if startling) change
    outcome.status = Check.Status.UNCONFIRMED
    outcome.error_code = "unconfirmed"
    seen = "no price" if second is None else f"{second.normalize():f}"
    outcome.error = (
        f"The price jumped from {was} to {now}, which looks wrong, and a second look showed "
        f"{seen}. Nothing recorded; the next check tries again."
    )


async def check_one(
    fetcher: Fetcher,
    job: PageJob,
    *,
    timeout: float,
    render_fallback: bool = False,
    render_gate: asyncio.Semaphore | None = None,
) -> Outcome:
    """Check one page; never raises (every failure becomes an error outcome)."""
    outcome = Outcome(status=Check.Status.ERROR, started_at=timezone.now())
    tally = _Tally()
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await _look(
                fetcher,
                job,
                outcome,
                tally,
                render_fallback=render_fallback,
                render_gate=render_gate or asyncio.Semaphore(RENDER_CONCURRENCY),
            )
    except FetchError as error:
        outcome.status = Check.Status.ERROR
        outcome.error_code = error.code
        outcome.error = describe_fetch_error(error, max_bytes=fetcher.config.max_body_bytes)
    except _PageProblem as problem:
        outcome.status = Check.Status.ERROR
        outcome.error_code = problem.code
        outcome.error = problem.message
    except TimeoutError:
        outcome.status = Check.Status.ERROR
        outcome.error_code = "timeout"
        outcome.error = f"The check took longer than {timeout:g} seconds and was stopped."
    except Exception:
        logger.exception("checking page %s (%s) failed", job.page_id, job.url)
        outcome.status = Check.Status.ERROR
        outcome.error_code = "internal_error"
        outcome.error = "Something went wrong on our side while checking this page."
    outcome.duration_ms = round((time.monotonic() - began) * 1000)
    outcome.attempts = tally.attempts
    outcome.bytes = tally.bytes
    outcome.http_status = tally.http_status
    return outcome


async def check_many(
    fetcher: Fetcher, jobs: Sequence[PageJob], *, timeout: float, render_fallback: bool
) -> list[Outcome]:
    """Check all `jobs` concurrently; the fetcher enforces per-host politeness."""
    gate = asyncio.Semaphore(RENDER_CONCURRENCY)
    return list(
        await asyncio.gather(
            *(
                check_one(
                    fetcher, job, timeout=timeout, render_fallback=render_fallback, render_gate=gate
                )
                for job in jobs
            )
        )
    )


# --------------------------------------------------------------------------------------------
# The sync part: reading pages and rules, writing checks and prices
# --------------------------------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _suffixes(host: str) -> list[str]:
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i]]


def _to_rule(row: SiteRule) -> extraction.SiteRule | None:
    rule = extraction.SiteRule(
        price_selector=row.price_selector.strip() or None,
        currency=row.currency.strip().upper() or None,
        availability_selector=row.availability_selector.strip() or None,
        regular_price_selector=row.regular_price_selector.strip() or None,
        decimal_separator=row.decimal_separator.strip() or None,
    )
    return None if rule == extraction.SiteRule() else rule


def _rules_for(hosts: Iterable[str]) -> dict[str, SiteRule]:
    """The most specific site rule for each host (a rule for a domain covers its sub-domains)."""
    hosts = {host for host in hosts if host}
    candidates = {suffix for host in hosts for suffix in _suffixes(host)}
    if not candidates:
        return {}
    rows = {
        row.domain.strip().lower(): row
        for row in SiteRule.objects.annotate(key=Lower("domain")).filter(key__in=candidates)
    }
    found: dict[str, SiteRule] = {}
    for host in hosts:
        domain = match_domain(host, rows)
        if domain is not None:
            found[host] = rows[domain]
    return found


def site_rule_for(host: str) -> SiteRule | None:
    try:
        return _rules_for([host]).get(host.lower())
    except DatabaseError:  # no database (yet): checking works without rules
        return None


def _observation(outcome: Outcome) -> pricing.Observation:
    return pricing.Observation(
        price=outcome.price if outcome.status == Check.Status.OK else None,
        currency=outcome.currency if outcome.status == Check.Status.OK else "",
        method=outcome.method or "none",
        availability=outcome.availability,
        regular_price=outcome.regular_price if outcome.status == Check.Status.OK else None,
        observed_at=outcome.started_at,
    )


def _validated(outcome: Outcome) -> pricing.Observation | None:
    """The observation to record for `outcome`, or None; turns unstorable values into errors."""
    if not outcome.records:
        return None
    observation = _observation(outcome)
    if observation.regular_price is not None and observation.regular_price <= (
        observation.price or 0
    ):
        observation.regular_price = None  # a "was" price that is no higher is no sale
    try:
        pricing.validate_observation(observation)
    except DomainError as error:
        outcome.status = Check.Status.ERROR
        outcome.error_code = "invalid_price"
        outcome.error = f"The page shows a price that cannot be stored: {error.detail}"
        return None
    return observation


def _storable(price: Decimal | None) -> Decimal | None:
    """The price for the Check row, if its column can hold it (it is shown, not trusted)."""
    if price is None or not price.is_finite() or abs(price) > pricing.MAX_PRICE:
        return None
    return price


def _failures(previous: int, outcome: Outcome) -> int:
    if outcome.status == Check.Status.OK or outcome.records:
        return 0
    if outcome.status == Check.Status.UNCONFIRMED:
        return previous  # inconclusive: neither a success nor a failure of the page
    return min(previous + 1, 2_000_000_000)


_PAGE_FIELDS = [
    "last_checked_at",
    "last_status",
    "last_error",
    "consecutive_failures",
    "due_at",
    "leased_until",
]


def _write(items: Sequence[tuple[Page, Outcome]], trigger: str) -> list[tuple[Page, Outcome]]:
    """Write checks, prices and page states of `items`; returns those written (pages deleted
    meanwhile are left out). Call inside a transaction."""
    query = Page.objects.filter(pk__in=[page.pk for page, _ in items])
    failures = dict(query.select_for_update().values_list("pk", "consecutive_failures"))
    items = [(page, outcome) for page, outcome in items if page.pk in failures]
    if not items:
        return []
    observations: list[tuple[int, pricing.Observation]] = []
    for page, outcome in items:
        observation = _validated(outcome)
        offer = page.offer
        described = outcome.title and outcome.status in (Check.Status.OK, Check.Status.NO_PRICE)
        if described and (trigger == Check.Trigger.FIRST or not offer.title or not offer.image_url):
            pricing.describe_offer(
                offer=offer,
                title=outcome.title,
                image_url=offer.image_url or outcome.image,
                shop=offer.shop or _host(offer.url or "").removeprefix("www."),
            )
        if observation is not None:
            observations.append((offer.pk, observation))
    if observations:
        pricing.record_prices(observations)
    Check.objects.bulk_create(
        [
            Check(
                page_id=page.pk,
                started_at=outcome.started_at,
                duration_ms=min(outcome.duration_ms, 2_000_000_000),
                trigger=trigger,
                status=outcome.status,
                http_status=outcome.http_status,
                error_code=outcome.error_code[:32],
                error=outcome.error,
                bytes=min(outcome.bytes, 2_000_000_000),
                attempts=min(outcome.attempts, 32_000),
                method=outcome.method[:32],
                confidence=outcome.confidence,
                price=_storable(outcome.price),
                currency=outcome.currency[:3],
                availability=outcome.availability[:16],
            )
            for page, outcome in items
        ]
    )
    now = timezone.now()
    for page, outcome in items:
        page.last_checked_at = now
        page.last_status = outcome.status
        page.last_error = "" if outcome.status == Check.Status.OK else outcome.error
        page.consecutive_failures = _failures(failures[page.pk], outcome)
        page.due_at = None
        page.leased_until = None
    _save_page_states([page for page, _ in items])
    return items


def _save_page_states(pages: list[Page]) -> None:
    bulk.save_fields(pages, _PAGE_FIELDS)


def _save(items: Sequence[tuple[Page, Outcome]], trigger: str, summary: BatchSummary) -> None:
    """Write the batch in one transaction; if that fails, page by page so one bad row cannot
    cost the others their checks."""
    try:
        with transaction.atomic():
            written = _write(items, trigger)
    except Exception:
        logger.exception("writing %d checks at once failed; writing them one by one", len(items))
        written = []
        for page, outcome in items:
            try:
                with transaction.atomic():
                    written += _write([(page, outcome)], trigger)
            except Exception:
                logger.exception("writing the check of page %s failed", page.pk)
                failed = Outcome(
                    status=Check.Status.ERROR,
                    started_at=outcome.started_at,
                    duration_ms=outcome.duration_ms,
                    http_status=outcome.http_status,
                    error_code="internal_error",
                    error="Something went wrong on our side while saving this check.",
                    bytes=outcome.bytes,
                    attempts=outcome.attempts,
                )
                try:
                    with transaction.atomic():
                        written += _write([(page, failed)], trigger)
                except Exception:
                    logger.exception("page %s stays due: its check could not be saved", page.pk)
    summary.checked += len(written)
    summary.skipped += len(items) - len(written)
    summary.statuses.update(outcome.status for _, outcome in written)


def _jobs(pages: Sequence[Page]) -> list[PageJob]:
    hosts = {page.pk: _host(page.offer.url or "") for page in pages}
    rules = _rules_for(hosts.values())
    render_domains = fetching.js_domains(
        row.domain for row in rules.values() if row.render_javascript
    )
    jobs = []
    for page in pages:
        host = hosts[page.pk]
        row = rules.get(host)
        offer = page.offer
        jobs.append(
            PageJob(
                page_id=page.pk,
                url=offer.url or "",
                render=bool(host) and fetching.is_js_domain(host, render_domains),
                rule=_to_rule(row) if row is not None else None,
                last_price=offer.price,
                last_currency=offer.currency,
            )
        )
    return jobs


def _run(jobs: list[PageJob]) -> list[Outcome]:
    timeout = batch_seconds()
    config = fetching.fetch_config(include_site_rules=False)
    render_fallback = fetching.render_fallback_enabled()

    async def work(fetcher: Fetcher) -> list[Outcome]:
        return await check_many(fetcher, jobs, timeout=timeout, render_fallback=render_fallback)

    try:
        # The pages keep their own deadline; this one only guards against a stuck loop.
        return fetching.run_async(work, config=config, timeout=timeout + 30)
    except TimeoutError:
        logger.error("a batch of %d checks overran its time bound", len(jobs))
        started = timezone.now()
        return [
            Outcome(
                status=Check.Status.ERROR,
                started_at=started,
                duration_ms=round(timeout * 1000),
                error_code="timeout",
                error=f"The check took longer than {timeout:g} seconds and was stopped.",
            )
            for _ in jobs
        ]


def check_pages(*, page_ids: Sequence[int], trigger: str) -> BatchSummary:
    """Check these pages now: one Check each, prices recorded, page states updated."""
    if trigger not in Check.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; use one of {Check.Trigger.values}")
    ids = list(dict.fromkeys(int(page_id) for page_id in page_ids))
    summary = BatchSummary()
    for start in range(0, len(ids), BATCH_LIMIT):
        chunk = ids[start : start + BATCH_LIMIT]
        pages = list(Page.objects.select_related("offer").filter(pk__in=chunk).order_by("pk"))
        summary.skipped += len(chunk) - len(pages)
        if not pages:
            continue
        outcomes = _run(_jobs(pages))
        _save(list(zip(pages, outcomes, strict=True)), trigger, summary)
    return summary


def check_url(url: str, *, render: bool = False, timeout: float | None = None) -> Outcome:
    """Fetch and extract one URL, as a check would, without writing anything."""
    host = _host(url)
    row = site_rule_for(host) if host else None
    config = fetching.fetch_config()
    job = PageJob(
        page_id=0,
        url=url,
        render=render or (row is not None and row.render_javascript),
        rule=_to_rule(row) if row is not None else None,
    )

    async def run() -> Outcome:
        async with Fetcher(config) as fetcher:
            return await check_one(
                fetcher,
                job,
                timeout=timeout or batch_seconds(),
                render_fallback=fetching.render_fallback_enabled() and not render,
            )

    return asyncio.run(run())
