//! The auth cookies and their attributes.

use super::{Request, header_str};
use http::header;

pub const ACCESS: &str = "confab_access";
pub const REFRESH: &str = "confab_refresh";
pub const CSRF: &str = "confab_csrf";
pub const OIDC_STATE: &str = "confab_oidc_state";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn get<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

pub struct CookieSpec {
    pub name: &'static str,
    pub path: &'static str,
    pub http_only: bool,
    pub same_site: &'static str,
}

pub const ACCESS_COOKIE: CookieSpec =
    CookieSpec { name: ACCESS, path: "/", http_only: true, same_site: "Lax" };
// Only the auth endpoints ever see the refresh token.
pub const REFRESH_COOKIE: CookieSpec =
    CookieSpec { name: REFRESH, path: "/auth", http_only: true, same_site: "Strict" };
// Readable by the page's script so it can echo it in X-CSRF-Token; the value is bound
// to the login, so a cookie planted by a sibling domain does not pass.
pub const CSRF_COOKIE: CookieSpec =
    CookieSpec { name: CSRF, path: "/", http_only: false, same_site: "Strict" };

// Binds an identity-provider sign-in to the browser that started it. Lax: the
// provider's redirect back is a cross-site top-level navigation.
pub const OIDC_STATE_COOKIE: CookieSpec =
    CookieSpec { name: OIDC_STATE, path: "/auth/oidc/", http_only: true, same_site: "Lax" };

impl CookieSpec {
    pub fn set(&self, value: &str, max_age: i64) -> String {
        self.set_over(value, max_age, true)
    }

    /// As [`set`](CookieSpec::set), with `Secure` only when `https`.
    pub fn set_over(&self, value: &str, max_age: i64, https: bool) -> String {
        let http_only = if self.http_only { "; HttpOnly" } else { "" };
        let secure = if https { "; Secure" } else { "" };
        format!(
            "{}={value}; Path={}; Max-Age={max_age}{secure}; SameSite={}{http_only}",
            self.name, self.path, self.same_site
        )
    }

    pub fn clear(&self) -> String {
        self.set("", 0)
    }
}

/// The CSRF token the request presents: its header, when it equals its cookie (double
/// submit). Callers then check it is the login's own.
pub fn csrf_presented(req: &Request) -> Option<&str> {
    let sent = header_str(req, header::HeaderName::from_static("x-csrf-token"))?;
    let cookie = get(req, CSRF)?;
    bool::from(subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), sent.as_bytes())).then_some(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(cookie: &str, csrf_header: Option<&str>) -> Request {
        let mut b = http::Request::builder().header(header::COOKIE, cookie);
        if let Some(h) = csrf_header {
            b = b.header("x-csrf-token", h);
        }
        b.body(Bytes::new()).unwrap()
    }

    #[test]
    fn reads_cookies_by_exact_name() {
        let req = request("a=1; confab_access=tok; confab_access_x=no", None);
        assert_eq!(get(&req, ACCESS), Some("tok"));
        assert_eq!(get(&req, REFRESH), None);
    }

    #[test]
    fn csrf_needs_matching_header_and_cookie() {
        assert_eq!(csrf_presented(&request("confab_csrf=abc", Some("abc"))), Some("abc"));
        assert_eq!(csrf_presented(&request("confab_csrf=abc", Some("abd"))), None);
        assert_eq!(csrf_presented(&request("confab_csrf=abc", None)), None);
        assert_eq!(csrf_presented(&request("other=abc", Some("abc"))), None);
    }

    #[test]
    fn cookie_attributes() {
        let set = REFRESH_COOKIE.set("v", 60);
        assert_eq!(set, "confab_refresh=v; Path=/auth; Max-Age=60; Secure; SameSite=Strict; HttpOnly");
        assert!(!CSRF_COOKIE.set("v", 60).contains("HttpOnly"));
        assert!(ACCESS_COOKIE.clear().contains("Max-Age=0"));
    }
}
