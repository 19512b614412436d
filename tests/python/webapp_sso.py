"""Signing in to the web app with an identity provider's button, in headless Chromium:
the provider is oidc-provider (its development login and consent pages), the app the
local server. Only the app's pages must log no console error.

Usage: webapp_sso.py BASE_URL EMAIL
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright
from webapp import ARGS, CHROMIUM, Checks


def main(base_url, email):
    checks = Checks(base_url, "/tmp/confab-sso-screenshots", "/dev/null", mock=None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        # The provider's pages import a web font: nothing leaves the machine.
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        page.on("console", lambda m: page.url.startswith(base_url + "/") and checks.console("sso", m))
        page.goto(base_url + "/")
        page.get_by_role("link", name="Continue with corp").click()
        # oidc-provider's development interactions: any account id and password, then consent.
        page.locator("input[name=login]").fill("alice")
        page.locator("input[name=password]").fill("any")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
        assert page.url == base_url + "/", page.url
        me = page.evaluate("fetch('/auth/me').then((r) => r.json())")
        assert me["user"]["email"] == email, me
        browser.close()
    checks.no_console_errors()
    print("identity provider sign-in passed")


if __name__ == "__main__":
    main(*sys.argv[1:3])
