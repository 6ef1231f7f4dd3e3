#!/usr/bin/env python3
"""The admin console (console/) in a real browser: Chromium driven by Playwright against the
release local API, which serves the page at `/` (run by tests/console.sh, which builds it).

What it proves, against the page's DOM contract and the service's own answers:
- 64-bit ids survive the page: a tenant and users with ids above 2^53 (odd ones, which a JS
  double cannot hold) show as the exact 17-digit strings in the list and in Details, the detail
  request's path carries the exact string, and a forced offline POSTs `receiveObjectIds` as
  `["<exact id>"]`;
- the sessions view: search as you type (a `/online/search` request, no Enter), 10 rows a page,
  Next and Previous page, sorting by a header (`aria-sort` flips, the order with it);
- forcing a user offline from the page: the confirm dialog, the user's own WebSocket (opened here)
  receives `FORCED_OFFLINE`, the row turns Offline, the audit trail shows the record;
- live updates with no action on the page: a new connection's row appears, and a closed
  connection's row turns Offline, each within 2 s;
- sign-in errors: a bad token brings back the sign-in dialog with the 401's `msg`, a token without
  permissions shows the 403's `msg` (the same call made here) in `#error`;
- the keyboard reaches the search box; at phone width (390x844) the page does not scroll sideways.

It also takes the documentation's screenshots (docs/console/*.png) as the demo platform operator
on the demo data. Failure artefacts (screenshot of the moment, the local API's log) go to
target/console-test/. Exits non-zero on the first failed check, naming it.

Environment: CONSOLE_LOCAL_API (default target/release/local-api; a binary that serves another
page than console/ fails the test, unless named here on purpose), CONSOLE_CHROMIUM (default
/usr/bin/chromium), CONSOLE_HEADED=1 to watch it.
"""

import json
import math
import os
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import websocket  # websocket-client
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "console-test"
DOCS = ROOT / "docs" / "console"
LOCAL_API = Path(os.environ.get("CONSOLE_LOCAL_API", ROOT / "target" / "release" / "local-api"))
CHROMIUM = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
BASE_PATH = "/api/v1/message/center/online"
ALL_PERMISSIONS = ["message:center:online:list", "message:center:online:detail", "message:center:offline"]

# Ids above 2^53 = 9007199254740992. Every odd one there is beyond a double: 9007199254740993
# becomes ...992 in JS, ...995 becomes ...996, and so on.
TENANT = "9007199254740995"
ADMIN_ID = "9007199254741201"
NO_PERMISSION_ID = "9007199254741203"
ADMIN_TOKEN = "console-test-big-tenant-admin"
NO_PERMISSION_TOKEN = "console-test-no-permissions"
BAD_TOKEN = "console-test-unknown-token"
FIRST_NAMES = [
    "Alma", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko", "Umar", "Vera",
    "Wim", "Xenia", "Yusuf", "Zora",
]
SURNAMES = ["Okafor", "Lindqvist", "Moreau", "Takahashi", "Novak"]
CONNECTED = 24  # users 0..23 connect before the admin signs in; user 24 connects during the live check
USERS = [
    {
        "id": str(9007199254740993 + 2 * k),
        "name": f"{FIRST_NAMES[k]} {SURNAMES[k % len(SURNAMES)]}",
        "token": f"console-test-user-{k:02d}",
    }
    for k in range(CONNECTED + 1)
]
assert all(int(u["id"]) > 2**53 and int(u["id"]) % 2 == 1 for u in USERS)
SEARCH_TEXT = "lindq"  # matches the users whose surname is Lindqvist, and no one else

# The demo platform operator's own user (demo data) and the demo users whose tokens other checks
# of this repository lean on: none of them is forced offline here.
DEMO_OPERATOR = "demo-platform-operator"
DEMO_KEEP = {"1", "1000", "1001", "2000"}


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---- The local API ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tokens(path):
    far = "2099-12-31T00:00:00Z"
    entries = [
        {"token": ADMIN_TOKEN, "userId": ADMIN_ID, "tenantId": TENANT, "fullName": "Big Tenant Admin",
         "permissions": ALL_PERMISSIONS, "platform": False, "expiresAt": far},
        {"token": NO_PERMISSION_TOKEN, "userId": NO_PERMISSION_ID, "tenantId": TENANT,
         "fullName": "Nobody Special", "permissions": [], "platform": False, "expiresAt": far},
    ]
    entries += [
        {"token": u["token"], "userId": u["id"], "tenantId": TENANT, "fullName": u["name"],
         "permissions": [], "platform": False, "expiresAt": far}
        for u in USERS
    ]
    path.write_text(json.dumps(entries, indent=1))


