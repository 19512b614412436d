//! Just enough XML for S3's answers: the text of elements by path.

use xmlparser::{ElementEnd, Token, Tokenizer};

/// Every element's text with its path from the root, in document order, e.g.
/// `("ListBucketResult/Contents/Key", "a/b")`. Mixed content and attributes are ignored.
pub(crate) fn texts(xml: &str) -> Result<Vec<(String, String)>, String> {
    let mut path: Vec<&str> = Vec::new();
    let mut texts = Vec::new();
    for token in Tokenizer::from(xml) {
        match token.map_err(|e| format!("malformed XML: {e}"))? {
            Token::ElementStart { local, .. } => path.push(local.as_str()),
            Token::ElementEnd { end: ElementEnd::Empty, .. } => {
                path.pop();
            }
            // The guard pops the element being closed; a mismatch is an error.
            Token::ElementEnd { end: ElementEnd::Close(_, local), .. }
                if path.pop() != Some(local.as_str()) =>
            {
                return Err(format!("malformed XML: unexpected </{}>", local.as_str()));
            }
            Token::Text { text } => texts.push((path.join("/"), unescape(text.as_str()))),
            Token::Cdata { text, .. } => texts.push((path.join("/"), text.as_str().to_string())),
            _ => {}
        }
    }
    Ok(texts)
}

/// The texts at `path`, in document order.
pub(crate) fn all<'a>(texts: &'a [(String, String)], path: &'a str) -> impl Iterator<Item = &'a str> {
    texts.iter().filter(move |(p, _)| p == path).map(|(_, text)| text.as_str())
}

/// The first text at `path`.
pub(crate) fn first<'a>(texts: &'a [(String, String)], path: &'a str) -> Option<&'a str> {
    all(texts, path).next()
}

/// `text` with XML's five named entities and character references replaced.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` safe inside an XML element.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_have_paths_and_entities_decoded() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>
<Contents><Key>a/b&amp;c</Key><Size>1</Size></Contents><Contents><Key>d&#x41;&#66;</Key></Contents>
<NextContinuationToken>x&lt;y</NextContinuationToken><Empty/></ListBucketResult>"#;
        let texts = texts(xml).unwrap();
        assert_eq!(all(&texts, "ListBucketResult/Contents/Key").collect::<Vec<_>>(), ["a/b&c", "dAB"]);
        assert_eq!(first(&texts, "ListBucketResult/IsTruncated"), Some("true"));
        assert_eq!(first(&texts, "ListBucketResult/NextContinuationToken"), Some("x<y"));
        assert_eq!(first(&texts, "ListBucketResult/Empty"), None);
        assert_eq!(unescape("a & b &bogus; c"), "a & b &bogus; c");
        assert!(super::texts("<a><b></a>").is_err());
    }
}
