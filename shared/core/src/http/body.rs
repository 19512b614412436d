use crate::ports::BoxStream;
use bytes::Bytes;

/// A stream of body chunks. Errors that happen mid-stream are part of the content
/// (an SSE `error` event), so the stream itself cannot fail.
pub type ByteStream = BoxStream<'static, Bytes>;

/// A response body: whole, or streamed (Server-Sent Events).
pub enum Body {
    Full(Bytes),
    Stream(ByteStream),
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(Bytes::new())
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(b) => f.debug_tuple("Full").field(&b.len()).finish(),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}
