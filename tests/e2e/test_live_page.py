"""The classroom page (`/live` on Locust's web UI) in headless Chromium: it shows the
gateway's breaker and the fault in force, and its Cut / Restore buttons really cut and
restore the platform through the control API."""
import os
import shutil
import subprocess
import sys

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, ROOT, Proc, free_port, start_gateway, start_platform, wait_http

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240),
              pytest.mark.skipif(not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
                                 reason="Debian's chromium and chromium-driver are not installed "
                                        "(apt-get install -y chromium chromium-driver)")]


@pytest.fixture
def live_url(tmp_path):
    platform = start_platform(tmp_path)
    gateway = locust = None
    try:
        gateway = start_gateway(tmp_path, platform.url)
        port = free_port()
        log_path = tmp_path / "locust-ui.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", gateway.url,
                 "--web-host", "127.0.0.1", "--web-port", str(port), "--scenario", "classroom",
                 "--peak-users", "4",
                 "--platform-url", platform.url, "--control-url", platform.extra["control"],
                 "--beneficiaries", str(platform.extra["beneficiaries"])],
                cwd=ROOT, env={**os.environ, "SIM_ADMIN_TOKEN": ADMIN_TOKEN}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        locust = Proc(proc, f"http://127.0.0.1:{port}", log_path)
        wait_http(locust.url + "/live", 60)
        yield locust.url + "/live", platform
    finally:
        for p in (locust, gateway, platform):
            if p:
                p.stop()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text_becomes(driver, element_id, wanted, timeout_s=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout_s).until(lambda d: d.find_element(By.ID, element_id).text == wanted,
                                           f"#{element_id} never showed {wanted!r}")


def text_leaves(driver, element_id, unwanted, timeout_s=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout_s).until(lambda d: d.find_element(By.ID, element_id).text not in unwanted,
                                           f"#{element_id} stayed in {unwanted!r}")


def test_cut_and_restore_from_the_live_page(live_url, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, platform = live_url
    assert requests.post(url.removesuffix("/live") + "/swarm", data={}, timeout=10).json()["success"]
    browser.get(url)
    text_becomes(browser, "fault", "up")
    text_becomes(browser, "breaker", "closed")
    text_becomes(browser, "phase", "open")
    text_leaves(browser, "online", ("–", "0.0"))  # four users at work, answered online
    assert browser.find_element(By.ID, "resilience").text == "full"
    assert browser.find_element(By.ID, "pending").text == "0"

    browser.find_element(By.ID, "cut").click()
    text_becomes(browser, "fault", "down")
    with pytest.raises(requests.ConnectionError):  # the platform really refuses connections now
        requests.get(platform.url + "/healthz", timeout=2)
    text_becomes(browser, "breaker", "open")  # the gateway noticed
    assert "applied" in browser.find_element(By.ID, "message").text
    text_leaves(browser, "offline", ("–", "0.0"))  # the shops now get the offline stand-in
    text_leaves(browser, "pending", ("–", "0"))  # ...and every acceptance is journaled
    assert browser.find_element(By.ID, "failed").text == "0.0"  # offline answers are right answers
    shot = tmp_path / "live-page-cut.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    browser.find_element(By.ID, "restore").click()
    text_becomes(browser, "fault", "up")
    wait_http(platform.url + "/healthz", 10)
    text_becomes(browser, "breaker", "closed")


def test_the_fault_route_accepts_only_the_pages_buttons(live_url):
    url, _ = live_url
    r = requests.post(url + "/fault", json={"fault": "blackhole"}, timeout=5)
    assert r.status_code == 400 and "fault must be one of" in r.json()["error"]
    state = requests.get(url + "/state", timeout=5).json()
    assert state["gateway"] is True and state["control"] is True and state["scenario"] == "classroom"
