"""What a product list or a facet count is narrowed to: shared by `selectors` and `facet_index`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

# Facets: every one a column of the product, but availability, which is its offer's.
FACET_FIELDS: Final = ("brand", "category", "gender", "condition", "availability", "color", "size")


@dataclass(frozen=True, slots=True)
class ProductFilters:
    """What a list or a facet count is narrowed to. Empty tuples do not filter.

    Values of one field are alternatives (OR); different fields must all match (AND).
    Availability values are the feed's (`in_stock`, ...), as the API shows them.
    `active=None` means active and inactive products alike.
    """

    brand: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    gender: tuple[str, ...] = ()
    condition: tuple[str, ...] = ()
    availability: tuple[str, ...] = ()
    color: tuple[str, ...] = ()
    size: tuple[str, ...] = ()
    sku: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    q: str = ""
    active: bool | None = True

    def without(self, facet: str) -> ProductFilters:
        cleared: dict[str, Any] = {facet: ()}
        return replace(self, **cleared)

    def cache_key(self) -> str:
        parts = [f"{name}={sorted(getattr(self, name))!r}" for name in (*FACET_FIELDS, "sku")]
        parts += [f"min={self.price_min}", f"max={self.price_max}", f"q={self.q!r}"]
        parts.append(f"active={self.active}")
        return "|".join(parts)
