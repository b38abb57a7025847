"""Parallel staging: an accelerator for large feeds, which imports uses when it can.

A UTF-8 feed is cut into byte ranges at item start tags; each range is staged by its own
worker process (`pricewatch.core.processes`) into its own spool files, as a synthetic document:
the file's head up to the container start tag, the range, the container's end tags. Report
lines are shifted back to the file's lines, and the apply phase reads every bucket part after
part, so file order and "the last duplicate wins" hold as if one process had staged the file.

Workers that see the committed catalog first try their range by raw spans (`RawStager`): an
item whose bytes' digest a product stored is not parsed at all. Anything unexpected (a cut that
is no item boundary, markup the byte scan cannot judge, a malformed document, a worker that
dies) makes the stager give up; imports then stages the file sequentially, so errors, line
numbers and results are always those of the plain path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

from django.db import connection

from pricewatch.catalog import feeds, staging
from pricewatch.catalog.models import Product
from pricewatch.core import bulk, processes

logger = logging.getLogger(__name__)


class ParallelStager:
    """Stages one feed in worker processes, one part each (see the module docstring)."""

    def __init__(self, plan: Plan, *, batch: int) -> None:
        self.plan = plan
        self.batch = batch

    @classmethod
    def for_feed(
        cls, path: str, *, workers: int, min_bytes: int, batch: int
    ) -> ParallelStager | None:
        """A stager for this feed, or None where it would not help or cannot work."""
        if workers < 2 or not processes.available():
            return None
        try:
            if os.path.getsize(path) < min_bytes:
                return None
            found = plan(path, workers)
        except OSError:
            return None  # the sequential path reports it
        return None if found is None else cls(found, batch=batch)

    def stage(self, spool: staging.Spool, progress: staging.StagingProgress) -> int | None:
        """Stage every part; None (nothing left behind) if any part failed."""
        file_plan = self.plan
        parts = file_plan.parts()
        try:
            with processes.Workers(len(parts)) as workers:
                workers.run(_count_part, [(file_plan.path, part.start, part.end) for part in parts])
                counts = workers.results(lambda done: None)
                spool.buckets = progress.counted(sum(items for items, _ in counts))
                spool.parts = len(parts)
                offsets = file_plan.line_offsets([newlines for _, newlines in counts])
                catalog = _catalog_visible()
                specs = [
                    PartSpec(
                        plan=file_plan,
                        part=part,
                        last=part.index == len(parts) - 1,
                        base=spool.base,
                        buckets=spool.buckets,
                        batch=self.batch,
                        line_offset=offset,
                        catalog=catalog,
                    )
                    for part, offset in zip(parts, offsets, strict=True)
                ]
                workers.run(stage_part, [(spec,) for spec in specs])
                staged = workers.results(lambda done: progress.staged(sum(done)))
            return sum(staged)
        except (processes.WorkerFailed, OSError) as error:
            logger.info("staging %s in one process (parallel: %s)", file_plan.path, error)
            spool.remove()
            spool.parts = 1
            return None


def _catalog_visible() -> bool:
    """Whether workers see the catalog this process sees: another connection sees committed
    rows only (not a caller's or a test's transaction), and an in-memory database not at all.
    Without it every item is converted; the apply phase still finds the unchanged ones."""
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and cast(Any, connection).is_in_memory_db())


@dataclass(frozen=True, slots=True)
class PartSpec:
    plan: Plan
    part: Part
    last: bool
    base: Path
    buckets: int
    batch: int
    line_offset: int
    catalog: bool  # the worker may look up stored digests


def stage_part(report: processes.Report, spec: PartSpec) -> int:
    """A worker's job: stage one part into its spool files; returns its item count."""
    writer = staging.SpoolWriter(spec.base, spec.buckets, spec.part.index)
    if spec.catalog:
        stager = None
        try:
            with writer:
                stager = RawStager(
                    spec.plan,
                    spec.part,
                    last=spec.last,
                    writer=writer,
                    batch=spec.batch,
                    line_offset=spec.line_offset,
                )
                return stager.run(report)
        except (RawUnsuitable, feeds.FeedError):
            # Staged again below, through the parser, which reports a malformed document
            # with its true line and column.
            report(0)
        finally:
            if stager is not None:
                stager.close()
    stream = PartStream(spec.plan, spec.part, last=spec.last)
    known = staging.stored_digests if spec.catalog else None
    processed = 0
    try:
        with writer:  # (again: truncates what a raw attempt wrote)
            source = cast(IO[bytes], stream)  # read() is all the parser uses
            for batch in feeds.parse_feed_batches(source, known=known, batch_size=spec.batch):
                writer.add_results(batch, spec.line_offset)
                processed += len(batch)
                report(processed)
    finally:
        stream.close()
    return processed


