//! Property tests of the parsers that read untrusted bytes from clients: whatever they
//! are given, they answer (a value or a clear error), never panic, and never make more
//! than the input justifies. The providers' stream decoders have theirs in
//! `tests/provider_formats` (`wire_format_tests!`).

use crate::chat::resume::parse_after;
use crate::domain::{Email, Id, classify, filename};
use crate::http::cookies;
use crate::http::pagination::PageRequest;
use crate::ports::store::{Index, decode_cursor};
use crate::{auth, pdf, reader, testing};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,64}", "[0-9A-Za-z_=.;:/+-]{0,80}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ids_cursors_and_event_ids(raw in text()) {
        if let Some(id) = Id::parse(&raw) {
            prop_assert_eq!(id.to_string(), raw.clone());
        }
        for index in [Index::Primary, Index::Gsi1] {
            if let Ok(parts) = decode_cursor(&raw, index) {
                prop_assert!(parts.iter().map(String::len).sum::<usize>() <= raw.len());
            }
        }
        let _ = parse_after(&raw);
        let _ = PageRequest::parse(Some(&raw), Some(raw.clone()));
        let _ = auth::api_keys::parse(&raw);
    }

    #[test]
    fn cookie_headers(header in "[ -~]{0,200}", name in "[a-z_]{1,12}") {
        let req = http::Request::builder()
            .header(http::header::COOKIE, header.as_str())
            .body(bytes::Bytes::new())
            .unwrap();
        if let Some(value) = cookies::get(&req, &name) {
            prop_assert!(header.contains(value));
        }
    }

    #[test]
    fn emails_and_file_names(raw in text()) {
        if let Ok(email) = Email::parse(&raw) {
            prop_assert!(email.as_str().len() <= raw.len() * 4);
        }
        if let Ok(name) = filename(&raw) {
            prop_assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
        }
    }

    #[test]
    fn uploads_are_classified_by_their_bytes(
        content_type in prop::option::of("[ -~]{0,40}"),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = classify(content_type.as_deref(), &bytes);
        let _ = pdf::text(&bytes);
    }

    #[test]
    fn pages_are_read_within_their_budget(html in "[ -~<>/=\"a-z]{0,400}", max in 0usize..200) {
        if let Ok((_, text)) = reader::readable(&html, "https://example.com/page") {
            prop_assert!(reader::cut(&text, max).chars().count() <= max + 1);
        }
    }

    #[test]
    fn access_tokens_from_anyone_are_refused(token in text()) {
        let t = testing::app().build();
        prop_assert!(t.run(auth::jwt::verify(&t.app, &token)).is_err());
    }
}

#[test]
fn a_pdf_prefix_with_garbage_is_refused_not_fatal() {
    let mut runner = proptest::test_runner::TestRunner::default();
    let garbage = prop::collection::vec(any::<u8>(), 0..2048);
    runner
        .run(&garbage, |tail| {
            let mut bytes = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n".to_vec();
            bytes.extend(tail);
            let _ = pdf::text(&bytes);
            Ok(())
        })
        .unwrap();
}
