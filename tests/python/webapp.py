"""Drives confab's web app in headless Chromium (Debian's package) with Playwright.

Usage: webapp.py BASE_URL SCREENSHOT_DIR AXE_JS MOCK_URL. The server runs with the mock
provider (its request log at MOCK_URL/_mock/requests): model `oa-model` answers Markdown
with a code block, `slow-model` streams slowly, `oa-vision` sees images, and
`research-model` plays every research agent over the test web.
Exits non-zero on the first failed check; every page must log no console error and
pass axe-core with no serious or critical violation.
"""

import base64
import gzip
import hashlib
import hmac
import json
import re
import struct
import sys
import time
import urllib.request
import zlib
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"
REPLY_WORD = "fibonacci"
QUESTION = "What changed for general-purpose AI models in 2025?"
FIRST_LOAD_BUDGET = 200 * 1024


def totp(secret: str, at: float) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), computed apart from the server's crate."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return str((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000).zfill(6)


def fresh_code(secret: str, used: set) -> str:
    """A code of a time step not used yet (the server accepts each step once)."""
    while True:
        code = totp(secret, time.time())
        step = int(time.time()) // 30
        if step not in used and int(time.time()) % 30 < 27:
            used.add(step)
            return code
        time.sleep(1)


def png(width=96, height=64):
    """A small gradient PNG, written out by hand."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 190)) for x in range(width))
        for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Checks:
    def __init__(self, base_url, shots, axe, mock):
        self.base = base_url
        self.mock = mock
        self.shots = Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.axe = Path(axe).read_text()
        self.console_errors = []
        # Answers the app shows as a message (the MFA step, a refused config): the
        # browser logs every failed request, these are the ones the test provokes.
        self.expected_failures = set()

    def expect_failure(self, status, path):
        self.expected_failures.add((status, path))

    def watch(self, page, name):
        page.on("console", lambda m: self.console(name, m))
        page.on("pageerror", lambda e: self.console_errors.append(f"{name}: {e}"))

    def console(self, name, message):
        if message.type != "error":
            return
        failed = re.match(r"Failed to load resource: the server responded with a status of (\d+)", message.text)
        path = re.sub(r"^https?://[^/]+", "", message.location.get("url", ""))
        if failed and (int(failed.group(1)), path) in self.expected_failures:
            return
        self.console_errors.append(f"{name}: {message.text} ({path})")

    def shot(self, page, name):
        page.screenshot(path=str(self.shots / f"{name}.png"))

    def accessible(self, page, name):
        page.evaluate(self.axe)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad)

    def sent_to(self, model, words):
        """The content of the last message the mock provider got for `model` that has
        `words` (title requests go to the same model)."""
        with urllib.request.urlopen(f"{self.mock}/_mock/requests?model={model}") as resp:
            requests = json.load(resp)
        for request in reversed(requests):
            content = (request["body"].get("messages") or [{}])[-1].get("content")
            if words in json.dumps(content):
                return content
        raise AssertionError(f"no request to {model} has {words!r}")

    def no_console_errors(self):
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)


def first_load(responses):
    """Everything the sign-in page fetched, gzipped, fits the budget; assets are
    immutable, the page itself is revalidated, and it carries the strict CSP."""
    total = sum(len(gzip.compress(r.body(), 9)) for r in responses if r.request.method == "GET" and r.ok)
    assert total < FIRST_LOAD_BUDGET, f"first load is {total} bytes gzipped"
    page = responses[0]
    assert page.headers["cache-control"] == "no-cache", page.headers
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp, csp
    assets = [r for r in responses if "/assets/" in r.url]
    assert assets and all(r.headers["cache-control"] == "public, max-age=31536000, immutable" for r in assets)


def register(page, base, email, name):
    page.goto(base + "/")
    page.get_by_role("button", name="Create an account").click()
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()


def sign_in(page, base, email, password):
    page.goto(base + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def pick_model(page, model):
    page.get_by_label("Model").select_option(model)


def send(page, text):
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def last_reply(page):
    return page.locator(".turn.assistant").last


def chat(checks, page):
    base = checks.base
    # Shift+Enter is a new line; Enter sends; the reply streams in as Markdown with
    # highlighted code and a copy button.
    pick_model(page, "oa-model")
    box = page.get_by_label("Message")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    box.press("Enter")
    reply = last_reply(page)
    expect(reply.locator("pre code.hljs")).to_be_visible()
    expect(reply.get_by_role("button", name="Copy code")).to_be_visible()
    expect(reply).to_contain_text(REPLY_WORD)
    expect(page).to_have_url(re.compile(r"/c/[0-9A-Z]{26}$"))
    expect(page.locator(".session-list li")).to_have_count(1)
    checks.accessible(page, "chat")
    checks.shot(page, "chat")
    page.get_by_role("button", name="Use the dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    checks.accessible(page, "chat, dark")
    checks.shot(page, "chat-dark")
    page.get_by_role("button", name="Use the light theme").click()

    # A second browser (its own sign-in) opening the conversation while the slow reply
    # streams follows it live; stopping it there cancels the reply for both.
    pick_model(page, "slow-model")
    send(page, "count slowly")
    expect(last_reply(page).locator(".markdown")).not_to_be_empty()
    second = second_browser(checks, page.context.browser, "admin@example.com")
    second.goto(page.url)
    expect(last_reply(second).locator(".markdown")).not_to_be_empty()
    expect(second.get_by_role("button", name="Stop")).to_be_visible()
    second.get_by_role("button", name="Stop").click()
    expect(second.get_by_text("Reply cancelled.")).to_be_visible()
    expect(page.get_by_text("Reply cancelled.")).to_be_visible()
    sign_out_and_close(second)

    # A network drop mid-reply: the first answer is cut after a few events; the app
    # resumes from the last event id it saw and shows the whole reply.
    pick_model(page, "oa-model")
    resumed = []
    page.on("request", lambda r: "/stream" in r.url and resumed.append(r.headers.get("last-event-id")))

    def cut(route):
        resp = route.fetch()
        events = resp.text().split("\n\n")
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body="\n\n".join(events[:3]) + "\n\n")
        page.unroute("**/chat/sessions/*/messages", cut)

    page.route("**/chat/sessions/*/messages", cut)
    send(page, "survive a drop")
    expect(page.locator(".turn.assistant").nth(2).locator("pre code")).to_be_visible()
    expect(page.locator(".turn.assistant").nth(2)).to_contain_text(REPLY_WORD)
    assert resumed and resumed[0] == "2", f"resumed with Last-Event-ID {resumed}"

    # Edit the first question: a second version, with "‹ 2/2 ›" navigation.
    first = page.locator(".turn.user").first
    first.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit your message").fill("an edited first question")
    page.get_by_role("button", name="Send", exact=True).first.click()
    expect(page.locator(".turn.user").first).to_contain_text("an edited first question")
    expect(page.locator(".turn.user").first.locator(".branch-count")).to_have_text("2/2")
    expect(page.locator(".turn.user")).to_have_count(1)
    page.get_by_role("button", name="Previous version").first.click()
    expect(page.locator(".turn.user").first.locator(".branch-count")).to_have_text("1/2")
    expect(page.locator(".turn.user")).to_have_count(3)

    # Regenerate the last reply: its versions become 2/2.
    last_reply(page).get_by_role("button", name="Regenerate").click()
    expect(last_reply(page).locator(".branch-count")).to_have_text("2/2")
    checks.shot(page, "branches")

    # Export as Markdown and download it.
    page.get_by_text("Export").click()
    page.get_by_role("button", name="Markdown").click()
    link = page.get_by_role("link", name="Download the markdown export")
    href = link.get_attribute("href")
    exported = page.request.get(href)
    assert exported.ok and "survive a drop" in exported.text(), exported.text()[:200]

    # Share, and open the link signed out in a fresh context.
    page.get_by_role("button", name="Share").click()
    url = page.get_by_label("Share link").input_value()
    return url


def second_browser(checks, browser, email):
    """A page in a browser context of its own, signed in as `email` (another device)."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    checks.watch(page, "second browser")
    sign_in(page, checks.base, email, PASSWORD)
    expect(page.get_by_label("Message")).to_be_visible()
    return page


