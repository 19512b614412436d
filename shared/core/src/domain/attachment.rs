//! What an uploaded file is: its type checked against its bytes, and its name made
//! safe to store and to offer back as a download.

use crate::error::ApiError;

/// Longest file name kept, in characters.
pub const MAX_FILENAME_CHARS: usize = 200;

/// The kinds of file attachments take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// PNG, JPEG, WebP or GIF: an image part for models that see images.
    Image,
    /// Its extracted text goes into the context.
    Pdf,
    /// UTF-8 text: goes into the context as it is.
    Text,
}

/// Image and PDF types with the bytes each file of the type starts with.
const MAGIC: [(&str, &[u8], AttachmentKind); 6] = [
    ("image/png", b"\x89PNG\r\n\x1a\n", AttachmentKind::Image),
    ("image/jpeg", b"\xff\xd8\xff", AttachmentKind::Image),
    ("image/gif", b"GIF87a", AttachmentKind::Image),
    ("image/gif", b"GIF89a", AttachmentKind::Image),
    ("image/webp", b"RIFF", AttachmentKind::Image),
    ("application/pdf", b"%PDF-", AttachmentKind::Pdf),
];

/// Text types besides `text/*`.
const TEXT_TYPES: [&str; 6] = [
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
];

/// The upload's kind and its type as stored (the essence, lowercased), when `bytes`
/// are what `content_type` says: images and PDFs by their first bytes, text by being
/// UTF-8. Anything else is 415.
pub fn classify(content_type: Option<&str>, bytes: &[u8]) -> Result<(AttachmentKind, String), ApiError> {
    let essence = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    // Stored and sent back as a header: a plain `type/subtype` of token characters.
    let token = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    if essence.len() > 100 || !essence.split_once('/').is_some_and(|(t, sub)| token(t) && token(sub)) {
        return Err(unsupported(format!("{:?} is not a media type", content_type.unwrap_or(""))));
    }
    let typed: Vec<_> = MAGIC.iter().filter(|(t, _, _)| *t == essence).collect();
    if !typed.is_empty() {
        let webp = essence != "image/webp" || bytes.get(8..12) == Some(b"WEBP");
        return match typed.iter().find(|(_, magic, _)| bytes.starts_with(magic)) {
            Some((_, _, kind)) if webp => Ok((*kind, essence)),
            _ => Err(unsupported(format!("the file's bytes are not {essence}"))),
        };
    }
    if !(essence.starts_with("text/") || TEXT_TYPES.contains(&essence.as_str())) {
        return Err(unsupported(format!(
            "attachments are PNG, JPEG, WebP or GIF images, PDFs, or text; not {:?}",
            content_type.unwrap_or("")
        )));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(unsupported(format!("{essence} attachments must be UTF-8 text")));
    }
    Ok((AttachmentKind::Text, essence))
}

fn unsupported(message: String) -> ApiError {
    ApiError::UnsupportedAttachment(message)
}

impl AttachmentKind {
    /// The kind of a stored type (one [`classify`] gave).
    pub fn of(content_type: &str) -> AttachmentKind {
        match MAGIC.iter().find(|(t, _, _)| *t == content_type) {
            Some((_, _, kind)) => *kind,
            None => AttachmentKind::Text,
        }
    }
}

/// A name to keep: its last path segment, without control characters, trimmed and
/// at most [`MAX_FILENAME_CHARS`]; 422 when nothing is left.
pub fn filename(raw: &str) -> Result<String, ApiError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let name: String = clean.trim().trim_start_matches('.').chars().take(MAX_FILENAME_CHARS).collect();
    if name.trim().is_empty() {
        return Err(ApiError::Validation("filename must name a file".into()));
    }
    Ok(name.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_against_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n....";
        assert_eq!(classify(Some("image/PNG"), png).unwrap(), (AttachmentKind::Image, "image/png".into()));
        assert_eq!(classify(Some("image/webp"), b"RIFF\0\0\0\0WEBPVP8 ").unwrap().0, AttachmentKind::Image);
        assert_eq!(classify(Some("image/gif"), b"GIF89a..").unwrap().1, "image/gif");
        assert_eq!(classify(Some("application/pdf"), b"%PDF-1.4").unwrap().0, AttachmentKind::Pdf);
        let text = classify(Some("text/markdown; charset=utf-8"), "# héllo".as_bytes()).unwrap();
        assert_eq!(text, (AttachmentKind::Text, "text/markdown".into()));
        for (content_type, bytes) in [
            (Some("image/png"), &b"GIF89a"[..]),
            (Some("image/webp"), b"RIFF\0\0\0\0WAVEfmt "),
            (Some("application/pdf"), b"<html>"),
            (Some("text/plain"), b"\xff\xfe\x00"),
            (Some("application/zip"), b"PK\x03\x04"),
            (None, b"hello"),
            (Some("text/x\"y"), b"hello"),
            (Some("text/"), b"hello"),
            (Some("text/plain x"), b"hello"),
        ] {
            let refused = classify(content_type, bytes).unwrap_err();
            assert!(matches!(refused, ApiError::UnsupportedAttachment(_)), "{content_type:?}");
        }
    }

    #[test]
    fn filenames_lose_paths_and_control_characters() {
        assert_eq!(filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(filename("C:\\Users\\a\\notes.txt").unwrap(), "notes.txt");
        assert_eq!(filename(" .hidden\u{0}\r\n name.md ").unwrap(), "hidden name.md");
        assert_eq!(filename("résumé.pdf").unwrap(), "résumé.pdf");
        assert_eq!(filename(&"a".repeat(500)).unwrap().chars().count(), MAX_FILENAME_CHARS);
        for bad in ["", "  ", "dir/", "..", "\u{7}"] {
            assert!(filename(bad).is_err(), "{bad:?}");
        }
    }
}
