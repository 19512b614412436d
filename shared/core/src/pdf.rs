//! A PDF's text, read once at upload with `lopdf` (pure Rust, so on every runtime,
//! Workers too). Uploads are untrusted: the pages read, each stream's inflated size
//! and the text kept are all bounded, and a file `lopdf` cannot read has no text
//! rather than failing the upload.

use lopdf::{Document, LoadOptions};
use std::collections::HashSet;

/// Pages read; later pages are left out.
const MAX_PAGES: u32 = 100;
/// Bytes one stream, or one page's content, may inflate to: a small file must not
/// unpack into gigabytes, and a page's operations are parsed in memory at once.
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Bytes all the pages' content may inflate to together: a hundred pages at the
/// limit would otherwise cost a hundred times a page.
const MAX_TOTAL_BYTES: usize = 8 * 1024 * 1024;
/// Characters of text kept: more than any model's context holds.
pub const MAX_TEXT_CHARS: usize = 200_000;

/// The text of the PDF's first pages, at most [`MAX_TEXT_CHARS`]; `None` when the file
/// cannot be read as a PDF (damaged, encrypted, hostile).
pub fn text(bytes: &[u8]) -> Option<String> {
    // lopdf's parser is not hardened against every malformed file: a panic in it
    // means an unreadable PDF, not a failed request.
    std::panic::catch_unwind(|| extract(bytes)).ok().flatten()
}

fn extract(bytes: &[u8]) -> Option<String> {
    let options = LoadOptions { max_decompressed_size: Some(MAX_PAGE_BYTES), ..LoadOptions::default() };
    let doc = Document::load_mem_with_options(bytes, options).ok()?;
    if doc.is_encrypted() {
        return None;
    }
    let mut text = Text::default();
    let mut seen = HashSet::new();
    let mut budget = MAX_TOTAL_BYTES;
    for (number, page_id) in doc.get_pages().into_iter().take_while(|(n, _)| *n <= MAX_PAGES) {
        // Content shared by many pages is read once: one stream under a hundred
        // pages must not be inflated and parsed a hundred times.
        if !doc.get_page_contents(page_id).into_iter().all(|id| seen.insert(id)) {
            continue;
        }
        let Ok(content) = doc.get_page_content_with_limit(page_id, MAX_PAGE_BYTES.min(budget)) else {
            break;
        };
        budget -= content.len();
        for chunk in doc.extract_text_chunks_with_limit(&[number], MAX_PAGE_BYTES).into_iter().flatten() {
            if text.push(&chunk) {
                return Some(text.0);
            }
        }
    }
    Some(text.0.trim().to_string())
}

/// Text gathered up to [`MAX_TEXT_CHARS`], counted as it grows.
#[derive(Default)]
struct Text(String, usize);

impl Text {
    /// Adds what fits of `chunk`; true once the text is full.
    fn push(&mut self, chunk: &str) -> bool {
        for c in chunk.chars() {
            if self.1 == MAX_TEXT_CHARS {
                return true;
            }
            self.0.push(c);
            self.1 += 1;
        }
        self.1 == MAX_TEXT_CHARS
    }
}

#[cfg(any(test, feature = "testing"))]
pub mod sample {
    //! PDFs made on the spot for tests.

    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};

    /// A one-page PDF that says `words` (ASCII) in Helvetica.
    pub fn with_text(words: &str) -> Vec<u8> {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 720.into()]),
                Operation::new("Tj", vec![Object::string_literal(words)]),
                Operation::new("ET", vec![]),
            ],
        };
        with_content(Stream::new(dictionary! {}, content.encode().unwrap_or_default()))
    }

    /// A one-page PDF whose page content is `bytes` (of spaces) compressed: a small
    /// file that inflates to `bytes`.
    pub fn inflating_to(bytes: usize) -> Vec<u8> {
        let mut stream = Stream::new(dictionary! {}, vec![b' '; bytes]);
        stream.compress().unwrap_or_default();
        with_content(stream)
    }

    /// `pages` pages that all show one content stream.
    pub fn pages_sharing(content: Stream, pages: usize) -> Vec<u8> {
        build(content, pages)
    }

    fn with_content(content: Stream) -> Vec<u8> {
        build(content, 1)
    }

    fn build(content: Stream, pages: usize) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let content_id = doc.add_object(content);
        let kids: Vec<Object> = (0..pages)
            .map(|_| {
                let page = dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id };
                doc.add_object(page).into()
            })
            .collect();
        let pages = dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        };
        doc.objects.insert(pages_id, Object::Dictionary(pages));
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap_or_default();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_of_a_pdf() {
        let pdf = sample::with_text("Invoice 42 from Ada");
        assert!(pdf.starts_with(b"%PDF-1.5"));
        assert_eq!(text(&pdf).as_deref(), Some("Invoice 42 from Ada"));
    }

    #[test]
    fn unreadable_files_have_no_text() {
        assert_eq!(text(b"%PDF-1.7\n garbage"), None);
        let mut cut = sample::with_text("half a file");
        cut.truncate(cut.len() / 2);
        assert!(text(&cut).is_none_or(|t| !t.contains("half a file")));
    }

    #[test]
    fn a_decompression_bomb_is_not_inflated() {
        let bomb = sample::inflating_to(MAX_PAGE_BYTES + 1024);
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        assert_eq!(text(&bomb).unwrap_or_default(), "");
    }

    #[test]
    fn content_shared_by_many_pages_is_read_once() {
        use lopdf::content::{Content, Operation};
        use lopdf::{Object, Stream, dictionary};
        let words = |n: usize| {
            let show = |i: usize| Operation::new("Tj", vec![Object::string_literal(format!("w{i} "))]);
            let mut operations =
                vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
            operations.extend((0..n).map(show));
            operations.push(Operation::new("ET", vec![]));
            Content { operations }.encode().unwrap()
        };
        let mut stream = Stream::new(dictionary! {}, words(1000));
        stream.compress().unwrap();
        let pdf = sample::pages_sharing(stream, 100);
        let text = text(&pdf).unwrap();
        assert_eq!(text.matches("w999").count(), 1, "read once, not once a page");
    }

    #[test]
    fn text_stops_at_its_limit() {
        let mut text = Text::default();
        assert!(!text.push("ab"));
        let rest = "x".repeat(MAX_TEXT_CHARS);
        assert!(text.push(&rest));
        assert_eq!(text.0.chars().count(), MAX_TEXT_CHARS);
        assert!(text.push("more"));
    }
}
