"""``aw-tui report``: the demo's page, rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tooling import on_ci

from aw_tui.report.page import write_report

matplotlib_image = pytest.importorskip("matplotlib.image")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    message = "headless Chromium is needed to render the report (apt-get install chromium)"
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def demo_run(demo_512_run) -> Path:
    """The session's finished 512 px demo (read only)."""
    return demo_512_run.folder


def test_every_plot_is_embedded_and_shows_something(demo_run: Path, tmp_path: Path) -> None:
    page = Path(write_report(str(demo_run / "work" / "log"), str(tmp_path / "report.html")))
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched from outside
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert any("SExtractor" in c for c in captions)  # the group of 3 exposures
    assert any("SCAMP" in c for c in captions) and any("PSFEx model" in c for c in captions)
    assert any("SWarp stack" in c for c in captions)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(captions) >= 4
    for data in images:
        pixels = matplotlib_image.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert float(np.std(pixels[..., :3])) > 0.01  # not a blank image
    # Every step is in the table with its status; the failed-free demo has no error row.
    assert text.count("<tr class=\"success") == 9


def test_a_browser_renders_the_page_with_every_plot(demo_run: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    page = Path(write_report(str(demo_run / "work" / "log"), str(tmp_path / "report.html")))
    figures = int(re.search(r'data-figures="(\d+)"', page.read_text()).group(1))
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--window-size=1280,1800"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    shown = re.search(r'data-figures-shown="(\d+)"', dom)
    assert shown and int(shown.group(1)) == figures, dom[:500]
    png = tmp_path / "report.png"
    subprocess.run([*common, f"--screenshot={png}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    pixels = matplotlib_image.imread(str(png))
    assert pixels.shape[:2] == (1800, 1280)
    assert float(np.std(pixels[..., :3])) > 0.05
