"""The HTML report: parses, self-contained, names escaped, figures embedded; opens in Chromium."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import HOSTILE_NAME
from weightlens import AnalysisOptions, analyze
from weightlens.render.html import html_report, styled
from weightlens.render.json import render_json
from weightlens.render.table import alpha_text
from weightlens.report.io import read_report


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def full_report(layered_checkpoint: Path):  # type: ignore[no-untyped-def]
    return analyze(layered_checkpoint, AnalysisOptions(full_spectrum=True))


@pytest.fixture(scope="module")
def full_page(full_report) -> str:  # type: ignore[no-untyped-def]
    return html_report(full_report)


def test_page_is_self_contained(full_page: str) -> None:
    page = parse(full_page)
    assert not page.of("script") and not page.of("link") and not page.of("iframe")
    for tag, attrs in page.tags:
        for key, value in attrs.items():
            if key in ("src", "href", "action", "poster", "srcset"):
                assert value is not None and (value.startswith("data:image/") or value.startswith("#")), (tag, key, value[:40] if value else value)
    assert "url(" not in full_page and "@import" not in full_page
    assert "http://" not in full_page.replace("http://www.w3.org/", "")  # only XML namespaces, inside the SVG data
    csp = [a for a in page.of("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in str(csp[0]["content"])


def test_figures_are_embedded_svg(full_page: str) -> None:
    page = parse(full_page)
    images = page.of("img")
    assert len(images) == 1 + 8  # overview + one per analyzed matrix
    for img in images:
        src = str(img["src"])
        assert src.startswith("data:image/svg+xml;base64,")
        root = ET.fromstring(base64.b64decode(src.split(",", 1)[1]))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    details = page.of("details")
    assert len(details) == 8
    anchors = {a["href"] for a in page.of("a")}
    assert anchors == {f"#{d['id']}" for d in details}


def test_names_are_escaped(full_page: str) -> None:
    page = parse(full_page)
    assert not page.of("script")
    text = "".join(page.text)
    assert HOSTILE_NAME in text
    assert "weightlens report" in text and "Metrics by layer depth" in text


def test_saved_report_without_spectra_gives_overview_and_note(full_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(render_json(full_report))
    for t in doc["tensors"]:
        t.pop("sigma", None)
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(doc))
    page = parse(html_report(read_report(saved)))
    assert len(page.of("img")) == 1 and not page.of("details")
    assert "saved without --full-spectrum" in "".join(page.text)


def test_styled_cells() -> None:
    from weightlens.report.records import TensorRecord

    rec = TensorRecord("w", "f", "F32", (4, 4), 16, "matrix", (4, 4), metrics={"alpha": 7.5, "alpha_quality": "few_tail_points"})
    assert styled(alpha_text(rec)) == '<span class="warn">7.50</span><span class="dim warn">?</span>'
    assert styled("<b>") == "&lt;b&gt;"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_opens_in_headless_chromium_without_console_errors(full_page: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(full_page, encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    run = subprocess.run(
        [str(CHROMIUM), *flags, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Content Security Policy" in line]
    assert console == []
    dom = parse(run.stdout)
    assert len(dom.of("img")) == 9 and HOSTILE_NAME in "".join(dom.text)
