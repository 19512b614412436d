//! Server-sent events, as OpenAI, Anthropic and Gemini stream their replies, decoded
//! with `eventsource-stream` (which already copes with lines, UTF-8 characters and CRLFs
//! split across chunks).

use super::wire::{Decode, drive, ended_early};
use super::{BodyStream, EventStream, ProviderError};
use crate::ports::HttpError;
use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};

pub(super) use eventsource_stream::Event;

/// The events `decoder` makes of the SSE events in `body`.
pub(super) fn events(body: BodyStream, decoder: impl Decode<Event>) -> EventStream {
    let events = strip_bom(body).eventsource().map(|event| event.map_err(error));
    drive(events, decoder)
}

fn error(e: EventStreamError<HttpError>) -> ProviderError {
    match e {
        EventStreamError::Transport(e) => e.into(),
        // Only part of a character before the end: the body was cut.
        EventStreamError::Utf8(e) if e.utf8_error().error_len().is_none() => ended_early(),
        EventStreamError::Utf8(e) => ProviderError::Protocol(format!("event stream is not UTF-8: {e}")),
        EventStreamError::Parser(e) => ProviderError::Protocol(format!("bad event stream: {e}")),
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `body` without a leading byte-order mark (which SSE allows). `eventsource-stream`
/// 0.2.3 would strip it itself but slices it at byte 1, inside the character, and
/// panics; so it must never see one.
fn strip_bom(body: BodyStream) -> impl Stream<Item = Result<Bytes, HttpError>> {
    // `head` holds the first bytes until there are enough to tell.
    let state = (body, Some(Vec::new()));
    futures::stream::unfold(state, |(mut body, mut head)| async move {
        let Some(start) = head.as_mut() else {
            let item = body.next().await?;
            return Some((item, (body, None)));
        };
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    start.extend_from_slice(&chunk);
                    if start.len() < BOM.len() && BOM.starts_with(start) {
                        continue;
                    }
                    let mut start = std::mem::take(start);
                    if start.starts_with(BOM) {
                        start.drain(..BOM.len());
                    }
                    return Some((Ok(Bytes::from(start)), (body, None)));
                }
                Some(Err(e)) => return Some((Err(e), (body, None))),
                None if start.is_empty() => return None,
                None => return Some((Ok(Bytes::from(std::mem::take(start))), (body, None))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(chunks: &[&[u8]]) -> Vec<u8> {
        let body: BodyStream = Box::pin(futures::stream::iter(
            chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
        ));
        let out: Vec<_> = futures::executor::block_on(strip_bom(body).collect());
        out.into_iter().flat_map(|c| c.unwrap().to_vec()).collect()
    }

    #[test]
    fn a_leading_bom_is_dropped_however_it_is_split() {
        assert_eq!(stripped(&[b"\xEF\xBB\xBFdata: x\n\n"]), b"data: x\n\n");
        assert_eq!(stripped(&[b"\xEF", b"", b"\xBB", b"\xBFdata", b": x\n\n"]), b"data: x\n\n");
        assert_eq!(stripped(&[b"data: \xEF\xBB\xBF\n\n"]), b"data: \xEF\xBB\xBF\n\n");
        assert_eq!(stripped(&[b"\xEF\xBB"]), b"\xEF\xBB");
        assert_eq!(stripped(&[b"d", b"ata"]), b"data");
        assert_eq!(stripped(&[]), b"");
    }
}
