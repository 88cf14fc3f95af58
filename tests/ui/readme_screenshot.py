"""The README's picture of the Lineage panel (docs/lab-panel.png), taken from a real JupyterLab.

    python -m tests.ui.readme_screenshot [--out docs/lab-panel.png] [--sidebar 820]

Runs a small flights notebook, widens the right sidebar to ``--sidebar`` pixels (a user drags
it wider to read a bigger graph), expands two datasets' columns and selects one.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from .labpage import PANEL, open_notebook, open_panel, run_all, wait_datasets, write_notebook
from .labserver import CHROMIUM, CHROMIUM_ARGS, ROOT, LabServer

CELLS = [
    "%load_ext sqlweave",
    "import pandas as pd\n"
    'flights = pd.DataFrame({"carrier": ["AA", "UA", "AA"], "dep_delay": [5, 20, 0],'
    ' "origin": ["JFK", "SFO", "JFK"]})',
    "%%sql\nCREATE TABLE airports AS SELECT 'JFK' AS code, 'New York' AS city\n"
    "UNION ALL SELECT 'SFO', 'San Francisco'",
    "%%sql\nCREATE TABLE delays AS\n"
    "SELECT f.carrier, f.dep_delay, a.city FROM flights f JOIN airports a ON f.origin = a.code\n"
    "WHERE f.dep_delay > 0",
    "%%sql\nCREATE TABLE by_carrier AS\n"
    "SELECT carrier, avg(dep_delay) AS avg_delay FROM delays GROUP BY carrier",
    "%%sql\nCREATE TABLE by_city AS\nSELECT city, count(*) AS n FROM delays GROUP BY city",
    "%%sql\nSELECT * FROM by_carrier ORDER BY avg_delay DESC;\nSELECT count(*) AS n FROM delays",
]


def take(out: Path, sidebar_px: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root, home = Path(tmp) / "root", Path(tmp) / "home"
        root.mkdir()
        home.mkdir()
        write_notebook(root, "flights.ipynb", CELLS)
        server = LabServer(root, home)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1700, "height": 800})
                page.set_default_timeout(120_000)
                open_notebook(page, server.lab_url("flights.ipynb"))
                open_panel(page)
                run_all(page)
                wait_datasets(page, {"flights", "airports", "delays", "by_carrier", "by_city"})
                # drag the sidebar's edge to the left, as a user widens it
                edge = page.locator(PANEL).bounding_box()
                y = edge["y"] + edge["height"] / 2
                page.mouse.move(edge["x"] - 2, y)
                page.mouse.down()
                page.mouse.move(1700 - sidebar_px, y, steps=8)
                page.mouse.up()
                page.wait_for_selector(f"{PANEL} .sqlweave-canvas[data-layout='exact']")
                for name in ("delays", "by_carrier"):
                    node = page.locator(f"{PANEL} [data-kind='dataset'][data-name='{name}']")
                    node.locator(".sqlweave-toggle").click()
                    page.wait_for_selector(
                        f"{PANEL} [data-kind='dataset'][data-name='{name}'] .sqlweave-column"
                    )
                page.wait_for_selector(f"{PANEL} .sqlweave-canvas[data-layout='exact']")
                page.locator(
                    f"{PANEL} [data-kind='dataset'][data-name='delays'] .sqlweave-label"
                ).click()
                page.wait_for_selector(".jp-Cell.sqlweave-flash", state="detached")
                # the view followed the last cell run; scroll back to the sources, as a reader
                page.locator(f"{PANEL} .sqlweave-canvas").evaluate("c => { c.scrollLeft = 0; }")
                news = page.locator(".jp-toast-button", has_text="No")
                if news.count():
                    news.first.click()  # Lab's "get notified about news?" toast
                    page.wait_for_selector(".Toastify__toast", state="detached")
                page.mouse.move(0, 0)
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "lab-panel.png")
    parser.add_argument("--sidebar", type=int, default=1120, help="right sidebar width, px")
    args = parser.parse_args()
    take(args.out, args.sidebar)
    print(args.out)


if __name__ == "__main__":
    main()
