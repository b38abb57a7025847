"""The files the README tells people to try do what it says."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from pricewatch.catalog.models import Product
from tests.services import ROOT

pytestmark = pytest.mark.django_db


def test_the_readme_sample_feed_imports_ten_products_and_rejects_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed = ROOT / "examples" / "sample-feed.xml"
    assert (
        f"pricewatch import-feed {Path('examples/sample-feed.xml')}"
        in (ROOT / "README.md").read_text()
    )

    call_command("import-feed", str(feed))

    assert Product.objects.count() == 10
    assert set(Product.objects.values_list("brand", flat=True)) == {"Hydra", "Acme", "Trailhead"}
    tent = Product.objects.select_related("offer").get(sku="TNT-2P")
    assert tent.offer.price == Decimal("129.00")  # the sale price is what a buyer pays
    output = capsys.readouterr()
    assert "BROKEN-1" in output.out + output.err
