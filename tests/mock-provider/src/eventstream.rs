//! The AWS event stream encoding (`application/vnd.amazon.eventstream`) of Bedrock's streaming
//! responses.
//!
//! A message is: total length (u32 BE), headers length (u32 BE), CRC-32 of those 8 bytes, the
//! headers, the payload, then the CRC-32 of everything before it. A header is its name length
//! (u8), name, value type (7 = string), value length (u16 BE) and value.

use bytes::{BufMut, Bytes, BytesMut};

const PRELUDE_LEN: usize = 8;
const CRC_LEN: usize = 4;
const STRING_TYPE: u8 = 7;

/// An `event` message of type `event_type` with a JSON payload.
pub(crate) fn event(event_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        payload,
    )
}

/// An `exception` message of type `exception_type` with a JSON payload.
pub(crate) fn exception(exception_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
    )
}

/// One message with string headers.
pub(crate) fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers = encode_headers(headers);
    let total = PRELUDE_LEN + CRC_LEN + headers.len() + payload.len() + CRC_LEN;
    let mut buffer = BytesMut::with_capacity(total);
    buffer.put_u32(to_u32(total));
    buffer.put_u32(to_u32(headers.len()));
    buffer.put_u32(crc32fast::hash(&buffer));
    buffer.put_slice(&headers);
    buffer.put_slice(payload);
    buffer.put_u32(crc32fast::hash(&buffer));
    buffer.freeze()
}

fn encode_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut encoded = Vec::new();
    for (name, value) in headers {
        encoded.put_u8(u8::try_from(name.len()).expect("header names are short"));
        encoded.put_slice(name.as_bytes());
        encoded.put_u8(STRING_TYPE);
        encoded.put_u16(u16::try_from(value.len()).expect("header values are short"));
        encoded.put_slice(value.as_bytes());
    }
    encoded
}

fn to_u32(length: usize) -> u32 {
    u32::try_from(length).expect("event stream messages are under 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_checksums() {
        let frame = message(&[("a", "bc")], b"{}");
        let total = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        let headers_len = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, frame.len());
        assert_eq!(headers_len, 1 + 1 + 1 + 2 + 2);
        assert_eq!(&frame[8..12], crc32fast::hash(&frame[..8]).to_be_bytes());
        assert_eq!(&frame[12..19], [1, b'a', 7, 0, 2, b'b', b'c']);
        assert_eq!(&frame[19..21], b"{}");
        assert_eq!(&frame[21..], crc32fast::hash(&frame[..21]).to_be_bytes());
    }
}