def sign_out_and_close(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.context.close()


def drop_file(page, name, mime, data, event="drop"):
    """Drops a file on the composer, or pastes it into the message box."""
    page.evaluate("""([name, mime, bytes, event]) => {
      const files = new DataTransfer();
      files.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
      if (event === 'paste') {
        document.getElementById('composer').dispatchEvent(
          new ClipboardEvent('paste', { clipboardData: files, bubbles: true, cancelable: true }));
        return;
      }
      const form = document.querySelector('.composer');
      form.dispatchEvent(new DragEvent('dragover', { dataTransfer: files, bubbles: true, cancelable: true }));
      form.dispatchEvent(new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));
    }""", [name, mime, list(data), event])


def attachments(checks, page):
    """Files picked, dropped and pasted: uploaded with progress, sent, in the model's
    context; refusals (type, size, a model that cannot see images) said plainly."""
    base = checks.base
    pick_model(page, "oa-model")
    uploads = []
    page.on("request", lambda r: "/attachments?" in r.url and uploads.append(r))
    # Slow uploads (DevTools throttling) so the progress shows.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    throttle = {"offline": False, "latency": 0, "downloadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": 128 * 1024})
    notes = ("The code word is heliotrope.\n" * 9000).encode()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": notes})
    expect(page.get_by_role("progressbar", name="Uploading notes.txt")).to_be_visible()
    # The first file made the conversation.
    expect(page).to_have_url(re.compile(r"/c/[0-9A-Z]{26}$"))
    session = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("progressbar")).to_have_count(0, timeout=20_000)
    cdp.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": -1})
    chips = page.get_by_role("list", name="Files to send")
    expect(chips).to_contain_text("notes.txt")
    assert uploads[0].headers["x-amz-content-sha256"] == hashlib.sha256(notes).hexdigest(), uploads[0].headers

    # A file removed before sending is deleted.
    drop_file(page, "scratch.txt", "text/plain", b"not needed")
    expect(chips).to_contain_text("scratch.txt")
    page.get_by_role("button", name="Remove scratch.txt").click()
    expect(chips).not_to_contain_text("scratch.txt")
    for _ in range(50):
        listed = [a["filename"] for a in page.request.get(f"{base}/sessions/{session}/attachments").json()["items"]]
        if listed == ["notes.txt"]:
            break
        time.sleep(0.1)
    assert listed == ["notes.txt"], listed

    # Refused uploads: a type attachments do not take, a file over the limit.
    checks.expect_failure(415, f"/sessions/{session}/attachments?filename=archive.zip")
    drop_file(page, "archive.zip", "application/zip", b"PK\x03\x04 not really", event="paste")
    expect(page.get_by_role("alert")).to_contain_text("“archive.zip” was not attached")
    expect(page.get_by_role("alert")).to_contain_text("application/zip")
    checks.expect_failure(413, f"/sessions/{session}/attachments?filename=huge.log")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files({"name": "huge.log", "mimeType": "text/plain", "buffer": b"x" * 1_000_001})
    expect(page.get_by_role("alert")).to_contain_text("“huge.log” was not attached")
    expect(page.get_by_role("alert")).to_contain_text("too large")
    expect(chips.locator("li")).to_have_count(1)

    send(page, "what does the file say?")
    expect(last_reply(page)).to_contain_text(REPLY_WORD)
    asked = json.dumps(checks.sent_to("oa-model", "what does the file say?"))
    assert "notes.txt" in asked and "heliotrope" in asked and "what does the file say?" in asked, asked[:300]
    link = page.locator(".turn.user").last.get_by_role("link", name="notes.txt")
    assert page.request.get(base + link.get_attribute("href")).body() == notes

    # An image for a model that cannot see it: refused, and the message and file stay
    # in the composer to send to one that can.
    image = png()
    drop_file(page, "gradient.png", "image/png", image)
    expect(chips).to_contain_text("gradient.png")
    expect(page.get_by_role("progressbar")).to_have_count(0)
    checks.expect_failure(422, f"/chat/sessions/{session}/messages")
    send(page, "what is in the picture?")
    expect(page.get_by_role("alert")).to_contain_text("cannot see images")
    expect(page.get_by_label("Message")).to_have_value("what is in the picture?")
    expect(chips).to_contain_text("gradient.png")
    checks.accessible(page, "attachments refused")
    checks.shot(page, "attachments-refused")
    pick_model(page, "oa-vision")
    page.get_by_label("Message").press("Enter")
    expect(last_reply(page)).to_contain_text("A small gradient.")
    parts = checks.sent_to("oa-vision", "what is in the picture?")
    urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(image).decode()], parts
    thumb = page.locator(".turn.user").last.get_by_role("img", name="gradient.png")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_js_property("naturalWidth", 96)
    expect(page.get_by_role("list", name="Attached files")).to_have_count(2)
    checks.accessible(page, "attachments")
    checks.shot(page, "attachments")


