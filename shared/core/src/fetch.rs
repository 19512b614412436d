//! The guarded fetcher: every URL a user hands confab (image parts now, web pages for
//! research later) is read through here and nowhere else, so that no user can make
//! confab reach its own network (loopback, private ranges, cloud instance metadata).
//!
//! http(s) only; a literal address that is not public is refused here; a name is
//! resolved by the HTTP adapter, which connects only to public addresses (marked by
//! [`Guarded`]) and follows no redirect: redirects are followed here, at most
//! [`MAX_REDIRECTS`], each hop checked again. Bodies are capped in size, the whole
//! fetch in time. Hosts in `CONFAB_FETCH_ALLOW_HOSTS` (`host:port`) are exempt.

use crate::app::App;
use crate::ports::{Guarded, HttpError, HttpResponse};
use crate::trace::traced;
use bytes::Bytes;
use futures::StreamExt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use url::{Host, Url};

pub const MAX_REDIRECTS: usize = 5;
/// The whole fetch (every hop and the body) must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not one confab may fetch.
    #[error("{0}")]
    Refused(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("timed out")]
    Timeout,
    #[error("the server answered {0}")]
    Status(u16),
    #[error("cannot fetch: {0}")]
    Failed(String),
}

/// A fetched body.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The URL the body came from (after redirects).
    pub url: String,
    /// The `Content-Type` without parameters, lower case.
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Reads `url` (following redirects) into at most `max_bytes`.
pub async fn fetch(app: &App, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
    let deadline = app.clock.sleep(TIMEOUT);
    let fetching = fetch_hops(app, url, max_bytes);
    match futures::future::select(Box::pin(fetching), deadline).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(_) => Err(FetchError::Timeout),
    }
}

async fn fetch_hops(app: &App, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
    let mut url = Url::parse(url).map_err(|e| FetchError::Refused(format!("not a URL: {e}")))?;
    for _ in 0..=MAX_REDIRECTS {
        let guard = check(&url, &app.config.fetch_allow_hosts)?;
        let resp = app.http.send(traced(get(&url, guard)?)).await.map_err(failed)?;
        if resp.status.is_redirection() {
            url = next_hop(&url, &resp)?;
            continue;
        }
        if !resp.status.is_success() {
            return Err(FetchError::Status(resp.status.as_u16()));
        }
        return read(url, resp, max_bytes).await;
    }
    Err(FetchError::TooManyRedirects)
}

fn failed(e: HttpError) -> FetchError {
    match e {
        HttpError::Timeout => FetchError::Timeout,
        e => FetchError::Failed(e.to_string()),
    }
}

fn get(url: &Url, guard: Guarded) -> Result<http::Request<Bytes>, FetchError> {
    let mut request = http::Request::get(url.as_str())
        .header(http::header::USER_AGENT, "confab")
        .body(Bytes::new())
        .map_err(|e| FetchError::Refused(format!("not a URL: {e}")))?;
    request.extensions_mut().insert(guard);
    Ok(request)
}

/// Where a redirect points, relative to the URL that answered it.
fn next_hop(url: &Url, resp: &HttpResponse) -> Result<Url, FetchError> {
    let location = resp
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(FetchError::Status(resp.status.as_u16()))?;
    url.join(location).map_err(|e| FetchError::Refused(format!("bad redirect: {e}")))
}

async fn read(url: Url, resp: HttpResponse, max_bytes: usize) -> Result<Fetched, FetchError> {
    let declared = resp.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    if declared.is_some_and(|n: usize| n > max_bytes) {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let content_type = resp
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase());
    let mut body = Vec::new();
    let mut chunks = resp.body;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(failed)?;
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { url: url.into(), content_type, body: body.into() })
}

/// Whether `url` may be fetched, and how the adapter must guard the connection.
pub fn check(url: &Url, allow_hosts: &[String]) -> Result<Guarded, FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Refused(format!("only http(s) URLs may be fetched, not {}:", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Refused("URLs with credentials are not fetched".into()));
    }
    let host = url.host().ok_or_else(|| FetchError::Refused("the URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(0);
    let named = format!("{}:{port}", url.host_str().unwrap_or_default());
    if allow_hosts.iter().any(|h| h.eq_ignore_ascii_case(&named)) {
        return Ok(Guarded { public_only: false });
    }
    let literal = match host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a)),
        Host::Domain(d) if is_local_name(d) => return Err(refused(&named)),
        Host::Domain(_) => None,
    };
    match literal {
        Some(ip) if !is_public(ip) => Err(refused(&named)),
        _ => Ok(Guarded { public_only: true }),
    }
}

fn refused(host: &str) -> FetchError {
    FetchError::Refused(format!("{host} is not a public address"))
}

