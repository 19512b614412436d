//! A PDF's text, read once at upload with `lopdf` (pure Rust, so on every runtime,
//! Workers too). Uploads are untrusted: the pages read, each stream's inflated size
//! and the text kept are all bounded, and a file `lopdf` cannot read has no text
//! rather than failing the upload.

use lopdf::{Document, LoadOptions};

/// Pages read; later pages are left out.
const MAX_PAGES: u32 = 100;
/// Bytes any one stream (or one page's content) may inflate to: a small file must not
/// unpack into gigabytes.
const MAX_INFLATED_BYTES: usize = 16 * 1024 * 1024;
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
    let options = LoadOptions { max_decompressed_size: Some(MAX_INFLATED_BYTES), ..LoadOptions::default() };
    let doc = Document::load_mem_with_options(bytes, options).ok()?;
    if doc.is_encrypted() {
        return None;
    }
    let pages: Vec<u32> = doc.get_pages().into_keys().take_while(|n| *n <= MAX_PAGES).collect();
    let mut text = String::new();
    for chunk in doc.extract_text_chunks_with_limit(&pages, MAX_INFLATED_BYTES).into_iter().flatten() {
        text.push_str(&chunk);
        if text.chars().count() >= MAX_TEXT_CHARS {
            return Some(text.chars().take(MAX_TEXT_CHARS).collect());
        }
    }
    Some(text.trim().to_string())
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

    fn with_content(content: Stream) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let content_id = doc.add_object(content);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        let pages = dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
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
        let bomb = sample::inflating_to(MAX_INFLATED_BYTES + 1024);
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        assert_eq!(text(&bomb).unwrap_or_default(), "");
    }
}
