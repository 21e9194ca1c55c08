"""What the browser tests share besides fixtures: the customer, the login and the waits."""

from __future__ import annotations

CUSTOMER = "5511987654321"
USERNAME, PASSWORD = "ana", "inbox-pass-1"
WAIT_MS = 15_000  # pushes come at once, polling every 3 s; statuses within 5 s


def log_in(page, base: str, username: str = USERNAME) -> None:
    page.goto(f"{base}/inbox/")
    assert "/inbox/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/inbox/")
