"""The HTML reports of a reproduction and of a load spec (from `make demo`) open in real headless
Chromium (Debian's package): no console errors, nothing fetched from elsewhere, every table
there, and every plot drawn, judged on the screenshot's pixels."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
# matplotlib's tab:blue, tab:orange, tab:green, tab:red: at least two are drawn on every plot
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "scripts/system-deps.sh installs Debian's chromium"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def _open(context, page_path: Path):
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    url = page_path.resolve().as_uri()
    page.on("request", lambda r: problems.append(f"fetched {r.url}") if r.url != url else None)
    page.goto(url, wait_until="load")
    return page, problems


def _colour_pixels(png: bytes) -> dict[tuple[int, int, int], int]:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    counts = {c: 0 for c in PALETTE}
    for px, n in img.getcolors(maxcolors=img.width * img.height):
        for c in PALETTE:
            if sum(abs(a - b) for a, b in zip(n, c)) <= 24:
                counts[c] += px
    return counts


def _check_plots(page, names: list[str]) -> None:
    figures = page.locator("figure.plot")
    assert figures.count() == len(names)
    for i, name in enumerate(names):
        fig = figures.nth(i)
        assert fig.get_attribute("id") == f"plot-{name}"
        box = fig.locator("svg").bounding_box()
        assert box and box["width"] > 500 and box["height"] > 150, (name, box)
        shot = fig.locator("svg").screenshot()
        img = Image.open(io.BytesIO(shot)).convert("L")
        dark = sum(img.histogram()[:128]) / (img.width * img.height)
        assert dark > 0.005, (name, dark)  # axes, ticks and text were painted
        coloured = [c for c, n in _colour_pixels(shot).items() if n >= 40]
        assert len(coloured) >= 2, (name, _colour_pixels(shot))  # the data were painted, in colour


def test_reproduction_report(browser, demo_runs):
    folder = demo_runs[80].folder / "reproduction"
    doc = json.loads((folder / "report.json").read_text())
    page, problems = _open(browser, folder / "report.html")
    assert page.title().startswith("Reproduction: 003-cardgenius")
    assert page.locator("#speed-table tbody tr").count() == len(doc["points"])
    assert page.locator("#latency-table tbody tr").count() == len(doc["points"])
    assert page.locator("#claims-table tbody tr").count() == len(doc["claims"])
    assert page.locator("#claims-table tr.contradicted").count() == doc["claims_summary"]["contradicted"]
    first = doc["claims"][0]
    assert first["arithmetic"] in page.locator("#claims-table").inner_text()
    _check_plots(page, ["time", "throughput", "latency"])
    page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
    assert not problems, problems


def test_load_spec_report(browser, demo_runs):
    folder = demo_runs[80].folder / "loadspec"
    md = (folder / "LOAD_SPEC.md").read_text()
    spec = json.loads((folder / "load_spec.json").read_text())
    page, problems = _open(browser, folder / "report.html")
    assert page.title() == f"Load spec: {spec['scenario']} against {spec['partner']}"
    tables = len(re.findall(r"^\| ---", md, flags=re.M))
    assert tables >= 3 and page.locator(".load-spec table").count() == tables
    text = page.locator(".load-spec").inner_text()
    assert "Sustained request rate" in text and "7.4 req/s" in text
    assert page.locator("#partner-notice").inner_text().strip() == (folder / "partner_notice.txt").read_text().strip()
    _check_plots(page, ["load", "claims"])
    page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
    assert not problems, problems
