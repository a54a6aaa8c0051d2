"""The console in a real browser (Debian's Chromium, driven by Playwright), against `make run`'s
program: sign in, find a member, open each tab and see its records, pause and resume (the API
agrees), a streak with a bad field shows the API's message beside it, a member whose fields hold
markup renders it as text, a 429, a 5xx and a network error keep what was typed, a delivery is
replayed. Screenshots of the main pages go to $CONSOLE_SCREENSHOTS.

    CONSOLE_BASE=http://127.0.0.1:3000 CONSOLE_KEYS='{"apiKey":…,"apiSecret":…}' python test_console.py
"""

import datetime as dt
import json
import os
import re
import sys
import traceback
import urllib.error
import urllib.request
import uuid

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "lib"))
from harness import WebhookReceiver, eventually  # noqa: E402

BASE = os.environ["CONSOLE_BASE"].rstrip("/")
KEYS = json.loads(os.environ["CONSOLE_KEYS"])
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", "target/console-screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
XSS = "<img src=x onerror=alert(1)>"
RUN = uuid.uuid4().hex[:6]  # fresh names each run: the local run may keep data between runs


def api(method, path, body=None, expect_status=None):
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-api-key": KEYS["apiKey"], "x-api-secret": KEYS["apiSecret"], "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    answer = json.loads(text) if text else None
    if expect_status is not None:
        assert status == expect_status, f"{method} {path}: {status} {answer}"
    return status, answer


