"""`pricewatch import-feed FILE [--dry-run]`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pricewatch.catalog.models import ImportJob, Product
from tests.catalog.test_imports import item, rss

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"


def cli(*args: str) -> str:
    out = io.StringIO()
    call_command("import-feed", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cli_imports_and_prints_the_summary_and_first_rejections(tmp_path: Path) -> None:
    feed = tmp_path / "shop.xml"
    feed.write_bytes(rss(item(sku="A"), item(sku="B", title="x" * 10_000)))

    output = cli(str(feed))

    assert "import 1 of shop.xml: succeeded" in output.replace(
        f"import {ImportJob.objects.get().pk}", "import 1"
    )
    assert "created: 1, updated: 0, unchanged: 0, rejected: 1, duplicate: 0" in output
    assert "line 4 (B): title: 10000 characters, the maximum is 150" in output
    assert Product.objects.filter(sku="A").exists()


def test_cli_dry_run_writes_no_products(tmp_path: Path) -> None:
    feed = tmp_path / "shop.xml"
    feed.write_bytes(rss(item(sku="A")))
    output = cli(str(feed), "--dry-run")
    assert "dry run" in output
    assert "created: 1" in output
    assert not Product.objects.exists()


def test_cli_exits_non_zero_for_a_malformed_document(tmp_path: Path) -> None:
    feed = tmp_path / "shop.xml"
    feed.write_bytes(rss(item(sku="A"))[:-20])
    with pytest.raises(CommandError) as caught:
        cli(str(feed))
    assert caught.value.returncode == 1
    assert "truncated or malformed document" in str(caught.value)
    assert "line" in str(caught.value)
    assert not Product.objects.exists()


def test_cli_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        cli(str(tmp_path / "nope.xml"))
