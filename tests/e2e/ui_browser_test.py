"""The web UI in a real browser (Debian's chromium + chromium-driver, through python3-selenium).

Run by ui_browser_test.sh against a real ladle-server with tokens and a worker:
  ui_browser_test.py PORT TOKEN SCREENSHOT_DIR LIVE_ID XSS_ID DONE_ID

Checks: the token prompt (and the API refusing calls without a token), the experiments list
(filter, pages), the XSS name rendered as text, an experiment page whose jobs change state and
whose curve grows without a reload, a job page following its log live, cancel from the UI, the
workers page, the compare view, and the chart-less page when uPlot cannot load. Saves screenshots
of the main pages in SCREENSHOT_DIR.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from chromium import headless_chromium

PORT, TOKEN, SHOTS, LIVE, XSS, DONE, WORK = sys.argv[1:8]
BASE = "http://127.0.0.1:%s/" % PORT
XSS_NAME = "<img src=x onerror=alert(1)>"
os.makedirs(SHOTS, exist_ok=True)


def api(path):
    req = urllib.request.Request(BASE + "api/v1" + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


d = headless_chromium()


def waiter(seconds, poll=0.1):
    # Pages re-render rows as they update: an element found a moment ago may be gone.
    return WebDriverWait(d, seconds, poll, ignored_exceptions=[StaleElementReferenceException])


wait = waiter(30)


def attrs(css, name):
    # One read in the page, so a re-render cannot fall between finding and reading.
    return d.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))", css, name)


def text(css):
    return d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css)


def step(name):
    print("ok   " + name, flush=True)


def ready():
    wait.until(lambda _: d.find_element(By.ID, "main").get_attribute("data-ready") == "1")


def shot(name):
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))


def no_alert():
    try:
        d.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


try:
    # 1. Tokens: the page asks for one; the API refuses a call without one.
    d.get(BASE)
    wait.until(lambda _: d.find_elements(By.ID, "token-input"))
    status = d.execute_async_script(
        "const done = arguments[0]; fetch('/api/v1/experiments').then(r => done(r.status));")
    assert status == 401, status
    assert d.get_cookies() == [], d.get_cookies()
    d.find_element(By.ID, "token-input").send_keys(TOKEN)
    d.find_element(By.ID, "token-save").click()
    wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "#experiments tr[data-id]"))
    assert d.get_cookies() == [], "the token must travel as a header, never a cookie"
    step("a token-protected server: the UI asks for a token, the API refuses calls without one")

    # 2. The list, the XSS name as text, filters and pages.
    ids = attrs("#experiments tr[data-id]", "data-id")
    assert {LIVE, XSS, DONE} <= set(ids), ids
    xss_name = text("tr[data-id='%s'] td.name" % XSS)
    assert xss_name == XSS_NAME, xss_name
    assert d.execute_script("return document.querySelectorAll('img').length") == 0
    assert no_alert()
    shot("experiments")
    step("the experiments list; the name %s rendered as text" % XSS_NAME)
    Select(d.find_element(By.ID, "filter-state")).select_by_value("succeeded")
    d.find_element(By.CSS_SELECTOR, "form.toolbar button[type=submit]").click()
    wait.until(lambda _: "state=succeeded" in d.current_url)
    wait.until(lambda _: set(attrs("#experiments tr[data-id]", "data-id")) == {DONE, XSS})
    d.get(BASE + "#/?page_size=1")
    wait.until(lambda _: len(attrs("#experiments tr[data-id]", "data-id")) == 1)
    first = attrs("#experiments tr[data-id]", "data-id")[0]
    d.find_element(By.ID, "next").click()
    wait.until(lambda _: attrs("#experiments tr[data-id]", "data-id")[:1] not in ([], [first]))
    second = attrs("#experiments tr[data-id]", "data-id")[0]
    d.find_element(By.ID, "prev").click()
    wait.until(lambda _: attrs("#experiments tr[data-id]", "data-id") == [first])
    assert first != second
    step("filter by state, and page by page (%s, then %s)" % (first, second))

    # 3. A running sweep: jobs change state and its curve grows, without a reload.
    d.get(BASE + "#/experiments/" + LIVE)
    ready()
    d.execute_script("window.__ladleNoReload = 1")
    job_states = lambda: dict(zip(attrs("#jobs-table tr[data-job]", "data-job"),
                                  attrs("#jobs-table tr[data-job]", "data-state")))
    states0 = job_states()
    points0 = int(d.find_element(By.ID, "chart").get_attribute("data-points") or 0)
    def changed(_):
        states = job_states()
        points = int(d.find_element(By.ID, "chart").get_attribute("data-points") or 0)
        return states != states0 and points > points0 and (states, points)
    states1, points1 = waiter(90, 0.2).until(changed)
    assert d.execute_script("return window.__ladleNoReload") == 1, "the page reloaded"
    assert d.find_elements(By.CSS_SELECTOR, "#chart .uplot"), "no uPlot chart drawn"
    shot("experiment")
    step("a running sweep: jobs %s -> %s, curve %d -> %d points, no reload" % (
        sorted(states0.values()), sorted(states1.values()), points0, points1))

    # 3b. The coordinator killed with -9 and started again: the open page reconnects by itself
    # and goes on following the sweep (nothing the server had accepted is lost).
    os.kill(int(open(os.path.join(WORK, "server.pid")).read()), signal.SIGKILL)
    waiter(30).until(lambda _: "reconnecting" in (text("#status") or ""))
    subprocess.run(["bash", os.path.join(WORK, "start_server.sh")], check=True)
    waiter(60, 0.2).until(lambda _: text("#status") == "live")
    states2 = job_states()
    points2 = int(d.find_element(By.ID, "chart").get_attribute("data-points") or 0)
    waiter(90, 0.2).until(lambda _: job_states() != states2 or
                          int(d.find_element(By.ID, "chart").get_attribute("data-points") or 0) > points2)
    assert d.execute_script("return window.__ladleNoReload") == 1, "the page reloaded"
    assert len(job_states()) == 6, job_states()
    step("the coordinator killed -9 and restarted: the page reconnected and follows on")

    # 4. A running job's page: attempts, and its log following live.
    # The most recently started running job (the highest index): the longest still to run.
    running = waiter(60, 0.2).until(lambda _: sorted(attrs("#jobs-table tr[data-state=running]", "data-job")))
    running.reverse()
    d.find_element(By.CSS_SELECTOR, "tr[data-job='%s'] a" % running[0]).click()
    ready()
    log_length = lambda: d.execute_script("return document.getElementById('log').textContent.length")
    wait.until(lambda _: log_length() > 0)
    n0 = log_length()
    waiter(60, 0.2).until(lambda _: log_length() > n0)
    assert d.find_element(By.ID, "log-state").text == "following…", d.find_element(By.ID, "log-state").text
    assert d.find_elements(By.CSS_SELECTOR, "#attempts tr"), "no attempts table"
    shot("job")
    step("a running job's log follows live (%d -> %d characters)" % (n0, log_length()))

    # 5. Cancel from the UI (confirming the dialog).
    d.get(BASE + "#/experiments/" + LIVE)
    ready()
    d.find_element(By.ID, "cancel").click()
    d.switch_to.alert.accept()
    wait.until(lambda _: "cancelled" in (text("#exp-name .badge") or ""))
    waiter(30, 0.5).until(lambda _: api("/experiments/" + LIVE)["state"] == "EXPERIMENT_STATE_CANCELLED")
    step("cancel from the UI: the experiment is cancelled on the server")

    # 6. A finished experiment: result tables and its job's artifacts.
    d.get(BASE + "#/experiments/" + DONE)
    ready()
    assert d.find_elements(By.CSS_SELECTOR, "#tables table.results tr"), "no result table"
    tables = text("#tables")
    assert "±" in tables and "test" in tables, tables
    spec = d.find_element(By.ID, "spec").text
    assert "name:" in spec, spec
    job = attrs("#jobs-table tr[data-job]", "data-job")[0]
    d.get(BASE + "#/jobs/" + job)
    ready()
    wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "button[data-artifact='model.safetensors']"))
    wait.until(lambda _: "(ended)" in d.find_element(By.ID, "log-state").text)
    d.get(BASE + "#/experiments/" + XSS)
    ready()
    assert text("#exp-name").startswith(XSS_NAME) and XSS_NAME in text("#spec"), text("#exp-name")
    assert d.execute_script("return document.querySelectorAll('img').length") == 0 and no_alert()
    step("a finished experiment's result tables and spec; its job's artifacts; markup as text on every page")

    # 7. Workers, and the compare view.
    d.get(BASE + "#/workers")
    ready()
    assert "alive" in text("#workers") and "ui-worker" in text("#workers"), text("#workers")
    shot("workers")
    d.get(BASE + "#/compare?ids=%s,%s,%s" % (DONE, LIVE, XSS))
    ready()
    rows = d.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")
    assert len(rows) == 3, [r.text for r in rows]
    assert XSS_NAME in text("#compare-table") and XSS_NAME in text("#compare-chart")
    assert d.find_elements(By.CSS_SELECTOR, "#compare-chart .uplot")
    shot("compare")
    step("the workers page and the compare view of three experiments")

    # 8. Without uPlot (a build where npm was unreachable) the page still works, chart-less.
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*uPlot*"]})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    d.get(BASE + "#/experiments/" + DONE)
    d.refresh()
    ready()
    assert d.execute_script("return typeof window.uPlot") == "undefined"
    assert "Charts are not built" in d.find_element(By.ID, "chart").text
    assert d.find_elements(By.CSS_SELECTOR, "#jobs-table tr[data-job]")
    step("without uPlot the experiment page works and shows last values instead of charts")
    print("ui browser test passed")
except Exception:
    shot("failure")
    print("FAIL at %s" % d.current_url, flush=True)
    logs = d.get_log("browser") if hasattr(d, "get_log") else []
    for entry in logs[-20:]:
        print("browser:", entry)
    raise
finally:
    d.quit()
