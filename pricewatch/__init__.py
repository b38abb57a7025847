"""pricewatch: a self-hostable product catalog and price-monitoring platform."""

__version__ = "0.1.0"
