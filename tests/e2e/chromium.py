"""Headless Chromium through Debian's chromium-driver (python3-selenium): the browser of the UI's
tests (ui_browser_test.py) and bench (bench/ui_bench.py)."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def headless_chromium(width=1400, height=1000):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=%d,%d" % (width, height)):
        o.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