/// Names that resolve to this machine without asking DNS.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether `ip` is an address on the public internet: not loopback, private,
/// link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved or
/// documentation ranges, nor IPv6 unique-local/link-local, nor an IPv4 address hidden
/// in IPv6 (mapped, compatible, NAT64, 6to4) that is any of these.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [b0, b1, b2, _] = a.octets();
    let private = a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || b0 == 0
        || b0 >= 240
        || (b0 == 100 && (64..128).contains(&b1))
        || (b0 == 192 && b1 == 0 && b2 == 0)
        || (b0 == 198 && (b1 == 18 || b1 == 19));
    !private
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 included).
        [0, 0, 0, 0, 0, 0xffff | 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // SIIT ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // NAT64 64:ff9b::a.b.c.d; the local-use prefix 64:ff9b:1::/48 is a network's own.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => false,
        // 6to4 2002:a.b.c.d::.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        // Teredo and documentation.
        [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => false,
        // Unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8.
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first & 0xff00) == 0xff00)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::testing::{self, Reply, TestApp};

    fn app(allow: &[&str]) -> TestApp {
        let config =
            Config { fetch_allow_hosts: allow.iter().map(|h| h.to_string()).collect(), ..Config::default() };
        testing::app().with_config(config).build()
    }

    fn checked(url: &str) -> Result<Guarded, FetchError> {
        check(&Url::parse(url).unwrap(), &[])
    }

    #[test]
    fn literal_addresses_that_are_not_public_are_refused() {
        let refused = [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a00:1]/",
            "http://[64:ff9b:1::5db8:d70e]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[2002:7f00:1::]/",
            // Decimal, octal and hex forms of 127.0.0.1, as URL parsers (and so reqwest) read them.
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://localhost:8080/",
            "http://a.localhost/",
        ];
        for url in refused {
            assert!(matches!(checked(url), Err(FetchError::Refused(_))), "{url}");
        }
        for url in ["https://93.184.215.14/", "https://[2606:4700::1111]/", "https://example.com/a.png"] {
            assert_eq!(checked(url), Ok(Guarded { public_only: true }), "{url}");
        }
    }

    #[test]
    fn only_http_without_credentials() {
        for url in
            ["file:///etc/passwd", "ftp://example.com/", "gopher://example.com/", "https://u:p@example.com/"]
        {
            assert!(matches!(checked(url), Err(FetchError::Refused(_))), "{url}");
        }
    }

    #[test]
    fn allowed_hosts_are_exempt_by_host_and_port() {
        let allow = ["127.0.0.1:8080".to_string()];
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(check(&url("http://127.0.0.1:8080/x"), &allow), Ok(Guarded { public_only: false }));
        assert!(check(&url("http://127.0.0.1:8081/x"), &allow).is_err());
    }

    #[test]
    fn fetches_marking_the_request_and_following_checked_redirects() {
        let t = app(&[]);
        t.http.reply(Reply::new(302).header("location", "/b.png"));
        t.http.reply(Reply::new(200).header("content-type", "image/png; x=y").body("PNG"));
        let fetched = t.run(fetch(&t.app, "https://example.com/a", 10)).unwrap();
        assert_eq!(fetched.content_type.as_deref(), Some("image/png"));
        assert_eq!((fetched.url.as_str(), &fetched.body[..]), ("https://example.com/b.png", &b"PNG"[..]));
        let sent = t.http.sent();
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|s| s.guarded == Some(Guarded { public_only: true })));
    }

    #[test]
    fn a_redirect_to_a_private_address_is_refused() {
        let t = app(&[]);
        t.http.reply(Reply::new(301).header("location", "http://169.254.169.254/latest/meta-data/"));
        let e = t.run(fetch(&t.app, "https://example.com/a", 10)).unwrap_err();
        assert!(matches!(e, FetchError::Refused(_)), "{e:?}");
        assert_eq!(t.http.sent().len(), 1);
    }

    #[test]
    fn an_allowed_host_redirecting_elsewhere_is_checked_again() {
        let t = app(&["127.0.0.1:8080"]);
        t.http.reply(Reply::new(302).header("location", "http://127.0.0.1:9999/admin"));
        t.http.reply(Reply::new(302).header("location", "http://[::ffff:10.0.0.1]/"));
        for _ in 0..2 {
            let e = t.run(fetch(&t.app, "http://127.0.0.1:8080/page", 10)).unwrap_err();
            assert!(matches!(e, FetchError::Refused(_)), "{e:?}");
        }
        let sent = t.http.sent();
        assert!(sent.iter().all(|s| s.uri.starts_with("http://127.0.0.1:8080/")), "{sent:?}");
        assert!(sent.iter().all(|s| s.guarded == Some(Guarded { public_only: false })));
    }

    #[test]
    fn at_most_five_redirects() {
        let t = app(&[]);
        for _ in 0..=MAX_REDIRECTS {
            t.http.reply(Reply::new(307).header("location", "https://example.com/again"));
        }
        let e = t.run(fetch(&t.app, "https://example.com/a", 10)).unwrap_err();
        assert_eq!(e, FetchError::TooManyRedirects);
        assert_eq!(t.http.sent().len(), MAX_REDIRECTS + 1);
    }

    #[test]
    fn bodies_are_capped_declared_or_not() {
        let t = app(&[]);
        t.http.reply(Reply::new(200).header("content-length", "11").body("01234567890"));
        t.http.reply(Reply::new(200).chunks(["012345", "67890"]));
        t.http.reply(Reply::new(200).chunks(["01234", "56789"]));
        for _ in 0..2 {
            let e = t.run(fetch(&t.app, "https://example.com/a", 10)).unwrap_err();
            assert_eq!(e, FetchError::TooLarge(10));
        }
        assert_eq!(t.run(fetch(&t.app, "https://example.com/a", 10)).unwrap().body.len(), 10);
    }

    #[test]
    fn errors_and_slow_servers() {
        let t = app(&[]);
        t.http.reply(Reply::new(404));
        assert_eq!(t.run(fetch(&t.app, "https://example.com/a", 10)), Err(FetchError::Status(404)));
        t.http.stall();
        assert_eq!(t.run(fetch(&t.app, "https://example.com/a", 10)), Err(FetchError::Timeout));
    }
}