class LocalApi:
    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = OUT / "local-api.log"
        self.process = None

    def start(self):
        check(LOCAL_API.is_file() and os.access(LOCAL_API, os.X_OK),
              f"no local API binary at {LOCAL_API} (tests/console.sh builds it: cargo build --release -p local-api)")
        tokens = OUT / "tokens.json"
        write_tokens(tokens)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(LOCAL_API), "--port", str(self.port), "--tokens", str(tokens), "--cleanup-every", "0",
             # The demo data as seeded, still: the screenshots and the checks against the API's
             # answers do not race the demo clients' comings and goings.
             "--demo-activity-every", "0"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed(f"the local API exited ({self.process.returncode}); log:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise CheckFailed(f"nothing listens on port {self.port} after 30 s; log:\n{self.log_path.read_text()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process:
            self.log.close()

    def get(self, path_and_query, token=None):
        """(status, body) of a GET, the body parsed as JSON when it is."""
        request = urllib.request.Request(self.base + path_and_query)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw


class Client:
    """One user's WebSocket connection (its session stays online while it is open)."""

    def __init__(self, api, user, device):
        self.user = user
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{api.port}/ws?token={user['token']}&deviceId={device}",
            timeout=10, header=["User-Agent: console-test/1.0 (websocket-client)"],
        )

    def wait_for(self, message_type, timeout):
        """The first message of `message_type` within `timeout` s; every message seen, for errors."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            except websocket.WebSocketConnectionClosedException:
                seen.append("<closed>")
                break
            if not frame:
                seen.append("<closed>")
                break
            message = json.loads(frame)
            seen.append(message)
            if message.get("type") == message_type:
                return message, seen
        return None, seen

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


# ---- The page -----------------------------------------------------------------------------------

ROWS_JS = """() => [...document.querySelectorAll('#sessions tbody tr[data-session-id]')].map(tr => {
  const text = (col) => { const td = tr.querySelector(`td[data-col="${col}"]`); return td ? td.textContent.trim() : null; };
  return {sid: tr.dataset.sessionId, name: text('fullName'), userId: text('userId'), tenantId: text('tenantId'),
          online: text('online'), deviceId: text('deviceId')};
})"""

# #error's own text (the envelope's msg), without the request id in its child span.
ERROR_MSG_JS = """() => [...document.querySelector('#error').childNodes]
  .filter(n => !(n.nodeType === 1 && n.classList.contains('request-id'))).map(n => n.textContent).join('').trim()"""


class Console:
    def __init__(self, page, api):
        self.page = page
        self.api = api
        self.requests = []  # every API request the page made: (method, url, post_data)
        self.page_errors = []
        self.csp_violations = []
        page.on("request", self._on_request)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_request(self, request):
        if urllib.parse.urlsplit(request.url).path.startswith(BASE_PATH):
            self.requests.append((request.method, request.url, request.post_data))

    def _on_console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_violations.append(message.text)

    def rows(self):
        return self.page.evaluate(ROWS_JS)

    def row(self, session_id):
        return self.page.locator(f'#sessions tbody tr[data-session-id="{session_id}"]')

    def wait_rows(self, predicate, message, timeout=5.0):
        """Polls the table until `predicate(rows)` holds; fails with `message` and the rows."""
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.rows()
            if predicate(rows):
                return rows
            self.page.wait_for_timeout(50)
        raise CheckFailed(f"{message}; the table shows: {[(r['name'], r['userId'], r['online']) for r in rows]}")

    def signin(self, token):
        expect(self.page.locator("#signin"), "the sign-in dialog is open").to_be_visible()
        self.page.locator("#token").fill(token)
        self.page.locator("#signin").get_by_role("button", name="Sign in").click()

    def sign_out(self):
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page.locator("#signin"), "Sign out opens the sign-in dialog").to_be_visible()
        expect(self.page.locator("#signin-message")).to_have_text("Signed out.")

    def wait_live(self):
        expect(self.page.locator("#live"), '#live says "Live" once the presence subscription is answered').to_have_text(
            "Live", timeout=10_000
        )

    def header(self, key):
        return self.page.locator(f'#sessions th[data-sort="{key}"]')

    def sort_by(self, key, direction):
        """Clicks the header until it sorts `direction` ("ascending"/"descending"), each click a new read."""
        for _ in range(3):
            if self.header(key).get_attribute("aria-sort") == direction:
                return
            with self.page.expect_response(lambda r: urllib.parse.urlsplit(r.url).path.startswith(BASE_PATH)):
                self.header(key).get_by_role("button").click()
            self.page.wait_for_timeout(100)
        check(self.header(key).get_attribute("aria-sort") == direction, f"{key} does not sort {direction}")

    def screenshot(self, name, full_page=True):
        DOCS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(DOCS / name), full_page=full_page, animations="disabled", caret="hide")


def api_request(method, path_suffix=None):
    """A predicate for page.expect_request: an API call of `method`, path ending `path_suffix`."""

    def matches(request):
        path = urllib.parse.urlsplit(request.url).path
        return request.method == method and path.startswith(BASE_PATH) and (
            path_suffix is None or path == BASE_PATH + path_suffix
        )

    return matches


# ---- The checks ---------------------------------------------------------------------------------

STEPS = []
CURRENT = ["(before the first step)"]


@contextmanager
def step(name):
    started = time.monotonic()
    CURRENT[0] = name
    print(f"-- {name}", flush=True)
    yield
    STEPS.append((name, time.monotonic() - started))
    print(f"   ok ({time.monotonic() - started:.1f} s)", flush=True)


def served_page_is_current(api):
    """The page is built into the binary (include_str!): a binary older than console/ serves an
    older page, and every check below would test that one."""
    for url_path, file in [("/", "index.html"), ("/console/app.js", "app.js"), ("/console/app.css", "app.css")]:
        with urllib.request.urlopen(api.base + url_path, timeout=10) as response:
            served = response.read()
        if served == (ROOT / "console" / file).read_bytes():
            continue
        message = (f"{LOCAL_API} serves a different {url_path} than console/{file}: the binary is older than the "
                   "page; rebuild it (cargo build --release -p local-api)")
        # A binary named on purpose is tested as it is, with a warning.
        check("CONSOLE_LOCAL_API" in os.environ, message)
        print(f"   warning: {message}", flush=True)


def operator_on_demo_data(con):
    """The demo platform operator on the demo data: the documentation's screenshots, the Tenant
    column, a forced offline of a demo user and its audit record, and the phone width."""
    page = con.page
    with step("sign-in dialog on first load; the demo platform operator signs in"):
        page.goto(con.api.base + "/")
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#token"), "focus starts in the token field").to_be_focused()
        check(page.locator("#token").get_attribute("type") == "password", "#token is not type=password")
        expect(page.get_by_label("Bearer token")).to_be_visible()
        con.signin(DEMO_OPERATOR)
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#who")).to_have_text("Platform operator · every tenant")
        expect(page.locator("#sessions th.platform-only"), "the Tenant column shows for a platform caller").to_be_visible()
        expect(page.locator("#tenant"), "the Tenant ID filter shows for a platform caller").to_be_visible()
        con.wait_live()
        rows = con.wait_rows(lambda rows: len(rows) == 25, "25 rows (the default page) of the demo data")
        check(all(r["tenantId"] in ("1", "2") for r in rows), f"Tenant cells: {[r['tenantId'] for r in rows]}")
        expect(page.locator("#total")).to_have_text(f"{con.api.get(BASE_PATH + '?pageSize=1', DEMO_OPERATOR)[1]['data']['total']} sessions")
        expect(page.locator("#error")).to_be_hidden()
        page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring in the docs
        con.screenshot("sessions.png")

    with step("phone width (390x844): the page does not scroll sideways"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(200)
        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        check(widths[0] <= widths[1], f"at 390 px the page itself scrolls sideways: scrollWidth {widths[0]} > clientWidth {widths[1]}")
        expect(page.locator("#sessions")).to_be_visible()
        con.screenshot("phone.png", full_page=False)
        page.set_viewport_size({"width": 1280, "height": 800})

    rows = con.rows()
    victim = next((r for r in rows if r["online"] == "Online" and r["tenantId"] == "1" and r["userId"] not in DEMO_KEEP), None)
    check(victim is not None, "no online demo user of tenant 1 to show in Details")
    with step(f"Details of a demo user ({victim['name']})"):
        with page.expect_request(api_request("GET", "/" + victim["userId"])):
            page.get_by_role("button", name=f"Details of {victim['name']}", exact=True).first.click()
        expect(page.locator("#detail")).to_be_visible()
        expect(page.locator("#detail-user-id")).to_have_text(victim["userId"])
        expect(page.locator("#detail h2")).to_have_text(victim["name"])
        expect(page.locator("#detail-sessions tbody tr").first).to_be_visible()
        con.screenshot("detail.png", full_page=False)
        page.keyboard.press("Escape")
        expect(page.locator("#detail"), "Escape closes Details").to_be_hidden()

    with step(f"force the demo user offline (confirm dialog), then the audit trail"):
        page.get_by_role("button", name=f"Force offline: {victim['name']}", exact=True).first.click()
        dialog = page.locator("#confirm-user")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(victim["userId"])
        expect(page.locator("#broadcast")).to_be_checked()
        con.screenshot("confirm.png", full_page=False)
        with page.expect_request(api_request("POST", "/off")) as posted:
            dialog.get_by_role("button", name="Force offline", exact=True).click()
        body = json.loads(posted.value.post_data)
        check(body == {"receiveObjectType": "USER", "receiveObjectIds": [victim["userId"]], "broadcast": True},
              f"the forced offline's body: {body}")
        expect(page.locator("#notice")).to_contain_text("Forced offline: 1 user")
        with page.expect_request(api_request("GET", "/audit")):
            page.get_by_role("button", name="Audit trail").click()
        expect(page.get_by_role("button", name="Audit trail")).to_have_attribute("aria-current", "page")
        record = page.locator("#audit tbody tr[data-audit-id]").filter(
            has=page.locator('td[data-col="targetIds"]', has_text=victim["userId"]))
        expect(record.first).to_be_visible()
        con.screenshot("audit.png")
        page.get_by_role("button", name="Sessions").click()

    with step("Force tenant offline… shows for a platform caller only once a Tenant ID filter is set"):
        expect(page.locator("#force-tenant")).to_be_hidden()
        page.locator("#sessions-view").get_by_label("Tenant ID", exact=True).fill("2")
        expect(page.locator("#force-tenant")).to_be_visible()
        con.wait_rows(lambda rows: rows and all(r["tenantId"] == "2" for r in rows), "the Tenant ID filter 2 shows other tenants")
        page.locator("#sessions-view").get_by_label("Tenant ID", exact=True).fill("")
        expect(page.locator("#force-tenant")).to_be_hidden()
        con.sign_out()


def tenant_admin_with_big_ids(con, clients):
    page = con.page
    connected = {u["id"]: u for u in USERS[:CONNECTED]}
    with step("sign in as the admin of tenant 9007199254740995"):
        con.signin(ADMIN_TOKEN)
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#who")).to_contain_text("Tenant admin")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#sessions th.platform-only"), "no Tenant column for a tenant admin").to_be_hidden()
        expect(page.locator("#tenant"), "no Tenant ID filter for a tenant admin").to_be_hidden()
        con.wait_live()
        # 24 users and the console's own session (the admin's, device admin-console).
        rows = con.wait_rows(lambda rows: len(rows) == CONNECTED + 1, f"{CONNECTED + 1} rows (24 users and the console)")
        expect(page.locator("#total")).to_have_text(f"{CONNECTED + 1} sessions")
        who = page.locator("#who").inner_text()
        check(who == "Tenant admin" or who.endswith(TENANT), f"#who names a tenant other than {TENANT}: {who!r}")

    with step("User ID cells are the exact 17-digit strings (no rounding past 2^53)"):
        shown = sorted(r["userId"] for r in rows)
        check(shown == sorted(list(connected) + [ADMIN_ID]),
              f"User ID cells {shown} are not the ids written {sorted(list(connected) + [ADMIN_ID])}")
        for r in rows:
            expected_name = connected[r["userId"]]["name"] if r["userId"] in connected else "Big Tenant Admin"
            check(r["name"] == expected_name, f"row of {r['userId']} names {r['name']!r}, not {expected_name!r}")

    with step(f"search as you type ({SEARCH_TEXT!r}, no Enter): a /online/search request narrows the rows"):
        expected = sorted(u["id"] for u in connected.values() if SEARCH_TEXT in u["name"].lower())
        with page.expect_request(api_request("GET", "/search")) as searched:
            page.locator("#search").press_sequentially(SEARCH_TEXT, delay=40)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(searched.value.url).query)
        typed = query.get("fullName", [""])[0]
        check(typed and SEARCH_TEXT.startswith(typed), f"the search request's query is {query}, not fullName={SEARCH_TEXT}")
        rows = con.wait_rows(lambda rows: sorted(r["userId"] for r in rows) == expected,
                             f"after typing {SEARCH_TEXT!r} the rows are not the users {expected}")
        expect(page.locator("#total")).to_have_text(f"{len(expected)} sessions")
        with page.expect_request(api_request("GET", "")):
            page.locator("#search").fill("")
        con.wait_rows(lambda rows: len(rows) == CONNECTED + 1, "emptying the search does not bring back every row")

    with step("10 rows a page; Next page and Previous page"):
        page.get_by_label("Rows per page").select_option("10")
        pages = math.ceil((CONNECTED + 1) / 10)
        expect(page.locator("#page-label")).to_have_text(f"Page 1 of {pages}")
        first = con.wait_rows(lambda rows: len(rows) == 10, "10 rows on page 1")
        expect(page.locator("#prev")).to_be_disabled()
        page.get_by_role("button", name="Next page").click()
        expect(page.locator("#page-label")).to_have_text(f"Page 2 of {pages}")
        first_ids = {r["sid"] for r in first}
        second = con.wait_rows(lambda rows: len(rows) == 10 and not first_ids & {r["sid"] for r in rows},
                               "page 2 does not show 10 rows other than page 1's")
        expect(page.locator("#prev")).to_be_enabled()
        page.get_by_role("button", name="Previous page").click()
        expect(page.locator("#page-label")).to_have_text(f"Page 1 of {pages}")
        con.wait_rows(lambda rows: [r["sid"] for r in rows] == [r["sid"] for r in first], "Previous page does not show page 1 again")
        check(second, "page 2 was empty")

    with step("sort by Name: aria-sort flips, the order with it"):
        expect(con.header("onlineDate"), "Online since sorts by default, newest first").to_have_attribute("aria-sort", "descending")
        con.header("fullName").get_by_role("button").click()
        expect(con.header("fullName")).to_have_attribute("aria-sort", "ascending")
        check(con.header("onlineDate").get_attribute("aria-sort") is None, "Online since still has aria-sort")
        everyone = sorted([u["name"] for u in connected.values()] + ["Big Tenant Admin"], key=str.casefold)
        up = con.wait_rows(lambda rows: [r["name"] for r in rows] == everyone[:10],
                           f"ascending by name, page 1 should be {everyone[:10]}")
        expect(page.locator("#page-label")).to_have_text(f"Page 1 of {pages}")
        con.header("fullName").get_by_role("button").click()
        expect(con.header("fullName")).to_have_attribute("aria-sort", "descending")
        down = con.wait_rows(lambda rows: [r["name"] for r in rows] == everyone[::-1][:10],
                             f"descending by name, page 1 should be {everyone[::-1][:10]}")
        check([r["name"] for r in up] != [r["name"] for r in down], "the order did not change")

    rows = con.rows()
    shown_users = [r for r in rows if r["userId"] in connected]
    check(len(shown_users) >= 2, f"too few users on the page: {rows}")
    detail_user, forced_row = connected[shown_users[0]["userId"]], shown_users[1]
    forced_user = connected[forced_row["userId"]]
    with step(f"Details of {detail_user['name']}: the exact id in the request path and the dialog"):
        with page.expect_request(api_request("GET", "/" + detail_user["id"])) as asked:
            page.get_by_role("button", name=f"Details of {detail_user['name']}", exact=True).click()
        check(urllib.parse.urlsplit(asked.value.url).path == f"{BASE_PATH}/{detail_user['id']}",
              f"the detail request: {asked.value.url}")
        expect(page.locator("#detail")).to_be_visible()
        expect(page.locator("#detail-user-id")).to_have_text(detail_user["id"])
        expect(page.locator("#detail-tenant-id")).to_have_text(TENANT)
        page.get_by_role("button", name="Close", exact=True).click()
        expect(page.locator("#detail")).to_be_hidden()

    with step(f"force {forced_user['name']} offline: confirm, exact id in the body, FORCED_OFFLINE on their socket, row Offline"):
        page.get_by_role("button", name=f"Force offline: {forced_user['name']}", exact=True).click()
        dialog = page.locator("#confirm-user")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(forced_user["id"])
        expect(page.locator("#broadcast")).to_be_checked()
        with page.expect_request(api_request("POST", "/off")) as posted:
            dialog.get_by_role("button", name="Force offline", exact=True).click()
        raw = posted.value.post_data
        body = json.loads(raw)
        check(body.get("receiveObjectIds") == [forced_user["id"]],
              f"receiveObjectIds is {body.get('receiveObjectIds')!r} (raw body {raw}), not [{forced_user['id']!r}]")
        check(body.get("receiveObjectType") == "USER" and body.get("broadcast") is True, f"the body: {raw}")
        message, seen = clients[forced_user["id"]].wait_for("FORCED_OFFLINE", timeout=5)
        check(message is not None, f"{forced_user['name']}'s WebSocket got no FORCED_OFFLINE within 5 s; it got {seen}")
        expect(dialog).to_be_hidden()
        expect(con.row(forced_row["sid"]).locator('td[data-col="online"]'), "the forced user's row").to_have_text("Offline")
        expect(page.locator("#notice")).to_have_text(
            "Forced offline: 1 user, 1 session ended, 1 token revoked, 1 connection closed.")
        expect(page.locator("#error")).to_be_hidden()
        clients.pop(forced_user["id"]).close()

    with step("live: a new connection's row appears and a closed one's turns Offline, each within 2 s"):
        con.sort_by("onlineDate", "descending")
        expect(page.locator("#page-label")).to_have_text(f"Page 1 of {pages}")
        con.wait_live()
        page.wait_for_timeout(700)  # let the refresh after the sort settle: only the socket may change the page now
        newcomer = USERS[CONNECTED]
        started = time.monotonic()
        clients[newcomer["id"]] = Client(con.api, newcomer, "live-check")
        rows = con.wait_rows(lambda rows: any(r["userId"] == newcomer["id"] and r["online"] == "Online" for r in rows),
                             f"no row of the new connection ({newcomer['name']}, {newcomer['id']}) within 2 s",
                             timeout=2.0)
        appeared = time.monotonic() - started
        leaver_row = next((r for r in rows if r["userId"] in clients and r["userId"] != newcomer["id"] and r["online"] == "Online"), None)
        check(leaver_row is not None, f"no other online user's row on the page to disconnect: {rows}")
        started = time.monotonic()
        clients.pop(leaver_row["userId"]).close()
        con.wait_rows(lambda rows: any(r["sid"] == leaver_row["sid"] and r["online"] == "Offline" for r in rows),
                      f"the row of {leaver_row['name']} ({leaver_row['userId']}) did not turn Offline within 2 s of its close",
                      timeout=2.0)
        print(f"   new row after {appeared:.2f} s, Offline after {time.monotonic() - started:.2f} s")

    with step("the audit trail shows the forced offline"):
        page.get_by_role("button", name="Audit trail").click()
        expect(page.locator("#audit-view")).to_be_visible()
        record = page.locator("#audit tbody tr[data-audit-id]").filter(
            has=page.locator('td[data-col="targetIds"]', has_text=forced_user["id"]))
        expect(record).to_have_count(1)
        cells = record.evaluate("tr => Object.fromEntries([...tr.cells].map(td => [td.dataset.col, td.textContent.trim()]))")
        want = {"targetType": "USER", "targetIds": forced_user["id"], "broadcast": "Yes", "operatorUserId": ADMIN_ID,
                "users": "1", "sessions": "1", "tokens": "1", "connections": "1"}
        check(all(cells.get(k) == v for k, v in want.items()), f"the audit record {cells}, wanted {want}")
        expect(page.locator("#audit-total")).to_have_text("1 record")
        page.get_by_role("button", name="Sessions").click()
        expect(page.locator("#sessions-view")).to_be_visible()

    with step("Force tenant offline…: the confirm button waits for the exact 17-digit tenant id (then Cancel)"):
        page.get_by_role("button", name="Force tenant offline…").click()
        dialog = page.locator("#confirm-tenant")
        expect(dialog).to_be_visible()
        submit = dialog.get_by_role("button", name="Force tenant offline")
        expect(submit).to_be_disabled()
        rounded = str(int(float(TENANT)))  # what a double makes of it
        check(rounded != TENANT, "the tenant id is not beyond a double")
        page.get_by_label("Type the tenant ID to confirm").fill(rounded)
        expect(submit, f"the rounded id {rounded} enables the confirm button").to_be_disabled()
        page.get_by_label("Type the tenant ID to confirm").fill(TENANT)
        expect(submit).to_be_enabled()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()

    with step("keyboard: Tab from the top of the page reaches the search box"):
        # A click on the heading (not focusable) moves the start of sequential focus navigation there.
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
        page.locator("h1").click()
        check(page.evaluate("() => document.activeElement === document.body"), "focus is not back on the page's body")
        for presses in range(1, 16):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement && document.activeElement.id") == "search":
                break
        else:
            raise CheckFailed("15 presses of Tab from the top never focused #search")
        print(f"   #search after {presses} Tab presses")


def sign_in_errors(con):
    page = con.page
    with step("a bad token: the sign-in dialog comes back with the 401's msg"):
        con.sign_out()
        status, envelope = con.api.get(BASE_PATH + "?pageSize=1", BAD_TOKEN)
        check(status == 401, f"the API answered {status} to a bad token")
        con.signin(BAD_TOKEN)
        expect(page.locator("#signin-message")).to_have_text(envelope["msg"])
        expect(page.locator("#signin")).to_be_visible()

    with step("a token without permissions: #error shows the 403's msg"):
        before = len(con.requests)
        con.signin(NO_PERMISSION_TOKEN)
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#error")).to_be_visible()
        lists = [url for method, url, _ in con.requests[before:]
                 if method == "GET" and urllib.parse.urlsplit(url).path == BASE_PATH]
        check(lists, "the page made no list request")
        split = urllib.parse.urlsplit(lists[-1])
        status, envelope = con.api.get(f"{split.path}?{split.query}", NO_PERMISSION_TOKEN)
        check(status == 403, f"the API answered {status} to the no-permission token")
        expect(page.locator("#error")).to_contain_text(envelope["msg"])
        shown = page.evaluate(ERROR_MSG_JS)
        check(shown == envelope["msg"], f"#error says {shown!r}; the API's msg is {envelope['msg']!r}")
        expect(page.locator("#error span.request-id")).to_contain_text("request id")
        check(con.rows() == [], "the sessions table is not empty")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    api = LocalApi()
    clients = {}
    con = None
    failed = None
    try:
        with sync_playwright() as playwright:
            name = LOCAL_API.relative_to(ROOT) if LOCAL_API.is_relative_to(ROOT) else LOCAL_API
            with step(f"start {name} on port {api.port}; it serves console/ as it is on disk"):
                api.start()
                served_page_is_current(api)
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"], headless=os.environ.get("CONSOLE_HEADED") != "1")
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                              timezone_id="UTC", color_scheme="light")
                context.set_default_timeout(5_000)
                expect.set_options(timeout=5_000)
                page = context.new_page()
                con = Console(page, api)
                try:
                    operator_on_demo_data(con)
                    with step(f"{CONNECTED} WebSocket clients of tenant {TENANT} connect"):
                        for user in USERS[:CONNECTED]:
                            clients[user["id"]] = Client(api, user, f"device-{user['id'][-4:]}")
                    tenant_admin_with_big_ids(con, clients)
                    sign_in_errors(con)
                    check(not con.page_errors, f"uncaught errors in the page: {con.page_errors}")
                    check(not con.csp_violations, f"Content-Security-Policy violations: {con.csp_violations}")
                except Exception:
                    try:
                        page.screenshot(path=str(OUT / "failure.png"), full_page=True)
                    except PlaywrightError:
                        pass
                    raise
            finally:
                browser.close()
    except Exception as error:  # noqa: BLE001 - every failure is reported the same way
        failed = error
    finally:
        for client in clients.values():
            client.close()
        api.stop()
    elapsed = time.monotonic() - started
    if failed is not None:
        print(f"\nFAILED: {CURRENT[0]}", file=sys.stderr)
        print("".join(traceback.format_exception(failed)), file=sys.stderr)
        if con and con.page_errors:
            print(f"uncaught errors in the page: {con.page_errors}", file=sys.stderr)
        artefacts = [p for p in (OUT / "failure.png", api.log_path) if p.exists()]
        print(f"artefacts: {', '.join(map(str, artefacts))}", file=sys.stderr)
        sys.exit(1)
    shots = ", ".join(f"{p.name} {p.stat().st_size // 1024} KiB" for p in sorted(DOCS.glob("*.png")))
    print(f"\nconsole test passed: {len(STEPS)} steps in {elapsed:.1f} s; screenshots in docs/console/: {shots}")


if __name__ == "__main__":
    main()
