//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock streams
//! its replies. Each message is
//! `total length (u32) | headers length (u32) | prelude CRC32 | headers | payload | message CRC32`.
//! This module only gathers whole messages out of arbitrarily split chunks (checking the
//! prelude as soon as it arrives, so a corrupt length is never waited for);
//! `aws-smithy-eventstream` checks both CRCs and parses the headers.

use super::wire::ended_early;
use super::{BodyStream, ProviderError};
use aws_smithy_eventstream::frame::read_message_from;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// One message, with its string-valued headers (the only kind Bedrock sends).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

const PRELUDE: usize = 12;
/// The smallest message: a prelude and the message CRC.
const MIN_MESSAGE: usize = PRELUDE + 4;
/// AWS allows 16 MiB of payload and 128 KiB of headers.
const MAX_MESSAGE: usize = 16 * 1024 * 1024 + 128 * 1024 + MIN_MESSAGE;

/// The messages in `body`. A body that ends inside a message is a cut connection; a
/// checksum or framing error ends the stream with [`ProviderError::Protocol`].
pub(super) fn frames(body: BodyStream) -> impl Stream<Item = Result<Frame, ProviderError>> {
    let state = Some((body, BytesMut::new()));
    futures::stream::unfold(state, |state| async move {
        let (mut body, mut buffer) = state?;
        loop {
            match whole_message(&buffer) {
                Ok(Some(len)) => {
                    let frame = parse(buffer.split_to(len).freeze());
                    let next = frame.is_ok().then_some((body, buffer));
                    return Some((frame, next));
                }
                Ok(None) => {}
                Err(e) => return Some((Err(e), None)),
            }
            match body.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Some((Err(e.into()), None)),
                None if buffer.is_empty() => return None,
                None => return Some((Err(ended_early()), None)),
            }
        }
    })
}

/// The length of the message at the start of `buffer` once all of it is there.
fn whole_message(buffer: &[u8]) -> Result<Option<usize>, ProviderError> {
    let Some(prelude) = buffer.get(..PRELUDE) else { return Ok(None) };
    let word = |i: usize| u32::from_be_bytes([prelude[i], prelude[i + 1], prelude[i + 2], prelude[i + 3]]);
    let (total, crc) = (word(0) as usize, word(8));
    let expected = crc32fast::hash(&prelude[..8]);
    if crc != expected {
        return Err(ProviderError::Protocol(format!(
            "event-stream prelude checksum mismatch: got {crc:#010x}, computed {expected:#010x}"
        )));
    }
    if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total) {
        return Err(ProviderError::Protocol(format!("event-stream message length {total} is out of range")));
    }
    Ok((buffer.len() >= total).then_some(total))
}

fn parse(message: Bytes) -> Result<Frame, ProviderError> {
    let message =
        read_message_from(message).map_err(|e| ProviderError::Protocol(format!("event-stream: {e}")))?;
    let headers = message
        .headers()
        .iter()
        .filter_map(|h| Some((h.name().as_str().to_owned(), h.value().as_string().ok()?.as_str().to_owned())))
        .collect();
    Ok(Frame { headers, payload: message.payload().clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message encoded by hand (independently of `aws-smithy-eventstream`).
    fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, value) in headers {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(7);
            h.extend_from_slice(&(value.len() as u16).to_be_bytes());
            h.extend_from_slice(value.as_bytes());
        }
        let total = (PRELUDE + h.len() + payload.len() + 4) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&total.to_be_bytes());
        m.extend_from_slice(&(h.len() as u32).to_be_bytes());
        m.extend_from_slice(&crc32fast::hash(&m).to_be_bytes());
        m.extend_from_slice(&h);
        m.extend_from_slice(payload);
        m.extend_from_slice(&crc32fast::hash(&m).to_be_bytes());
        m
    }

    fn decode(chunks: Vec<Vec<u8>>) -> Vec<Result<Frame, ProviderError>> {
        let body: BodyStream =
            Box::pin(futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))));
        futures::executor::block_on(frames(body).collect())
    }

    fn two_messages() -> Vec<u8> {
        let mut bytes = encode(&[(":event-type", "a"), (":message-type", "event")], b"{\"x\":1}");
        bytes.extend(encode(&[], b""));
        bytes
    }

    #[test]
    fn messages_split_anywhere_are_reassembled() {
        let bytes = two_messages();
        let whole = decode(vec![bytes.clone()]);
        assert_eq!(whole.len(), 2);
        let first = whole[0].as_ref().unwrap();
        assert_eq!(first.header(":event-type"), Some("a"));
        assert_eq!(first.header(":message-type"), Some("event"));
        assert_eq!(first.header("missing"), None);
        assert_eq!(&first.payload[..], b"{\"x\":1}");
        assert_eq!(whole[1], Ok(Frame { headers: vec![], payload: Bytes::new() }));
        for at in 0..=bytes.len() {
            assert_eq!(decode(vec![bytes[..at].to_vec(), bytes[at..].to_vec()]), whole, "split at {at}");
        }
        assert_eq!(decode(bytes.iter().map(|b| vec![*b]).collect()), whole);
    }

    #[test]
    fn a_cut_message_is_an_early_end() {
        let bytes = two_messages();
        let out = decode(vec![bytes[..bytes.len() - 1].to_vec()]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], Err(ended_early()));
        assert_eq!(decode(vec![bytes[..5].to_vec()]), [Err(ended_early())]);
    }

    #[test]
    fn corruption_is_a_protocol_error() {
        let bytes = two_messages();
        for at in [1, 9, 14, 30, bytes.len() - 20] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            let out = decode(vec![bad]);
            assert!(matches!(out.last(), Some(Err(ProviderError::Protocol(_)))), "flip at {at}: {out:?}");
            assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
        }
    }
}
