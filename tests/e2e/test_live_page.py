"""The classroom page in headless Chromium, on its own server beside Locust's web UI: Start
on the page sets the shops to work, Cut opens the breaker, Restore closes it, the rolling
chart moves; and no other web site can drive it (foreign Host, foreign Origin, no CSRF
token: 403, nothing changes)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, ROOT, Proc, free_port, locust_env, start_gateway, start_platform, wait_http

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
needs_browser = pytest.mark.skipif(not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
                                   reason="Debian's chromium and chromium-driver are not installed "
                                          "(apt-get install -y chromium chromium-driver)")
ACTIONS = [("/live/start", {}), ("/live/stop", {}), ("/live/fault", {"fault": "down"})]


@pytest.fixture
def live(tmp_path):
    platform = start_platform(tmp_path)
    gateway = locust = None
    try:
        gateway = start_gateway(tmp_path, platform.url)
        web_port, live_port = free_port(), free_port()
        log_path = tmp_path / "locust-ui.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", gateway.url,
                 "--web-port", str(web_port), "--live-port", str(live_port), "--scenario", "classroom",
                 "--peak-users", "4", "--platform-url", platform.url, "--control-url", platform.extra["control"],
                 "--beneficiaries", str(platform.extra["beneficiaries"])],
                cwd=ROOT, env={**os.environ, **locust_env(platform)}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        locust = Proc(proc, f"http://127.0.0.1:{web_port}", log_path)
        live_url = f"http://127.0.0.1:{live_port}/live"
        wait_http(live_url, 60)
        assert f"live page: {live_url}" in locust.log()
        yield live_url, locust.url, platform
    finally:
        for p in (locust, gateway, platform):
            if p:
                p.stop()


def session_of(url):
    s = requests.Session()
    page = s.get(url, timeout=5)
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    return s, token


def fault_now(platform):
    r = requests.get(platform.extra["control"] + "/v1/faults", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                     timeout=5)
    return r.json()["current"]["mode"]


def test_no_other_site_can_drive_the_page(live):
    url, web_url, platform = live
    origin, host = url.removesuffix("/live"), url.split("/")[2]
    s, token = session_of(url)
    good = {"X-CSRF-Token": token, "Origin": origin}
    for path, body in ACTIONS:
        target = origin + path
        for headers in ({**good, "Origin": "http://evil.example"}, {**good, "Host": "evil.example:80"},
                        {"Origin": origin}, {"Origin": origin, "X-CSRF-Token": "0" * 64}):
            r = s.post(target, json=body, headers=headers, timeout=5)
            assert r.status_code == 403, (path, headers, r.status_code, r.text)
            assert "Access-Control-Allow-Origin" not in r.headers
        # the same post from another session (a site that got its own cookie) does not carry our token
        assert requests.post(target, json=body, headers=good, timeout=5).status_code == 403
    state = s.get(url + "/state", timeout=5).json()
    assert fault_now(platform) == "up" and state["running"] is False and state["users"] == 0  # nothing changed
    assert s.get(url + "/state", headers={"Host": "rebound.example:80"}, timeout=5).status_code == 403
    # Locust's own UI refuses a cross-site form to /swarm (it could start load or change options)
    r = requests.post(web_url + "/swarm", data={"user_count": 1, "spawn_rate": 1}, timeout=5,
                      headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # ...while the page itself may: the same calls with its token and origin work
    assert s.post(origin + "/live/fault", json={"fault": "down"}, headers=good, timeout=5).status_code == 200
    assert fault_now(platform) == "down"
    assert s.post(origin + "/live/fault", json={"fault": "up"}, headers=good, timeout=5).status_code == 200
    r = s.post(origin + "/live/fault", json={"fault": "up", "control_url": "http://evil.example"}, headers=good,
               timeout=5)
    assert r.status_code == 200 and fault_now(platform) == "up"  # a control URL from the browser is ignored


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1024,1250",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(driver, check, what, timeout_s=30):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, timeout_s).until(lambda d: check(d), what)


def text(driver, element_id):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).text


def text_becomes(driver, element_id, wanted, timeout_s=30):
    wait_until(driver, lambda d: text(d, element_id) == wanted, f"#{element_id} never showed {wanted!r}", timeout_s)


def text_leaves(driver, element_id, unwanted, timeout_s=30):
    wait_until(driver, lambda d: text(d, element_id) not in unwanted, f"#{element_id} stayed in {unwanted!r}",
               timeout_s)


def chart(driver):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, "chart").get_attribute("innerHTML")


def shoot(driver, tmp_path, name):
    shot = tmp_path / f"live-page-{name}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("LOADTESTS_SCREENSHOTS")  # e.g. docs/ to refresh the documentation's pictures
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)


@needs_browser
def test_start_cut_and_restore_from_the_live_page(live, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, _, platform = live
    browser.get(url)
    text_becomes(browser, "phase", "stopped")
    browser.find_element(By.ID, "start").click()
    text_becomes(browser, "fault", "up")
    text_becomes(browser, "breaker", "closed")
    text_becomes(browser, "phase", "open")
    text_leaves(browser, "online", ("–", "0.0"))  # four users at work, answered online
    assert text(browser, "resilience") == "full" and text(browser, "pending") == "0"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1024  # holds at 1024 px
    sizes = browser.execute_script("return [...document.querySelectorAll('.label, .note, button')]"
                                   ".map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert min(sizes) >= 24  # readable at 3 m
    wait_until(browser, lambda d: int(d.find_element(By.ID, "chart").get_attribute("data-online-seconds")) >= 4,
               "the chart never showed four seconds of online answers")
    before = chart(browser)
    shoot(browser, tmp_path, "before")

    browser.find_element(By.ID, "cut").click()
    text_becomes(browser, "fault", "down")
    with pytest.raises(requests.ConnectionError):  # the platform really refuses connections now
        requests.get(platform.url + "/healthz", timeout=2)
    text_becomes(browser, "breaker", "open")  # the gateway noticed
    assert "done" in text(browser, "message")
    text_leaves(browser, "offline", ("–", "0.0"))  # the shops now get the offline stand-in
    text_leaves(browser, "pending", ("–", "0"))  # ...and every acceptance is journaled
    assert text(browser, "failed") == "0.0"  # offline answers are right answers
    wait_until(browser, lambda d: chart(d) != before, "the chart never moved")
    wait_until(browser, lambda d: int(d.find_element(By.ID, "chart").get_attribute("data-offline-seconds")) >= 4,
               "the chart never showed four seconds of offline answers")
    assert 'fill="#e8892e"' in chart(browser)
    shoot(browser, tmp_path, "during")

    browser.find_element(By.ID, "restore").click()
    text_becomes(browser, "fault", "up")
    wait_http(platform.url + "/healthz", 10)
    text_becomes(browser, "breaker", "closed")
    text_leaves(browser, "online", ("–", "0.0"))
    text_becomes(browser, "offline", "0.0")  # the last 2 s are all online again
    shoot(browser, tmp_path, "after")
    browser.find_element(By.ID, "stop").click()
    text_becomes(browser, "phase", "stopped")


def test_the_fault_route_accepts_only_the_pages_buttons(live):
    url, _, _ = live
    s, token = session_of(url)
    r = s.post(url + "/fault", json={"fault": "blackhole"}, headers={"X-CSRF-Token": token}, timeout=5)
    assert r.status_code == 400 and "fault must be one of" in r.json()["error"]
    state = s.get(url + "/state", timeout=5).json()
    assert state["gateway"] is True and state["control"] is True and state["scenario"] == "classroom"
