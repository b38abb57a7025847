"""Tests for the `pricewatch extract` command-line entry point (no database)."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pricewatch.tracking import extract_cli

PAGE = """<html lang="de"><head><title>Lampe | Shop</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
"name": "Lampe", "offers": {"@type": "Offer", "price": "49.90", "priceCurrency": "EUR",
"availability": "https://schema.org/InStock"}}</script></head>
<body><h1>Lampe</h1><p class="price"><del>59,90 €</del> 49,90 €</p></body></html>"""


@pytest.fixture
def pages(tmp_path: Path) -> tuple[Path, Path]:
    plain = tmp_path / "lamp.html"
    plain.write_text(PAGE, encoding="utf-8")
    packed = tmp_path / "lamp.html.gz"
    packed.write_bytes(gzip.compress(PAGE.encode("utf-8")))
    return plain, packed


def run_jsonl(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> tuple[int, list[dict], str]:
    stdin, stdout, stderr = io.StringIO("\n".join(lines) + "\n"), io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    code = extract_cli.main(["--jsonl"])
    rows = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]
    return code, rows, stderr.getvalue()


def test_jsonl_mode_reads_html_and_gzip(
    monkeypatch: pytest.MonkeyPatch, pages: tuple[Path, Path]
) -> None:
    # given JSON lines naming a plain and a gzipped page
    plain, packed = pages
    lines = [json.dumps({"path": str(p), "url": "https://shop.example.de/lampe"}) for p in pages]

    # when running the JSON-lines mode
    code, rows, _ = run_jsonl(monkeypatch, lines)

    # then one result line per page comes back, with the documented fields
    assert code == 0
    assert [row["path"] for row in rows] == [str(plain), str(packed)]
    for row in rows:
        assert row["price"] == "49.90"
        assert row["currency"] == "EUR"
        assert row["availability"] == "InStock"
        assert row["method"] == "json-ld"
        assert 0 < row["confidence"] <= 1


def test_jsonl_mode_reports_unreadable_lines_and_keeps_going(
    monkeypatch: pytest.MonkeyPatch, pages: tuple[Path, Path], tmp_path: Path
) -> None:
    # given a bad JSON line, a missing file and a good page
    missing = tmp_path / "nope.html"
    lines = ["not json", json.dumps({"path": str(missing)}), json.dumps({"path": str(pages[0])})]

    # when running
    code, rows, errors = run_jsonl(monkeypatch, lines)

    # then the good page is still answered, the missing one answered with no price, exit 1
    assert code == 1
    assert rows[0]["path"] == str(missing) and rows[0]["price"] is None
    assert rows[1]["price"] == "49.90"
    assert "line 1" in errors and "cannot read" in errors


def test_human_mode_prints_a_summary(
    capsys: pytest.CaptureFixture[str], pages: tuple[Path, Path]
) -> None:
    # when describing a saved page
    code = extract_cli.main([str(pages[1]), "--url", "https://shop.example.de/lampe"])

    # then price, regular price, availability and method are shown
    out = capsys.readouterr().out
    assert code == 0
    assert "49.90 EUR" in out
    assert "InStock" in out
    assert "json-ld" in out


def test_urls_are_refused_with_a_pointer_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    # when given a URL
    code = extract_cli.main(["https://shop.example.com/p/1"])

    # then nothing is fetched and the user is told where fetching happens
    assert code == 2
    assert "pricewatch check" in capsys.readouterr().err


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert extract_cli.main([]) == 2
    assert "usage" in capsys.readouterr().err.lower()


def test_runs_as_a_module(pages: tuple[Path, Path]) -> None:
    # given the module run the way score.py runs it
    request = json.dumps({"path": str(pages[1]), "url": "https://shop.example.de/lampe"})

    # when piping one JSON line through `python -m`
    proc = subprocess.run(
        [sys.executable, "-m", "pricewatch.tracking.extract_cli", "--jsonl"],
        input=request + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )

    # then it answers with one JSON line
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.strip())
    assert row["price"] == "49.90"