def seed():
    receiver = WebhookReceiver()
    _, endpoint = api("POST", "/v1/webhooks/endpoints",
                      {"url": receiver.url, "description": f"console {RUN}"}, 201)
    ext = f"ada-{RUN}"
    _, member = api("POST", "/schema/account_user/record", {
        "externalId": ext, "status": "live", "displayName": XSS, "firstName": XSS,
        "email": "ada@example.com", "metadata": {"note": XSS}}, 201)
    _, streak = api("POST", "/schema/streak/record", {
        "name": f"Daily lesson {RUN}", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1}, 201)
    _, milestone = api("POST", "/schema/milestone/record", {
        "name": f"First lesson {RUN}", "status": "live", "linkedSchemaSlug": "streak",
        "linkedSchemaRecordId": streak["data"]["id"], "milestoneTargetValue": 1, "rewardPoints": 50}, 201)
    _, challenge = api("POST", "/schema/challenge/record", {
        "name": f"Ten a week {RUN}", "status": "live", "completionTargetValue": 10, "aggregationPeriod": "weekly"}, 201)
    _, board = api("POST", "/schema/leaderboard/record", {
        "name": f"Top earners {RUN}", "status": "live", "metric": "points", "period": "all_time"}, 201)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    streak_id, challenge_id = streak["data"]["id"], challenge["data"]["id"]
    api("POST", "/schema/streak_log/record", {"streakId": streak_id, "ownedById": ext, "activityAt": now,
                                              "uniqueIdentifier": f"lesson-{RUN}", "activityValue": 1}, 201)
    api("POST", "/schema/challenge_log/record", {"challengeId": challenge_id, "ownedById": ext, "activityAt": now,
                                                 "uniqueIdentifier": f"exercise-{RUN}", "activityValue": 4}, 201)
    api("POST", "/schema/points_log/record", {"ownedById": ext, "amount": 15, "reason": f"bonus {RUN}",
                                              "uniqueIdentifier": f"bonus-{RUN}"}, 201)
    api("POST", "/schema/streak_freeze/record", {"streakId": streak_id, "ownedById": ext, "count": 1,
                                                 "uniqueIdentifier": f"freeze-{RUN}"}, 201)
    # The stream processor's work: progress, the reward, the board's score.
    eventually("the reward", lambda: api("GET", f"/schema/reward_log/record?ownedById={ext}")[1]["data"])
    eventually("the board's score", lambda: api("GET", f"/schema/leaderboard/record/{board['data']['id']}/rankings")[1]["data"]["rankings"])
    endpoint_id = endpoint["data"]["id"]
    eventually("a delivery", lambda: api("GET", f"/v1/webhooks/endpoints/{endpoint_id}/deliveries")[1]["data"])
    return {
        "ext": ext, "member": member["data"], "streak": streak["data"], "milestone": milestone["data"],
        "challenge": challenge["data"], "board": board["data"], "endpoint": endpoint["data"], "receiver": receiver,
    }


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href], [role=tab]')]
  .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120))"""


def assert_labelled(page):
    """Every control on the page has a name a screen reader can say."""
    unlabelled = page.evaluate(UNLABELLED)
    assert not unlabelled, f"controls without a label: {unlabelled}"


def shot(page, name):
    assert_labelled(page)
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, key, secret):
    page.get_by_label("API key").fill(key)
    page.get_by_label("API secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in(page, data):
    page.goto(f"{BASE}/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "sign-in")
    sign_in(page, KEYS["apiKey"], "sk_live_wrong")
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    expect(page.get_by_label("API key")).to_have_value(KEYS["apiKey"])  # kept, to correct the secret
    sign_in(page, KEYS["publicKey"], "anything")
    expect(page.get_by_role("alert")).to_contain_text("not a public key")
    sign_in(page, KEYS["apiKey"], KEYS["apiSecret"])
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_find_member(page, data):
    page.get_by_label("External id").fill(data["ext"])
    page.get_by_label("Status").select_option("live")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(data["ext"])
    expect(rows.first).to_contain_text(XSS)  # the display name, as text
    page.get_by_label("Status").select_option("paused")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No member matches this search.")).to_be_visible()
    page.get_by_label("External id").fill("")
    page.get_by_label("Status").select_option("")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=data["ext"])).to_be_visible()
    shot(page, "members")
    page.get_by_role("link", name=data["ext"]).click()


def test_member_record(page, data):
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS)
    assert page.locator("img[src='x']").count() == 0, "markup from a member's fields was rendered"
    expect(page.locator("dl[aria-label=Profile]")).to_contain_text(XSS)  # firstName and metadata
    expect(page.locator("dl[aria-label=Engagement]")).to_contain_text("Engagement score")
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    bar = page.locator(f"svg.activity rect[data-day='{today}']")
    expect(bar).to_have_attribute("data-count", "2")  # a streak log and a challenge log today
    tabs = {
        "Streak Progress": data["streak"]["name"],  # the program's name, linked
        "Challenge Progress": data["challenge"]["name"],
        "Streak Log": f"lesson-{RUN}",
        "Challenge Log": f"exercise-{RUN}",
        "Reward Log": data["milestone"]["name"],
        "Points": f"bonus {RUN}",
        "Freezes": f"freeze-{RUN}",
        "Leaderboards": data["board"]["name"],
    }
    for name, record in tabs.items():
        page.get_by_role("tab", name=name).click()
        panel = page.get_by_role("tabpanel")
        expect(panel).to_contain_text(record)
    expect(page.get_by_role("tabpanel")).to_contain_text("1")  # ranked on the board
    # Keyboard: arrows move between tabs (Leaderboards → wraps to Streak Progress).
    page.get_by_role("tab", name="Leaderboards").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Streak Progress")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Streak Progress")).to_be_focused()
    page.get_by_role("tab", name="Reward Log").click()
    shot(page, "member")


def test_pause_and_resume(page, data):
    page.get_by_role("button", name="Pause member").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("paused")
    assert api("GET", f"/schema/account_user/record/{data['ext']}")[1]["data"]["status"] == "paused"
    page.get_by_role("button", name="Resume member").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("live")
    assert api("GET", f"/schema/account_user/record/{data['ext']}")[1]["data"]["status"] == "live"


def test_streak_field_errors_and_failures(page, data):
    page.get_by_role("link", name="Programs").click()
    expect(page.get_by_role("heading", name="Streaks")).to_be_visible()
    lists = {kind: page.locator("section.program-list", has=page.get_by_role("heading", name=kind))
             for kind in ("Streaks", "Milestones")}
    expect(lists["Streaks"].get_by_role("link", name=data["streak"]["name"])).to_be_visible()
    expect(lists["Milestones"].get_by_role("link", name=data["streak"]["name"])).to_be_visible()  # its streak, by name
    shot(page, "programs")
    page.get_by_role("link", name="New streak").click()
    name = f"Bad streak {RUN}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Periods to complete").fill("0")
    page.get_by_label("Value a period needs").fill("1")
    # The API's own message for this body, to compare with what the page shows.
    _, refused = api("POST", "/schema/streak/record", {"name": name, "status": "draft", "completionTargetValue": 0,
                                                       "aggregationTargetValue": 1}, 400)
    message = next(d["message"] for d in refused["error"]["details"] if d["field"] == "completionTargetValue")
    page.get_by_role("button", name="Create streak").click()
    field = page.locator("[data-field=completionTargetValue]")
    expect(field.locator(".field-error")).to_have_text(message)
    expect(page.get_by_label("Periods to complete")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Periods to complete")).to_be_focused()
    page.get_by_label("Periods to complete").fill("5")

    # A 429, a 5xx and a network error: a clear message, and what was typed is still there.
    route = f"{BASE}/schema/streak/record"
    for answer, expected in [
        (lambda r: r.fulfill(status=429, headers={"retry-after": "3", "content-type": "application/json"},
                             body=json.dumps({"status": "error", "error": {"code": "too_many_requests", "message": "Too many requests.", "details": [], "requestId": "r"}})),
         "Slow down"),
        (lambda r: r.fulfill(status=503, headers={"content-type": "application/json"}, body='{"message":"Service Unavailable"}'),
         "Nothing you typed is lost"),
        (lambda r: r.abort("connectionrefused"), "could not be reached"),
    ]:
        page.route(route, answer)
        page.get_by_role("button", name="Create streak").click()
        expect(page.locator("form .form-error")).to_contain_text(expected)
        page.unroute(route)
        expect(page.get_by_label("Name")).to_have_value(name)
        expect(page.get_by_label("Periods to complete")).to_have_value("5")
    assert api("GET", "/schema/streak/record?limit=1000")[1]["data"].count(None) == 0
    assert not [s for s in api("GET", "/schema/streak/record?limit=1000")[1]["data"] if s["name"] == name], \
        "nothing was created by the failed attempts"
    page.get_by_role("button", name="Create streak").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    created = [s for s in api("GET", "/schema/streak/record?limit=1000")[1]["data"] if s["name"] == name]
    assert len(created) == 1 and created[0]["completionTargetValue"] == 5, created


def test_funnel_and_edit(page, data):
    page.goto(f"{BASE}/console#/programs/streak/{data['streak']['id']}")
    funnel = page.locator("svg.funnel")
    expect(funnel).to_have_attribute("aria-label", re.compile(r"Joined 1, In progress 1, Completed 0, Broken 0"))
    # An edit with a bad value: the API's message beside the field; then a good one is saved.
    page.get_by_label("Value a period needs").fill("-2")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("[data-field=aggregationTargetValue] .field-error")).not_to_be_empty()
    page.get_by_label("Value a period needs").fill("2")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#notice")).to_contain_text("Saved")
    assert api("GET", f"/schema/streak/record/{data['streak']['id']}")[1]["data"]["aggregationTargetValue"] == 2
    expect(funnel).to_have_attribute("aria-label", re.compile(r"Joined 1"))  # the saved view loaded again
    shot(page, "streak")
    page.goto(f"{BASE}/console#/programs/leaderboard/{data['board']['id']}")
    standings = page.locator("table", has=page.locator("caption", has_text="Standings"))
    expect(standings.locator("tbody tr").first).to_contain_text(data["ext"])
    expect(standings.locator("tbody tr").first).to_contain_text("65")  # the reward's 50 and the bonus 15


def test_replay_a_delivery(page, data):
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name=data["endpoint"]["url"]).click()
    rows = page.locator("table tbody tr")
    expect(rows.first).to_contain_text("succeeded")
    event_id = rows.first.locator("td").nth(1).inner_text()
    sent = data["receiver"].ids.count(event_id)
    assert sent >= 1, (event_id, data["receiver"].ids)
    rows.first.get_by_role("button").click()
    expect(page.locator("#notice")).to_contain_text(f"Replay of {event_id} queued")
    eventually("the replayed delivery", lambda: data["receiver"].ids.count(event_id) > sent)
    shot(page, "webhooks")
    # An action that fails says so in place, and changes nothing.
    endpoint = f"{BASE}/v1/webhooks/endpoints/{data['endpoint']['id']}"
    page.route(endpoint, lambda r: r.fulfill(status=500, headers={"content-type": "application/json"}, body=json.dumps(
        {"status": "error", "error": {"code": "internal_error", "message": "Internal error.", "details": [], "requestId": "req-1"}})))
    page.get_by_role("button", name="Disable endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("request req-1")
    page.unroute(endpoint)
    assert api("GET", f"/v1/webhooks/endpoints/{data['endpoint']['id']}")[1]["data"]["status"] == "enabled"


def test_sign_out_and_back_in_by_keyboard(page, data):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("API secret")).to_have_value("")
    expect(page.locator("#notice")).to_be_empty()
    assert data["ext"] not in page.content(), "nothing of the signed-in session stays on the page"
    page.goto(f"{BASE}/console#/members")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The keyboard alone: the key field has the focus; Tab to the secret, Enter signs in; Tab
    # reaches the section links.
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(KEYS["apiKey"])
    page.keyboard.press("Tab")
    page.keyboard.type(KEYS["apiSecret"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.get_by_role("link", name="Skip to content").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Webhooks")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()


def main():
    data = seed()
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems = []
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        # The page must load nothing the CSP refuses (a violation is logged as a console error).
        page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and problems.append(m.text))
        tests = [test_sign_in, test_find_member, test_member_record, test_pause_and_resume,
                 test_streak_field_errors_and_failures, test_funnel_and_edit, test_replay_a_delivery, test_sign_out_and_back_in_by_keyboard]
        for test in tests:
            try:
                test(page, data)
                print(f"ok   {test.__name__}")
            except Exception:
                failures.append(test.__name__)
                print(f"FAIL {test.__name__}\n{traceback.format_exc()}")
                shot(page, f"failed-{test.__name__}")
                break  # the tests run in order on one page: later ones need this one's state
        if problems:
            failures.append("page problems")
            print("FAIL the page logged:", *problems, sep="\n  ")
        browser.close()
    print(f"console browser tests: {'FAILED' if failures else f'{len(tests)} passed'}; screenshots in {SHOTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