def research(checks, page):
    """Research with its plan, live steps and sources, followed live from a second
    browser; the saved report keeps its cited sources after a reload."""
    page.get_by_role("button", name="+ New chat").click()
    second = second_browser(checks, page.context.browser, "admin@example.com")
    pick_model(page, "research-model")
    page.get_by_role("switch", name="Research the web").check()
    page.get_by_label("Depth").select_option("quick")
    send(page, QUESTION)
    reply = last_reply(page)
    expect(reply.get_by_role("list", name="Research plan").locator("li")).to_have_text(
        ["gpai obligations", "gpai code of practice"])
    expect(page).to_have_url(re.compile(r"/c/[0-9A-Z]{26}$"))
    second.goto(page.url)
    steps = reply.get_by_role("list", name="Research steps")
    expect(steps).to_contain_text("researcher")
    expect(steps).to_contain_text("reading")
    followed = last_reply(second)
    expect(followed.get_by_role("list", name="Research plan").locator("li")).to_have_count(2)
    expect(followed.get_by_role("list", name="Research steps")).to_contain_text("planner")
    expect(reply.get_by_role("list", name="Sources").locator("li")).to_have_count(2)
    expect(reply.locator(".markdown")).to_contain_text("2 August 2025")
    checks.shot(page, "research-live")
    # Done: the saved report, its [n] linked to the sources.
    expect(page.get_by_role("button", name="Research", exact=True)).to_be_visible(timeout=30_000)
    expect(followed.locator("a.cite")).to_have_count(2)
    sign_out_and_close(second)
    for _ in range(2):
        reply = last_reply(page)
        cites = reply.locator("a.cite")
        expect(cites).to_have_text(["[1]", "[2]"])
        expect(cites.first).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+/page/1$"))
        sources = reply.get_by_role("list", name="Sources").get_by_role("link")
        expect(sources).to_have_text(["Obligations apply", "The code of practice"])
        page.reload()
    checks.accessible(page, "research")
    checks.shot(page, "research")
    page.get_by_role("switch", name="Research the web").uncheck()


