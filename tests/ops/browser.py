"""A minimal browser for tests against a real server: cookies, CSRF tokens, no redirects followed."""
from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

from webapp.testing import csrf_fields


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                timeout: float = 60) -> tuple[int, str]:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")

    def token(self, path: str) -> str:
        _status, html = self.request("GET", path)
        token = csrf_fields(html).get("csrf_token")
        assert token, f"no CSRF token on {path}"
        return token

    def login(self, username: str, password: str = "shodaku-demo-2026") -> None:
        status, _ = self.request("POST", "/auth/login", {"username": username, "password": password,
                                                         "csrf_token": self.token("/auth/login")})
        assert status == 302, f"login of {username} failed: {status}"

    def post_form(self, path: str, data: dict, token_page: str | None = None, **kwargs) -> tuple[int, str]:
        return self.request("POST", path, {**data, "csrf_token": self.token(token_page or path)}, **kwargs)
