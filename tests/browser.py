"""Render an HTML page in headless Chromium (Debian's ``chromium``) and read back what it shows.

:func:`inspect_page` loads a copy of the page with a small checker script added, lets the browser
lay it out, and returns what the browser saw: every image (decoded size), every section (its
heading and the amount of text and images under it) and every heading. :func:`screenshot`
writes the page as the browser draws it to a PNG. Where Chromium is missing, :func:`chromium`
skips the test with the reason, except when ``FLEXSPIM_BROWSER_TESTS=required`` (set by
``.ci/run``, which installs Chromium), where a missing browser fails the test.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

#: Flags that let Chromium run headless as root on a machine without a display, D-Bus or network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--disable-dev-shm-usage")

_CHECKER = """
<script>
window.addEventListener("load", () => {
  const out = {images: [], sections: [], headings: []};
  for (const img of document.images) {
    out.images.push({alt: img.alt, width: img.naturalWidth, height: img.naturalHeight,
                     complete: img.complete});
  }
  for (const s of document.querySelectorAll("section")) {
    const h = s.querySelector("h2");
    const text = s.innerText.replace(h ? h.innerText : "", "").trim();
    out.sections.push({id: s.id, heading: h ? h.innerText : null, text: text.length,
                       images: s.querySelectorAll("img").length});
  }
  for (const h of document.querySelectorAll("h1, h2, h3")) out.headings.push(h.innerText);
  const pre = document.createElement("pre");
  pre.id = "browser-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def chromium() -> str:
    """The Chromium executable; skips (or, in CI, fails) the test where there is none."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    reason = ("headless Chromium is not installed (apt-get install chromium); the report is "
              "not rendered in a browser")
    if os.environ.get("FLEXSPIM_BROWSER_TESTS") == "required":
        pytest.fail(reason + " although FLEXSPIM_BROWSER_TESTS=required")
    pytest.skip(reason)


def _run(args: list[str], timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="flexspim-chromium-") as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError(f"chromium exited with {out.returncode}: {out.stderr[-2000:]}")
    return out


def inspect_page(page: Path) -> dict[str, Any]:
    """What the browser shows of ``page``: ``images``, ``sections`` and ``headings``."""
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="flexspim-page-") as tmp:
        probe = Path(tmp) / "page.html"
        probe.write_text(text.replace("</body>", _CHECKER + "</body>"), encoding="utf-8")
        out = _run(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()])
    start = out.stdout.find('<pre id="browser-check">')
    if start < 0:
        raise AssertionError("the checker script did not run in the browser; DOM: "
                             + out.stdout[:500])
    body = out.stdout[start:].split(">", 1)[1].split("</pre>", 1)[0]
    return json.loads(html.unescape(body))


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 5000) -> Path:
    """Write the page as Chromium draws it (``width`` x ``height`` pixels) to ``png``."""
    _run([f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()])
    return png
