"""The web front end in a real browser (Debian's Chromium, driven by Selenium through Debian's
chromedriver): the Chairman asks for a sign-in link, reads it in the local mail sink, signs in,
approves the text on screen and sees the incident move; a unit acknowledges its task from the
link in its e-mail; stored markup stays inert. Each page is photographed at 1366×768 and at a
phone's width into build/screenshots/ (or $CRISISFLOW_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from crisisflow.app import App
from crisisflow.config import load_settings
from crisisflow.web import build

from .conftest import FakeClock, walk
from .web_support import RETURNED_UNCHANGED

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CRISISFLOW_SCREENSHOTS") or ROOT / "build" / "screenshots")
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
PAYLOAD = '<script>alert(1)</script> "><img src=x onerror=alert(2)> javascript:alert(3)'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, str]]:
    """The workspace served by uvicorn on a free port, its mail going to a local sink."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("CRISISFLOW_BASE_URL", base)
    app = App(load_settings(workspace), clock=FakeClock())
    sink = app.delivery.sink(port=0).start()
    monkeypatch.setenv("CRISISFLOW_SMTP_PORT", str(sink.port))
    app = App(load_settings(workspace), clock=app.clock)
    server = uvicorn.Server(
        uvicorn.Config(build(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield app, base
    finally:
        server.should_exit = True
        thread.join(10)
        sink.stop()
        app.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        missing = "Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):  # CI installs them: a browser test never silently skips there
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--lang=vi",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: webdriver.Chrome, condition: object) -> None:
    """Wait for a page the last click loads (a click returns before the page is there)."""
    WebDriverWait(driver, 15).until(condition)  # type: ignore[arg-type]


def photograph(driver: webdriver.Chrome, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        assert driver.get_screenshot_as_file(str(SHOTS / f"{name}-{label}.png"))
    driver.set_window_size(*SIZES["desktop"])


def no_script_ran(driver: webdriver.Chrome) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return
    text = alert.text
    alert.dismiss()
    pytest.fail(f"a script ran: alert {text!r}")


def mailed_link(app: App, to: str, pattern: str) -> str:
    """The newest link matching ``pattern`` in mail the sink received for ``to``."""
    app.delivery.dispatch()
    for stored in reversed(app.delivery.received()):
        if stored.to == to:
            found = re.search(pattern, _text(app, stored.key))
            if found:
                return found.group(0)
    raise AssertionError(f"no mail to {to} with a link like {pattern}")


def _text(app: App, key: str) -> str:
    message = app.delivery.received_message(key)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_chairman_signs_in_and_approves_in_a_browser(
    site: tuple[App, str], browser: webdriver.Chrome
) -> None:
    app, base = site
    ref = app.incidents.open("media-crisis", f"Sạt lở bờ kè {PAYLOAD}", actor=app.identify()).ref
    walk(app, ref, RETURNED_UNCHANGED)
    app.incidents.note(ref, f"Ghi chú {PAYLOAD}", actor=app.identify())
    browser.get(f"{base}/incidents/{ref}/statements/initial_info")
    assert "/sign-in" in browser.current_url
    photograph(browser, "01-sign-in")
    address = app.directory.people["chu-tich"].email
    browser.find_element(By.ID, "email").send_keys(address)
    browser.find_element(By.CSS_SELECTOR, "form.card button").click()
    wait(browser, until.presence_of_element_located((By.CSS_SELECTOR, "p[role=status]")))
    assert "15" in browser.find_element(By.TAG_NAME, "main").text
    photograph(browser, "02-sign-in-sent")
    link = mailed_link(app, address, r"http://127\.0\.0\.1:\d+/sign-in/\S+")
    browser.get(link)
    photograph(browser, "03-sign-in-confirm")
    browser.find_element(By.ID, "sign-in").click()
    wait(browser, until.url_contains("/statements/initial_info"))
    assert browser.current_url.endswith(f"/incidents/{ref}/statements/initial_info")
    # The text as it will be issued: header, "số sẽ cấp khi ban hành", the signer block.
    text = app.statements.show(ref, "initial_info")["document"]
    assert "(số sẽ cấp khi ban hành)/TC-UBND" in text and "Lê Văn An" in text
    shown = browser.find_element(By.ID, "text").text
    assert " ".join(text.split())[:200] in " ".join(shown.split())
    no_script_ran(browser)
    photograph(browser, "04-statement-to-approve")
    browser.get(f"{base}/incidents")
    assert (
        ref in browser.page_source
        and "<script>alert(1)</script>" in browser.find_element(By.TAG_NAME, "main").text
    )
    no_script_ran(browser)
    photograph(browser, "05-open-incidents")
    browser.get(f"{base}/incidents/{ref}")
    assert f"Ghi chú {PAYLOAD}" in browser.find_element(By.ID, "history").text
    no_script_ran(browser)
    photograph(browser, "06-incident")
    browser.get(f"{base}/incidents/{ref}/statements/initial_info")
    # He returned this very text before: approving it as it is takes a tick, which is kept.
    browser.find_element(By.ID, "approve").click()
    assert "done=approve" not in browser.current_url  # the browser asks for the tick first
    browser.find_element(By.NAME, "confirm_unchanged").click()
    browser.find_element(By.ID, "approve").click()
    wait(browser, until.url_contains("done=approve"))
    photograph(browser, "07-approved")
    shown = app.records.show(ref)
    assert shown["state"] == "approved"
    approval = shown["events"][-1]
    assert approval["actor"] == "chu-tich" and approval["data"]["via"] == "web-session"
    assert approval["data"]["statements"][0]["confirmed_unchanged"]["rejected_by"] == "chu-tich"


def test_a_unit_acknowledges_its_task_from_the_e_mailed_link(
    site: tuple[App, str], browser: webdriver.Chrome
) -> None:
    app, _base = site
    ref = app.incidents.open("media-crisis", "Tin đồn mất điện", actor=app.identify()).ref
    walk(app, ref, RETURNED_UNCHANGED[:2])  # triage, then ask the commune to verify
    unit = app.directory.units["ubnd-cua-tung"]
    link = mailed_link(app, unit.email, r"http://127\.0\.0\.1:\d+/ack/\S+")
    browser.get(link)
    assert app.records.show(ref)["events"][-1]["kind"] != "acknowledged"  # opening is not acking
    photograph(browser, "08-acknowledge")
    browser.find_element(By.ID, "acknowledge").click()
    wait(browser, until.presence_of_element_located((By.CSS_SELECTOR, "p[role=status]")))
    photograph(browser, "09-acknowledged")
    event = app.records.show(ref)["events"][-1]
    assert event["kind"] == "acknowledged" and event["data"]["via"] == "mail-link"
    browser.get(link)
    assert "used already" in browser.find_element(By.TAG_NAME, "main").text
