"""The operations page in real headless Chromium (Debian's /usr/bin/chromium driven by playwright).

Loads the page from a real ``tablemend serve``, finds a seeded doctor finding highlighted on the timeline, runs
plan → repair (through the confirmation dialog), sees the finding gone, and undo bring it back; opens a booking
with the keyboard; checks the page at 1280×800 and at phone width. Screenshots go to $TABLEMEND_SCREENSHOTS (or a
pytest tmp dir).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tablemend import db
from tests.api.conftest import DAY, Api, _build, seed_expired_hold
from tests.api.server import serve
from tests.conftest import TemplateFactory

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TABLEMEND_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _show(page: Page, url: str, key: str, restaurant_name: str) -> None:
    page.goto(url)
    page.get_by_label("API key").fill(key)
    page.get_by_label("Day").fill(DAY.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#timeline")).to_be_visible()
    page.get_by_label("Restaurant").select_option(label=restaurant_name)
    expect(page.locator("#timeline h2")).to_contain_text(restaurant_name)


def test_plan_repair_undo_in_chromium(templates: TemplateFactory, shots: Path) -> None:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (.ci/run does)"
    with templates.database("api", _build) as dsn, serve(dsn) as server:
        with db.connect(dsn, autocommit=True) as conn:
            restaurant = conn.execute("SELECT id, name FROM restaurants ORDER BY name, id LIMIT 1").fetchone()
        assert restaurant is not None
        seeded = seed_expired_hold(Api(None, None, dsn, {}, [restaurant["id"]]), restaurant["id"])  # type: ignore[arg-type]
        hold_bar = f'.bar.hold[data-hold="{seeded["hold_id"]}"]'
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                _show(page, server.url, server.admin_key, restaurant["name"])
                bar = page.locator(hold_bar)
                expect(bar).to_have_class("bar hold finding")  # the seeded finding, highlighted in red
                assert page.locator(f'.row.finding-row[data-table="{seeded["table_id"]}"]').count() == 1
                item = page.locator(".finding-item", has_text="TMD019")
                expect(item).to_have_count(1)
                page.screenshot(path=str(shots / "1-finding-highlighted.png"), full_page=True)

                item.get_by_role("button", name="Plan repair…").click()
                dialog = page.locator("#plan-dialog")
                expect(dialog).to_be_visible()
                expect(page.locator("#plan-changes li")).to_have_count(2)  # the hold and its member
                expect(dialog).to_contain_text("table_holds")
                page.screenshot(path=str(shots / "2-plan-dialog.png"))
                page.get_by_role("button", name="Apply repair").click()

                undo = page.get_by_role("button", name="Undo")
                expect(undo).to_be_visible()
                expect(page.locator(hold_bar)).to_have_count(0)  # repaired: the expired hold is retired
                expect(page.locator(".finding-item", has_text="TMD019")).to_have_count(0)
                page.screenshot(path=str(shots / "3-repaired.png"), full_page=True)

                undo.click()
                expect(page.locator("#status")).to_contain_text("undone")
                expect(page.locator(hold_bar)).to_have_class("bar hold finding")  # undo brought it back
                expect(page.locator(".finding-item", has_text="TMD019")).to_have_count(1)
                page.screenshot(path=str(shots / "4-undone.png"), full_page=True)

                booking_bar = page.locator(".bar[data-booking]:not(.hold)").first
                booking_bar.focus()
                page.keyboard.press("Enter")  # keyboard, not the mouse
                expect(page.locator("#booking")).to_contain_text("Explain")
                expect(page.locator("#booking")).to_contain_text("Tables")
                page.screenshot(path=str(shots / "5-booking-panel.png"))

                phone = browser.new_page(viewport={"width": 390, "height": 844})
                _show(phone, server.url, server.admin_key, restaurant["name"])
                expect(phone.locator(hold_bar)).to_have_class("bar hold finding")
                overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0  # the timeline scrolls inside its zone, the page does not
                phone.screenshot(path=str(shots / "6-phone.png"), full_page=True)
            finally:
                browser.close()
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "1-finding-highlighted.png", "2-plan-dialog.png", "3-repaired.png", "4-undone.png", "5-booking-panel.png",
        "6-phone.png"]
