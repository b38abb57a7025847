"""Forms of the catalog pages: the list's filters (GET) and the admins' feed upload."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat

from pricewatch.catalog.filters import FACET_FIELDS

# The sort choices the page offers (a whitelist of the API's ordering names).
SORTS: Final = (
    ("-created", "Newest first"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("title", "Name: A to Z"),
    ("-title", "Name: Z to A"),
    ("brand", "Brand"),
)
DEFAULT_SORT: Final = "-created"
ACCEPTED_FILES: Final = ".xml,.rss,.atom,application/xml,text/xml"
MAX_VALUES_PER_FACET: Final = 50
MAX_VALUE_LENGTH: Final = 750


class CatalogFilterForm(forms.Form):
    """The list's query string. Facet values are read with `facet_values` (repeated keys)."""

    q = forms.CharField(label="Search", max_length=200, required=False, strip=True)
    price_min = forms.DecimalField(
        label="Min price", min_value=Decimal(0), max_digits=18, decimal_places=4, required=False
    )
    price_max = forms.DecimalField(
        label="Max price", min_value=Decimal(0), max_digits=18, decimal_places=4, required=False
    )
    sort = forms.ChoiceField(label="Sort by", choices=SORTS, required=False)
    page = forms.IntegerField(min_value=1, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "The maximum price is below the minimum price.")
        return data


def facet_values(query: QueryDict) -> dict[str, tuple[str, ...]]:
    """The ticked values of every facet; `colour` is accepted for `color` (as in the API)."""
    chosen: dict[str, tuple[str, ...]] = {}
    for name in FACET_FIELDS:
        raw = query.getlist(name) + (query.getlist("colour") if name == "color" else [])
        values = [value.strip()[:MAX_VALUE_LENGTH] for value in raw if value.strip()]
        chosen[name] = tuple(dict.fromkeys(values))[:MAX_VALUES_PER_FACET]
    return chosen


class FeedUploadForm(forms.Form):
    file = forms.FileField(
        label="Feed file",
        help_text="A Google Merchant feed: RSS 2.0 or Atom XML.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xml,.rss,.atom,application/xml,text/xml"}
        ),
    )
    dry_run = forms.BooleanField(
        label="Dry run: check the feed and report, change nothing",
        required=False,
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        limit = int(settings.MAX_UPLOAD_BYTES)
        if upload.size is not None and upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; feeds can be at most "
                f"{filesizeformat(limit)}."
            )
        if not looks_like_xml(upload):
            raise forms.ValidationError(
                "This is not an XML feed. Upload the feed as an .xml file (RSS 2.0 or Atom), "
                "as Google Merchant Center exports it."
            )
        return upload


def looks_like_xml(upload: UploadedFile) -> bool:
    """Whether the file starts like an XML document: "<" after white space (and a UTF-8 BOM).

    UTF-16 documents (with their BOM) are left to the parser, which reads them.
    """
    head = upload.read(1024)
    upload.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")
