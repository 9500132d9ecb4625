"""The HTML report opened as a reader opens it: in a real headless Chromium.

Every figure must load (an image that fails to decode has naturalWidth 0) and the page
must log no console error. Runs where Debian's ``chromium`` is installed; with
``ENERGY_ROUTING_REQUIRE_BROWSER=1`` (as in CI) a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest

from energy_routing.stages import registry

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root in a sandbox, without the background services a closed network refuses.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("ENERGY_ROUTING_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_report(browser, path):
    """Load ``path``; return its images' (alt, complete, naturalWidth) and console errors."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    images = page.evaluate(
        "() => Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
    )
    title = page.title()
    page.close()
    return title, images, errors


def test_report_of_tiny_run_shows_every_figure(browser, tiny_run):
    title, images, errors = open_report(browser, tiny_run / "results" / "report.html")
    assert title == "Energy-aware routing: summary report"
    assert errors == []
    assert len(images) == len(registry.FIGURES)
    assert all(complete and width > 100 for _, complete, width in images), images
    assert {alt.split(" (")[0] for alt, _, _ in images} == {f.title for f in registry.FIGURES}


#: In the page: the answers section's place, its items' links, every in-page link's target.
OPENING = """() => {
  const top = (el) => el.getBoundingClientRect().top + window.scrollY;
  const h2 = Array.from(document.querySelectorAll('h2'));
  const answers = document.getElementById('answers');
  const items = answers ? answers.nextElementSibling.querySelectorAll(':scope > li') : [];
  return {
    first: h2.slice(0, 2).map((h) => h.id),
    answersTop: answers ? top(answers) : null,
    screen: window.innerHeight,
    ordered: h2.every((h, i) => i === 0 || top(h2[i - 1]) < top(h)),
    items: Array.from(items).map((li) => li.querySelectorAll('a[href^="#"]').length),
    broken: Array.from(document.querySelectorAll('a[href^="#"]'))
      .map((a) => a.getAttribute('href').slice(1))
      .filter((id) => !document.getElementById(decodeURIComponent(id))),
    contents: document.getElementById('contents').nextElementSibling
      .querySelectorAll('a[href^="#"]').length,
    sections: document.querySelectorAll('h2, h3').length,
  };
}"""


def test_report_opens_with_its_answers(browser, tiny_run):
    """A first-time reader sees the answers on the first screen, above the contents; every
    answer links to its section and every in-page link lands on a heading."""
    page = browser.new_page()
    page.goto((tiny_run / "results" / "report.html").as_uri(), wait_until="load")
    got = page.evaluate(OPENING)
    page.close()
    assert got["first"] == ["answers", "contents"]
    assert got["answersTop"] < got["screen"]
    assert got["ordered"]
    assert len(got["items"]) >= 4 and all(n == 1 for n in got["items"]), got["items"]
    assert got["broken"] == []
    # the contents list every h2/h3 but the two opening ones
    assert got["contents"] == got["sections"] - 2


def test_report_of_single_model_run(browser, single_run):
    """No sweep and no studies: their figures are absent, the others load."""
    _, images, errors = open_report(browser, single_run / "results" / "report.html")
    assert errors == []
    shown = {alt.split(" (")[0] for alt, _, _ in images}
    expected = {f.title for f in registry.FIGURES if f.scope != "sweep" and not f.activate}
    assert shown == expected
    assert all(complete and width > 100 for _, complete, width in images), images