def sidebar(page):
    """Rename, search (title and message words), archive."""
    item = page.locator(".session-list li").first
    item.locator("summary").click()
    item.get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("Fibonacci notes")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".session-list li .title")).to_have_text(["Fibonacci notes"])
    search = page.get_by_label("Search conversations")
    search.fill("nothingmatcheshere")
    expect(page.get_by_text("Nothing found.")).to_be_visible()
    search.fill("surv")
    expect(page.locator(".session-list .snippet")).to_contain_text(["survive a drop"])
    search.fill("")
    item = page.locator(".session-list li").first
    item.locator("summary").click()
    item.get_by_role("button", name="Archive").click()
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))


def shared_view(checks, browser, url):
    context = browser.new_context()
    page = context.new_page()
    checks.watch(page, "shared")
    page.goto(url)
    expect(page.locator(".turn.assistant").first).to_contain_text(REPLY_WORD)
    expect(page.locator(".turn.assistant pre code.hljs").first).to_be_visible()
    checks.accessible(page, "shared")
    checks.shot(page, "shared")
    context.close()


def settings(checks, page, email):
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    checks.accessible(page, "settings")

    # Password change.
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()

    # An API key is shown once.
    page.get_by_label("Key name").fill("laptop script")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("cfk_"), key
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    expect(page.get_by_text("laptop script")).to_be_visible()
    assert key not in page.content()

    # MFA with a QR code; the code is computed here.
    mfa = page.locator("section", has=page.get_by_role("heading", name="Two-step verification"))
    mfa.get_by_label("Password").fill(NEW_PASSWORD)
    mfa.get_by_role("button", name="Set up two-step verification").click()
    expect(mfa.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = mfa.locator("code.secret").inner_text()
    mfa.evaluate("section => section.scrollIntoView()")
    checks.shot(page, "mfa-setup")
    used = set()
    mfa.get_by_label("Code from the app").fill(fresh_code(secret, used))
    mfa.get_by_role("button", name="Turn on").click()
    expect(mfa.locator(".codes li")).to_have_count(10)
    mfa.get_by_role("button", name="Done").click()
    checks.shot(page, "settings")

    # Sign out; signing in now asks for the code.
    checks.expect_failure(401, "/auth/login")
    page.get_by_role("button", name="Sign out").click()
    # The sign-in page shows once the logout is answered: leaving before that could
    # keep the ended login's cookies, and the next page's refresh would be refused.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, checks.base, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    checks.accessible(page, "mfa-step")
    checks.shot(page, "sign-in-mfa")
    page.get_by_label("Code").fill(fresh_code(secret, used))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_label("Message")).to_be_visible()


