//! hyper answers some malformed requests itself (a bad request line or header: 400; a
//! URI or head too long: 414, 431) before any service runs, so those answers miss the
//! headers the middleware chain puts on every other one, and hyper has no hook for
//! them. They are recognisable on the wire: an error status whose first header is
//! hyper's own `connection: close` (every answer of ours starts with our headers). The
//! listener here wraps each connection so that such an answer gets the security headers.

use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections with TCP_NODELAY (streamed replies are many small writes:
/// without it Nagle's algorithm and delayed ACKs hold the last ones back ~40 ms), each
/// wrapped in [`Guarded`].
pub struct GuardedListener(pub TcpListener);

impl Listener for GuardedListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        (Guarded { inner: tcp, pending: Vec::new() }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(&self.0)
    }
}

/// A connection whose writes pass through, except hyper's own error answers, which are
/// written with the security headers added.
pub struct Guarded<T> {
    inner: T,
    /// A rewritten answer not yet fully written.
    pending: Vec<u8>,
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let Some(rewritten) = with_security_headers(buf) else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        self.pending = rewritten;
        if let Poll::Ready(Err(e)) = self.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's own error answer with the security headers after its status line, or None
/// for anything else.
fn with_security_headers(written: &[u8]) -> Option<Vec<u8>> {
    let status_line_end = written.windows(2).position(|w| w == b"\r\n")? + 2;
    let (status_line, rest) = written.split_at(status_line_end);
    let hypers_own = status_line.starts_with(b"HTTP/1.1 4") && rest.starts_with(b"connection: close\r\n");
    if !hypers_own {
        return None;
    }
    let mut headers = axum::http::Response::new(confab_core::http::Body::empty());
    confab_core::middleware::outer_headers(&mut headers, None, &[]);
    let mut out = status_line.to_vec();
    for (name, value) in headers.headers() {
        out.extend_from_slice(format!("{name}: ").as_bytes());
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::with_security_headers;

    #[test]
    fn hypers_own_errors_get_the_headers_and_ours_pass_unchanged() {
        let hypers = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(with_security_headers(hypers).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        for header in [
            "strict-transport-security: max-age=",
            "x-content-type-options: nosniff",
            "x-frame-options: DENY",
        ] {
            assert!(out.contains(&format!("\r\n{header}")), "{out}");
        }
        assert!(out.ends_with("\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"), "{out}");
        let ours =
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{}";
        assert!(with_security_headers(ours).is_none());
        assert!(with_security_headers(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n").is_none());
        assert!(with_security_headers(b"data: partial").is_none());
    }
}
