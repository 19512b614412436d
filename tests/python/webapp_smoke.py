"""The web app's smoke test on a deployment (the router Worker's static assets under
`wrangler dev`), in headless Chromium: sign up, chat, reload, and the conversation is
still there. The full tour is webapp.py, against the local server.

Usage: webapp_smoke.py BASE_URL MODEL REPLY_TEXT
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright
from webapp import ARGS, CHROMIUM, Checks, last_reply, pick_model, register, send


def main(base_url, model, reply_text):
    checks = Checks(base_url, "/tmp/confab-smoke-screenshots", "/dev/null", mock=None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        checks.watch(page, "smoke")
        register(page, base_url, "edge@example.com", "Edge")
        pick_model(page, model)
        send(page, "hello from the browser")
        expect(last_reply(page)).to_contain_text(reply_text)
        expect(page).to_have_url(re.compile(r"/c/[0-9A-Z]{26}$"))
        page.reload()
        expect(page.locator(".turn.user").first).to_contain_text("hello from the browser")
        expect(last_reply(page)).to_contain_text(reply_text)
        expect(page.locator(".session-list li")).to_have_count(1)
        browser.close()
    checks.no_console_errors()
    print("web app smoke test passed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