def admin(checks, page):
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Admin")).to_be_visible()
    row = page.locator("tr", has_text="bob@example.com")
    row.get_by_role("button", name="Disable bob@example.com").click()
    expect(row.get_by_text("disabled")).to_be_visible()
    row.get_by_label("Tokens/day").fill("5000")
    row.get_by_role("button", name="Save quota of bob@example.com").click()
    expect(row.get_by_text("Saved")).to_be_visible()
    page.reload()
    expect(page.locator("tr", has_text="bob@example.com").get_by_label("Tokens/day")).to_have_value("5000")
    checks.accessible(page, "admin-users")
    checks.shot(page, "admin-users")

    page.get_by_role("link", name="Usage").click()
    expect(page.locator(".chart canvas")).to_be_visible()
    expect(page.locator(".table-wrap").get_by_role("row", name=re.compile("oa-model"))).to_be_visible()
    checks.accessible(page, "admin-usage")
    checks.shot(page, "admin-usage")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("admin.user_updated")
    page.get_by_role("button", name="Filter").click()
    # Two updates of bob's: disabled, then the quota.
    expect(page.locator("tbody tr td:nth-child(2)")).to_have_text(["admin.user_updated"] * 2)
    checks.shot(page, "admin-audit")

    page.get_by_role("link", name="Models").click()
    editor = page.get_by_label("Routing (JSON)")
    expect(editor).to_have_value(re.compile("oa-model"))
    editor.fill('{"default_model": "nothing-like-this", "models": []}')
    checks.expect_failure(422, "/admin/models")
    page.get_by_role("button", name="Save routing").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing-like-this")
    checks.shot(page, "admin-models")


def phone(checks, browser):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    page = context.new_page()
    checks.watch(page, "phone")
    register(page, checks.base, "carol@example.com", "Carol")
    expect(page.locator(".sidebar")).not_to_be_in_viewport()
    send(page, "hello from a phone")
    expect(last_reply(page)).to_contain_text(REPLY_WORD)
    checks.shot(page, "phone-chat")

    # The login is refreshed before the access token expires, with no page load (the
    # server runs with 70 s access tokens, so the app refreshes 10 s after sign-in).
    with page.expect_request(lambda r: r.url.endswith("/auth/refresh"), timeout=60_000) as refreshed:
        pass
    assert refreshed.value.method == "POST" and refreshed.value.response().ok
    send(page, "still signed in")
    expect(page.locator(".turn.assistant")).to_have_count(2)
    page.get_by_role("button", name="Conversations").click()
    expect(page.locator(".sidebar")).to_be_in_viewport()
    checks.accessible(page, "phone sidebar")
    checks.shot(page, "phone-sidebar")
    page.get_by_role("button", name="Close conversations").click(position={"x": 370, "y": 400})
    expect(page.locator(".sidebar")).not_to_be_in_viewport()
    context.close()


def main(base_url, shots, axe, mock):
    checks = Checks(base_url, shots, axe, mock)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        checks.watch(page, "main")

        loaded = []
        page.on("response", lambda r: loaded.append(r))
        page.goto(base_url + "/?auth_error=domain_not_allowed")
        expect(page.get_by_role("alert")).to_contain_text("email domain")
        first_load(loaded)
        checks.accessible(page, "sign-in")
        checks.shot(page, "sign-in")

        # The first account is the admin; bob is someone for the admin to manage.
        register(page, base_url, "admin@example.com", "Ada Admin")
        share_url = chat(checks, page)
        shared_view(checks, browser, share_url)
        sidebar(page)
        attachments(checks, page)
        research(checks, page)

        bob = browser.new_context()
        bob_page = bob.new_page()
        checks.watch(bob_page, "bob")
        register(bob_page, base_url, "bob@example.com", "Bob")
        send(bob_page, "hello")
        expect(last_reply(bob_page)).to_contain_text(REPLY_WORD)
        bob.close()

        settings(checks, page, "admin@example.com")
        admin(checks, page)
        context.close()
        phone(checks, browser)
        browser.close()
    checks.no_console_errors()
    print("web app checks passed")


if __name__ == "__main__":
    main(*sys.argv[1:5])
