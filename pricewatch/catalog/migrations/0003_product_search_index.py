"""Full-text search index for products on PostgreSQL (an expression index: no stored column).

The expression must stay the one `pricewatch.catalog.selectors._TextMatch` renders, or the
planner will not use the index (tests/catalog/test_api_search.py checks it on PostgreSQL).
SQLite has no such index; the search there falls back to substring matching.
"""

from django.db import migrations

# Hyphens, dots, slashes and underscores become spaces first, as the search splits its words on
# them too: the parser would read "LAMP-9" as "lamp" and the number "-9".
SEARCH_VECTOR = (
    "to_tsvector('simple'::regconfig, translate(title || ' ' || brand || ' ' || sku || ' ' || "
    "gtin || ' ' || description, '-./_,', '     '))"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS product_search ON catalog_product USING GIN (({SEARCH_VECTOR}))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS product_search")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_api_indexes_and_notices")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
