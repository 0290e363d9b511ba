"""The Locust web UI as a person uses it: a real headless Chromium sets the user mix and the lab's custom fields,
starts a swarm against the real server, sees requests counted, stops it; a screenshot is kept as an artifact.
"""
import os
import shutil
import tempfile
import time

import pytest

from loadgen import metrics
from tests.loadgen.conftest import assert_clean_exit, sample, start_web_locust, stop_process
from tests.support import run_server, wait_until

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        reason = f"no headless browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs it: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="gil-lab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def type_into(driver, name, value):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(str(value))
    assert field.get_attribute("value") == str(value)


def click_button(driver, text):
    from selenium.webdriver.common.by import By
    driver.find_element(By.XPATH, f"//button[normalize-space()='{text}']").click()


def test_swarm_from_the_browser(browser, workdir, artifacts_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    with run_server("--no-monitor", "--algorithm", "sqrt") as server:
        locust = start_web_locust(cwd=workdir)
        try:
            browser.get(locust.url + "/")
            WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.NAME, "userCount"))
            type_into(browser, "userCount", 3)
            type_into(browser, "spawnRate", 10)
            type_into(browser, "host", f"tcp://127.0.0.1:{server.port}")
            browser.find_element(By.XPATH, "//*[normalize-space()='Custom parameters']").click()
            # The React UI names custom fields in camelCase (--expensive-users: expensiveUsers).
            WebDriverWait(browser, 10).until(lambda d: d.find_element(By.NAME, "expensiveUsers").is_displayed())
            type_into(browser, "expensiveUsers", 1)
            type_into(browser, "cheapN", 1000)  # answer 7919: 4 bytes, where the default n=1 gives 1 byte
            type_into(browser, "expensiveN", 20000)  # answer 224737: 6 bytes
            click_button(browser, "Start")

            # The page counts requests: its statistics table gets a row per kind with a growing count.
            WebDriverWait(browser, 30).until(
                lambda d: "cheap" in d.find_element(By.TAG_NAME, "body").text
                and "expensive" in d.find_element(By.TAG_NAME, "body").text)
            wait_until(lambda: (rows := locust.stats()[0]) and rows.get("expensive", (0, 0))[0] >= 2, timeout=30)
            time.sleep(1)  # let the charts draw a little before the picture
            browser.save_screenshot(os.path.join(artifacts_dir, "loadgen-web-ui-running.png"))

            # The form's values reached the load: 2 CheapUser + 1 ExpensiveUser, and the custom n's.
            load = locust.metrics()
            assert sample(load, metrics.USERS, user_class="CheapUser") == 2
            assert sample(load, metrics.USERS, user_class="ExpensiveUser") == 1
            requests = {row["name"]: row for row in locust.get_json("/stats/requests")["stats"]}
            assert requests["cheap"]["avg_content_length"] == len("7919")
            assert requests["expensive"]["avg_content_length"] == len("224737")
            assert requests["cheap"]["num_failures"] == 0 and requests["expensive"]["num_failures"] == 0
            assert server.metric("primes_requests_total", kind="expensive") >= 2

            click_button(browser, "Stop")
            wait_until(lambda: locust.stats()[1] == "stopped", timeout=20)
            # Locust's page polls the state only while spawning or running: a poll that lands in the short
            # "cleanup" between running and stopped leaves the page on CLEANUP. The page marks the stop either
            # way; reloaded, it reads the state once and must say STOPPED.
            WebDriverWait(browser, 20).until(
                lambda d: any(state in d.find_element(By.TAG_NAME, "body").text.upper() for state in ("STOPPED", "CLEANUP")))
            browser.refresh()
            WebDriverWait(browser, 20).until(lambda d: "STOPPED" in d.find_element(By.TAG_NAME, "body").text.upper())
            browser.save_screenshot(os.path.join(artifacts_dir, "loadgen-web-ui-stopped.png"))
            counted = locust.stats()[0]["cheap"][0]
            time.sleep(1.5)
            assert locust.stats()[0]["cheap"][0] == counted  # stopped means stopped
        finally:
            stop_process(locust.proc)
    assert_clean_exit(locust.log())