def products_by_raw(digests: list[str]) -> dict[str, tuple[str, int]]:
    """{raw digest: (sku, id)} of the products stored with these raw digests."""
    raw = bulk.quote("raw_hash")
    select = (
        f"SELECT {raw}, {bulk.quote('sku')}, id FROM {bulk.table(Product)} WHERE {raw} > '' AND"  # noqa: S608
    )
    return {digest: (sku, pk) for digest, sku, pk in bulk.select_in(select, raw, digests)}


# --------------------------------------------------------------------------------------------
# Splitting a file into parts
# --------------------------------------------------------------------------------------------

CHUNK: Final = feeds._CHUNK
# The container start tag must be within this many bytes (a Merchant feed's prolog and
# channel head are tiny; anything else is staged sequentially).
_HEAD: Final = 2 * 1024 * 1024
_SPLIT_WINDOW: Final = 1024 * 1024
_START_TAG: Final = re.compile(
    rb"<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>"
)
_END_TAG: Final = re.compile(rb"</([^\s/>]+)\s*>")
_DECLARED_ENCODING: Final = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']"
)
_ITEM_START: Final = {
    "rss": re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?item[\s>]"),
    "atom": re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?entry[\s>]"),
}


@dataclass(frozen=True, slots=True)
class Part:
    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Where to cut a feed: the shared prefix, the closing tags and the parts' byte ranges."""

    path: str
    prefix_end: int  # bytes [0, prefix_end) end with the container's start tag
    closers: bytes  # e.g. b"</channel></rss>"
    container: bytes  # the container's qualified name (b"channel" or b"feed")
    splits: tuple[int, ...]  # start offsets of parts 1..n-1
    size: int

    def parts(self) -> list[Part]:
        bounds = [0, *self.splits, self.size]
        return [Part(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]

    def line_offsets(self, newlines: list[int]) -> list[int]:
        """What to add to each part's line numbers, given the newlines in every part.

        A later part's document starts with the prefix, the file with part 0.
        """
        with open(self.path, "rb") as source:
            prefix_lines = source.read(self.prefix_end).count(b"\n")
        offsets = [0]
        for index in range(1, len(newlines)):
            offsets.append(sum(newlines[:index]) - prefix_lines)
        return offsets


def plan(path: str, parts: int) -> Plan | None:
    """Cut points for up to `parts` parts, or None when the file must be staged as one.

    Only UTF-8 documents (declared or by default) whose container start tag is found by a
    simple scan of the head (comments, PIs and CDATA skipped; a DOCTYPE or anything odd
    gives up) are split.
    """
    if parts < 2:
        return None
    size = os.path.getsize(path)
    with open(path, "rb") as source:
        head = source.read(_HEAD)
        if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"<\x00")):
            return None  # UTF-16/32
        declared = _DECLARED_ENCODING.match(head)
        if declared is not None and declared[1].lower() not in (b"utf-8", b"utf8"):
            return None
        found = _find_container(head)
        if found is None:
            return None
        prefix_end, stack, kind = found
        item_start = _ITEM_START[kind]
        splits: list[int] = []
        for k in range(1, parts):
            at = max(size * k // parts, prefix_end, splits[-1] + 1 if splits else 0)
            cut = _next_item_start(source, at, item_start)
            if cut is None:
                break
            if splits and cut <= splits[-1]:
                continue
            splits.append(cut)
    if not splits:
        return None
    closers = b"".join(b"</" + name + b">" for name in reversed(stack))
    return Plan(path, prefix_end, closers, stack[-1], tuple(splits), size)


def _find_container(head: bytes) -> tuple[int, list[bytes], str] | None:
    """(end of the container start tag, open element names, "rss"/"atom") or None."""
    stack: list[bytes] = []
    i = head.find(b"<")
    while i >= 0:
        if head.startswith(b"<!--", i):
            end, skip = head.find(b"-->", i + 4), 3
        elif head.startswith(b"<?", i):
            end, skip = head.find(b"?>", i + 2), 2
        elif head.startswith(b"<![CDATA[", i):
            end, skip = head.find(b"]]>", i + 9), 3
        elif head.startswith(b"<!", i):
            return None  # DOCTYPE: the sequential path refuses it with its own message
        elif head.startswith(b"</", i):
            closing = _END_TAG.match(head, i)
            if closing is None or not stack or stack.pop() != closing[1]:
                return None
            end, skip = closing.end(), 0
        else:
            tag = _START_TAG.match(head, i)
            if tag is None:
                return None
            end, skip = tag.end(), 0
            if not tag[2]:
                stack.append(tag[1])
                local = tag[1].rpartition(b":")[2]
                if len(stack) == 1:
                    if local == b"feed":
                        return end, stack, "atom"
                    if local != b"rss":
                        return None
                elif len(stack) == 2:
                    if local == b"channel":
                        return end, stack, "rss"
                    return None  # something else than the channel in <rss>
            elif not stack:
                return None  # an empty root element: nothing to split
        if end < 0:
            return None
        i = head.find(b"<", end + skip)
    return None


def _next_item_start(source: IO[bytes], at: int, item_start: re.Pattern[bytes]) -> int | None:
    position = at
    while True:
        source.seek(position)
        window = source.read(_SPLIT_WINDOW + 64)
        if not window:
            return None
        match = item_start.search(window)
        if match is not None:
            return position + match.start()
        if len(window) <= _SPLIT_WINDOW:
            return None
        position += _SPLIT_WINDOW


def _count_part(report: processes.Report, path: str, start: int, end: int) -> tuple[int, int]:
    return count_part(path, start, end)


def count_part(path: str, start: int, end: int) -> tuple[int, int]:
    """(items as ``feeds.count_items`` counts them, newlines) in bytes [start, end).

    A counted start tag begins with its only "<", so none spans two parts cut at an item's
    "<": the parts' counts add up to the whole file's.
    """
    count_re = feeds._ITEM_START_RE
    count = newlines = 0
    tail = b""
    with open(path, "rb") as source:
        source.seek(start)
        remaining = end - start
        while remaining > 0 and (chunk := source.read(min(1024 * 1024, remaining))):
            remaining -= len(chunk)
            newlines += chunk.count(b"\n")
            buffer = tail + chunk
            # A match ending inside ``tail`` was already counted with the previous chunk.
            count += sum(1 for m in count_re.finditer(buffer) if m.end() > len(tail))
            tail = buffer[-64:]
    return count, newlines


class PartMismatch(Exception):
    """A part closes the container before its end: not a clean split."""


class PartStream:
    """A part as a synthetic document, read in the whole file's chunk alignment."""

    def __init__(self, plan: Plan, part: Part, last: bool) -> None:
        self.source = open(plan.path, "rb")  # noqa: SIM115 - closed by close()
        self.source.seek(part.start)
        self.position = part.start
        self.end = part.end
        self.head = b"" if part.start == 0 else self._prefix(plan)
        self.tail = b"" if last else plan.closers
        self.closing = re.compile(rb"</" + re.escape(plan.container) + rb"[\s>]")
        self.allowed_closes = 1 if last else 0
        self.closes = 0
        self.carry = b""

    def _prefix(self, plan: Plan) -> bytes:
        self.source.seek(0)
        prefix = self.source.read(plan.prefix_end)
        self.source.seek(self.position)
        return prefix

    def read(self, _size: int = -1) -> bytes:
        if self.position >= self.end:
            tail, self.tail = self.tail, b""
            return tail
        boundary = min(self.end, (self.position // CHUNK + 1) * CHUNK)
        data = self.source.read(boundary - self.position)
        if len(data) != boundary - self.position:
            raise OSError("the feed file changed while it was being staged")
        self.position = boundary
        self._check(data)
        piece = self.head + data if self.head else data
        self.head = b""
        if self.position >= self.end and self.tail:
            piece += self.tail
            self.tail = b""
        return piece

    def _check(self, data: bytes) -> None:
        buffer = self.carry + data
        self.closes += sum(1 for m in self.closing.finditer(buffer) if m.end() > len(self.carry))
        if self.closes > self.allowed_closes:
            raise PartMismatch("the container closes inside a part")
        self.carry = buffer[-(len(self.closing.pattern) + 2) :]

    def close(self) -> None:
        self.source.close()


# --------------------------------------------------------------------------------------------
# Raw spans: re-importing unchanged items without parsing them
# --------------------------------------------------------------------------------------------

# Part of every raw digest: bump it (with feeds' "pwfeed" digest) when the conversion of an
# item changes, so that stored raw digests no longer vouch for what it would become.
RAW_PERSON: Final = b"pwraw1"
# An item span this large is staged through the parser (which alone decides what is
# oversized); below 7 parser chunks an item is never oversized, whatever the alignment.
_RAW_MAX_ITEM: Final = 768 * 1024
# A head (the channel's own elements before the first item) or tail beyond this: parser.
_RAW_MAX_EDGE: Final = 1024 * 1024
_RAW_WINDOW: Final = 4 * 1024 * 1024
_WHITESPACE_RUN: Final = re.compile(rb"[ \t\r\n]*")


def _after_whitespace(data: bytes, at: int) -> int:
    """The first position from `at` on that is not XML whitespace (or the end)."""
    return cast(re.Match[bytes], _WHITESPACE_RUN.match(data, at)).end()


_TAG_END: Final = frozenset(b" \t\r\n>")
# Item start and end tags by container: only unprefixed item tags are staged raw.
_RAW_ITEMS: Final = {b"channel": b"item", b"feed": b"entry"}


class RawUnsuitable(Exception):
    """This part cannot be staged by raw spans; the worker stages it through the parser."""


def raw_key(prefix: bytes) -> bytes:
    """The key of a file's raw digests: its bytes up to the container start tag (the XML
    declaration, and the namespace declarations every item's bytes are read under)."""
    return hashlib.blake2b(prefix, digest_size=32, person=b"pwrawkey").digest()


class _RawScanner:
    """The item spans of one part, found in its bytes without parsing them.

    A span runs from an item start tag to the first end tag of the same name after it; the
    spans of a part must follow each other with only whitespace between them, and the part
    must end with whitespace (the last part: with exactly the container's end tags), or the
    part is RawUnsuitable. A span is not checked here: either its digest is one the catalog
    stored for an item the parser read from these very bytes (then these bytes are that
    whole element: a span cut short at an end tag inside CDATA could not equal a complete
    element), or it goes to the parser (`RawStager`), which must find exactly one item
    starting where the span starts. Lines are those of the part's document (`PartStream`).
    """

    def __init__(self, plan: Plan, part: Part, last: bool) -> None:
        container = plan.container
        item = _RAW_ITEMS.get(container)
        expected_closers = b"</channel></rss>" if container == b"channel" else b"</feed>"
        if item is None or plan.closers != expected_closers:
            raise RawUnsuitable("prefixed container or item tags")
        self.open_tag, self.close_tag = b"<" + item, b"</" + item
        names = re.findall(rb"</([^>]+)>", plan.closers)
        self.closers = re.compile(
            b"".join(rb"</" + re.escape(name) + rb"[ \t\r\n]*>[ \t\r\n]*" for name in names)
        )
        self.last = last
        self.container_closers = plan.closers
        self.source = open(plan.path, "rb")  # noqa: SIM115 - closed by close()
        # The bytes up to the container start tag: the raw digests' key, and the head of a
        # later part's documents (part 0 has its own head, up to its first item).
        self.file_prefix = self.source.read(plan.prefix_end)
        self.prefix = self.file_prefix if part.start else b""
        self.source.seek(part.start)
        self.remaining = part.end - part.start
        self.prefix_end = plan.prefix_end
        self.buf = b""
        self.pos = 0
        self.line = 1 + self.prefix.count(b"\n")
        self.head = b""
        self.tail = b""

    def close(self) -> None:
        self.source.close()

    def _fill(self) -> bool:
        """Read more of the part, dropping what lies before `pos`; False at the part's end."""
        if self.remaining <= 0:
            return False
        data = self.source.read(min(_RAW_WINDOW, self.remaining))
        if not data:
            raise OSError("the feed file changed while it was being staged")
        self.remaining -= len(data)
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _starts_item(self, at: int) -> bool | None:
        """Whether an item start tag begins at `at` (None: the buffer ends too soon)."""
        tag = self.open_tag
        if len(self.buf) < at + len(tag) + 1:
            return None
        return self.buf.startswith(tag, at) and self.buf[at + len(tag)] in _TAG_END

    def _find_head(self) -> None:
        """Part 0: everything before the first item start tag outside comments, CDATA and
        processing instructions becomes the head, which the parser reads."""
        at = self.prefix_end
        while True:
            buf = self.buf
            lt = buf.find(b"<", at)
            # Judge a "<" only with enough bytes after it to tell what it opens.
            if lt >= 0 and (len(buf) - lt >= 16 or self.remaining <= 0):
                for opener, closer in ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>")):
                    if buf.startswith(opener, lt):
                        end = buf.find(closer, lt + len(opener))
                        if end >= 0:
                            at = end + len(closer)
                            break
                        lt = -1  # its end is further on
                        break
                else:
                    if self._starts_item(lt):
                        self.head = buf[:lt]
                        self.line += self.head.count(b"\n")
                        self.pos = lt
                        return
                    at = lt + 1
                if lt >= 0:
                    continue
            elif lt < 0:
                at = max(len(buf) - 1, self.prefix_end)
            if len(buf) > _RAW_MAX_EDGE or not self._fill():
                raise RawUnsuitable("no item start tag in the head")

    def spans(self) -> Iterator[tuple[int, bytes]]:
        """(line, bytes) of every item span of the part; then `tail` holds what follows."""
        if not self.prefix:
            self._find_head()
        else:
            self._fill()
            if not self._starts_item(0):
                raise RawUnsuitable("the part does not start with an item")
        close_tag = self.close_tag
        while True:
            # self.pos: an item start tag
            search_from = self.pos + len(self.open_tag)
            while True:
                buf = self.buf
                end = buf.find(close_tag, search_from)
                if end >= 0:
                    k = _after_whitespace(buf, end + len(close_tag))
                    if k < len(buf):
                        if buf[k] != 0x3E:  # "</items>" or the like: leave it to the parser
                            raise RawUnsuitable("an end tag that only starts like the item's")
                        break
                if len(buf) - self.pos > _RAW_MAX_ITEM:
                    raise RawUnsuitable("a large item")
                if not self._fill():
                    raise RawUnsuitable("an item runs past the end of the part")
                search_from = len(self.open_tag)  # the span now starts the buffer
            span = buf[self.pos : k + 1]
            yield self.line, span
            self.line += span.count(b"\n")
            self.pos = k + 1
            while True:  # the gap: whitespace, then an item start tag or the end
                buf = self.buf
                at = _after_whitespace(buf, self.pos)
                self.line += buf.count(b"\n", self.pos, at)
                self.pos = at
                if at == len(buf):
                    if self._fill():
                        continue
                    return  # the part ends after whitespace
                starts = self._starts_item(at)
                if starts is None and self._fill():
                    continue
                if starts:
                    break
                self._take_tail()
                return

    def _take_tail(self) -> None:
        """What follows the last span: the last part's container end tags, nothing else."""
        if not self.last:
            raise RawUnsuitable("something other than items in the part")
        while self._fill():
            if len(self.buf) - self.pos > _RAW_MAX_EDGE:
                raise RawUnsuitable("a long tail")
        tail = self.buf[self.pos :]
        if self.closers.fullmatch(tail) is None:
            raise RawUnsuitable("something other than items before the end")
        self.tail = tail


_SECTIONS: Final = ((b"<![CDATA[", b"]]>"), (b"<!--", b"-->"), (b"<?", b"?>"))


def _lexically_closed(span: bytes, open_tag: bytes) -> bool:
    """No item start tag inside, and every comment, CDATA section and processing
    instruction of the span ends before its end tag: the end tag is markup, not text.

    Linear in the span whatever it holds: every search moves forward only (a span of
    thousands of empty CDATA sections costs no more than one long one).
    """
    body_end = span.rfind(b"</")
    size = len(open_tag)
    find = span.find
    nested = find(open_tag, size, body_end)
    while nested >= 0:
        if span[nested + size] in _TAG_END:
            return False  # (also one in CDATA text: the parser alone will read this part)
        nested = find(open_tag, nested + 1, body_end)
    at = size
    upcoming = [find(opener, at, body_end) for opener, _ in _SECTIONS]
    while True:
        for index, (opener, _) in enumerate(_SECTIONS):
            if 0 <= upcoming[index] < at:
                upcoming[index] = find(opener, at, body_end)
        opened = [(position, index) for index, position in enumerate(upcoming) if position >= 0]
        if not opened:
            return True
        position, index = min(opened)
        opener, closer = _SECTIONS[index]
        end = find(closer, position + len(opener), body_end)
        if end < 0:
            return False
        at = end + len(closer)


# A document for the parser stays below this many lines: libxml2 keeps an element's line in
# 16 bits, and past line 65,535 reports the line of a neighbouring text node instead.
_RAW_DOCUMENT_LINES: Final = 60_000


class RawStager:
    """Stage one part by its items' raw bytes.

    An item whose digest the catalog stored is unchanged without being parsed. The others
    are parsed in documents of up to `batch` spans: the part's head (part 0: the file up to
    its first item; later parts: the file's prefix), the spans, each starting a line of its
    own, and the container's end tags (the last document of the last part: the file's own
    tail, so the parser checks it too). The parser must read exactly one item per span,
    starting on the span's line. Rows are written in file order. Anything unexpected raises
    RawUnsuitable (or the parser's FeedError); the caller then stages the part through the
    parser alone, discarding what was written.
    """

    def __init__(
        self,
        file_plan: Plan,
        part: Part,
        *,
        last: bool,
        writer: staging.SpoolWriter,
        batch: int,
        line_offset: int,
    ) -> None:
        self.scanner = _RawScanner(file_plan, part, last)
        self.writer = writer
        self.batch = batch
        self.line_offset = line_offset
        self.key = raw_key(self.scanner.file_prefix)
        self.count = 0

    def close(self) -> None:
        self.scanner.close()

    def run(self, report: Callable[[int], None]) -> int:
        spans = self.scanner.spans()
        finished = False
        while not finished:
            batch: list[tuple[int, bytes]] = []
            held = 0  # a batch of huge items ends early: memory stays bounded
            finished = True
            for span in spans:
                batch.append(span)
                held += len(span[1])
                if len(batch) >= self.batch or held >= feeds.BATCH_BYTES:
                    finished = False
                    break
            self._stage(batch, finished)
            self.count += len(batch)
            report(self.count)
        return self.count

    def _stage(self, batch: list[tuple[int, bytes]], finished: bool) -> None:
        blake2b, key = hashlib.blake2b, self.key
        digests = [
            blake2b(span, digest_size=16, key=key, person=RAW_PERSON).hexdigest()
            for _, span in batch
        ]
        known = products_by_raw(digests) if digests else {}
        scanner = self.scanner
        head = scanner.prefix or scanner.head
        head_lines = 1 + head.count(b"\n")
        # Every span in file order: [line, staged row]; the parser fills in the unknown ones.
        entries: list[list[Any]] = []
        unknown: list[tuple[int, list[Any]]] = []  # (line in the document, entry)
        pieces = [head]
        document_line = head_lines
        for (line, span), digest in zip(batch, digests, strict=True):
            line += self.line_offset
            found = known.get(digest)
            if found is not None:
                sku, product = found
                entries.append([line, staging.not_converted(line, sku, "", digest, product)])
                continue
            if not _lexically_closed(span, scanner.open_tag):
                raise RawUnsuitable("markup that may hide the end of an item")
            lines = span.count(b"\n") + 1
            if unknown and document_line + lines > _RAW_DOCUMENT_LINES:
                # Long items: this document is full, the parser reads it and a new one starts.
                self._parse(b"".join([*pieces, scanner.container_closers]), unknown)
                unknown, pieces, document_line = [], [head], head_lines
            if document_line + lines > _RAW_DOCUMENT_LINES:
                raise RawUnsuitable("an item of very many lines")
            entry: list[Any] = [line, None, digest]
            entries.append(entry)
            unknown.append((document_line, entry))
            pieces += (span, b"\n")
            document_line += lines
        if unknown or finished:
            # The last document of a part is parsed even without items: it checks the tail.
            pieces.append(scanner.tail if finished and scanner.last else scanner.container_closers)
            self._parse(b"".join(pieces), unknown)
        writer = self.writer
        for _line, staged, *_ in entries:
            if isinstance(staged, staging.Rejection):
                writer.reject(staged)
            else:
                writer.add(staged)
        writer.flush()

    def _parse(self, document: bytes, unknown: list[tuple[int, list[Any]]]) -> None:
        spans = iter(unknown)
        for results in feeds.parse_feed_batches(
            document, known=staging.stored_digests, batch_size=self.batch
        ):
            for result in results:
                expected, entry = next(spans, (None, None))
                if entry is None or result.line != expected:
                    raise RawUnsuitable("the parser read items other than the spans")
                line, digest = entry[0], entry[2]
                if isinstance(result, feeds.FeedItem):
                    result.line = line
                    entry[1] = staging.staged_item(result, digest)
                elif isinstance(result, feeds.UnchangedItem):
                    entry[1] = staging.not_converted(line, result.sku, result.digest, digest)
                else:
                    entry[1] = staging.rejection(result, line - result.line)
        if next(spans, None) is not None:
            raise RawUnsuitable("the parser read fewer items than the spans")
