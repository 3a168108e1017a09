"""`docsbot map`: the questions and the doc sections around them in 2-D, one self-contained HTML page, opened in
real headless Chromium from the file alone with every network request refused: it renders, it draws one marker
per point of the data, and a screenshot is taken.

Needs the Debian packages `chromium chromium-driver` (scripts/system_deps.sh), like tests/sources/site/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try the network

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait
from typer.testing import CliRunner

from docsbot.cli.common import CliDeps
from docsbot.cli.main import app
from docsbot.learning.map import DOC, MapPoint, project, render_map

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RENDER_TIMEOUT_S = 60  # an upper bound on a loaded machine; the wait ends as soon as the plot is drawn


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    binary = os.environ.get("DOCSBOT_CHROMIUM") or shutil.which("chromium")
    driver_path = os.environ.get("DOCSBOT_CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("headless Chromium is needed: install the Debian packages chromium chromium-driver")
    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--disable-gpu", "--window-size=1280,900", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    # Every network request goes to a proxy that is not there: the page must need none.
    options.add_argument("--proxy-server=http://127.0.0.1:9")
    options.add_argument("--proxy-bypass-list=<-loopback>")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def drawn_markers(driver: webdriver.Chrome) -> int:
    count: int = driver.execute_script("return document.querySelectorAll('#docsbot-map .scatterlayer .point').length")
    return count


def test_the_map_opens_offline_and_draws_every_point(
    simulated: dict[str, str], tmp_path: Path, chromium: webdriver.Chrome
) -> None:
    obj = CliDeps(clock=lambda: NOW)
    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["map", "--collection", "demo", "--out", str(out)], env=simulated, obj=obj)
    assert result.exit_code == 0, result.output
    found = re.search(r"map of (\d+) questions and (\d+) doc sections", result.stdout)
    assert found is not None, result.stdout
    questions, sections = int(found.group(1)), int(found.group(2))
    assert questions == 3 and sections > 0

    html = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inlined: nothing to fetch

    chromium.get(out.as_uri())
    WebDriverWait(chromium, RENDER_TIMEOUT_S).until(lambda d: drawn_markers(d) > 0)
    assert drawn_markers(chromium) == questions + sections
    data_points = chromium.execute_script(
        "return document.getElementById('docsbot-map').data.reduce((n, t) => n + t.x.length, 0)"
    )
    assert data_points == questions + sections
    legend = chromium.execute_script("return document.querySelector('#docsbot-map .legend').textContent")
    assert "not found (1)" in legend and "solved by a person (1)" in legend and "answered (1)" in legend
    fetched = chromium.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith('file:') && !n.startsWith('data:') && !n.startsWith('blob:'))"
    )
    assert fetched == []
    shot = tmp_path / "map.png"
    assert chromium.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_hover_texts_are_escaped_and_only_web_links_open() -> None:
    points = [
        MapPoint(DOC, "Reducers › Rules", "https://redux.js.org/faq/reducers#rules"),
        MapPoint("not_found", "<img src=x onerror=alert(1)> flutter?", ""),
    ]
    placed = project(points, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert placed[0].x != placed[1].x or placed[0].y != placed[1].y
    html = render_map(placed, title="<b>t</b>")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "/^https?:\\/\\//i.test(link)" in html  # clicks open http(s) links only
