//! The page reader of research: a web page through the guarded fetcher ([`crate::fetch`],
//! the one SSRF guard), reduced to its readable text by `dom_smoothie` (a maintained
//! port of Mozilla's Readability, pure Rust, so it runs on Workers too): scripts,
//! styles, navigation, headers and footers dropped; the text cut to a budget.

use crate::app::App;
use crate::fetch::{self, FetchError};
use dom_smoothie::{Config, Readability, TextMode};

/// Most bytes of a page read.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// Most HTML elements parsed: bounds the CPU one page costs (Workers' CPU limit).
const MAX_ELEMENTS: usize = 20_000;

/// A page as research reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// After redirects.
    pub url: String,
    pub title: String,
    /// At most the budget's characters.
    pub text: String,
}

/// Reads `url` into at most `max_chars` characters of text.
pub async fn read(app: &App, url: &str, max_chars: usize) -> Result<Page, FetchError> {
    let fetched = fetch::fetch(app, url, MAX_PAGE_BYTES).await?;
    let body = String::from_utf8_lossy(&fetched.body);
    let (title, text) = match fetched.content_type.as_deref() {
        Some("text/html" | "application/xhtml+xml") | None => readable(&body, &fetched.url)?,
        Some("text/plain" | "text/markdown") => (String::new(), body.into_owned()),
        Some(other) => return Err(FetchError::Refused(format!("{other} pages are not read"))),
    };
    Ok(Page { url: fetched.url, title, text: cut(&text, max_chars) })
}

/// The title and readable text of an HTML page.
pub fn readable(html: &str, url: &str) -> Result<(String, String), FetchError> {
    let config =
        Config { text_mode: TextMode::Formatted, max_elements_to_parse: MAX_ELEMENTS, ..Config::default() };
    let article = Readability::new(html, Some(url), Some(config))
        .and_then(|mut r| r.parse())
        .map_err(|e| FetchError::Failed(format!("no readable text: {e}")))?;
    Ok((article.title.trim().to_string(), article.text_content.trim().to_string()))
}

/// `text`'s first `max_chars` characters, cut at a word when one is near.
pub fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((end, _)) => {
            let head = &text[..end];
            let at_word = head.rfind(char::is_whitespace).filter(|&i| i >= end * 4 / 5).unwrap_or(end);
            format!("{}…", head[..at_word].trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, Reply};

    const ARTICLE: &str = r#"<!doctype html><html><head><title>GPAI obligations | Example News</title>
        <style>body { color: red }</style><script>var tracking = "secret-script";</script></head>
        <body><nav><a href="/">Home</a> <a href="/news">News menu</a></nav>
        <header>Site header</header>
        <article><h1>GPAI obligations</h1>
        <p>Obligations for providers of general-purpose AI models apply from 2 August 2025. Providers must
        keep technical documentation, publish a summary of training content and respect copyright.</p>
        <p>Models placed on the market before that date have until 2 August 2027 to comply. The AI Office
        supervises and may ask for information, and the Code of Practice helps providers show compliance.</p>
        </article><footer>Copyright footer</footer><script>more()</script></body></html>"#;

    #[test]
    fn html_is_reduced_to_its_article() {
        let (title, text) = readable(ARTICLE, "https://example.com/a").unwrap();
        assert!(title.contains("GPAI obligations"), "{title}");
        assert!(text.contains("apply from 2 August 2025") && text.contains("until 2 August 2027"), "{text}");
        for dropped in ["secret-script", "color: red", "News menu", "Copyright footer", "more()"] {
            assert!(!text.contains(dropped), "{dropped} in {text}");
        }
    }

    #[test]
    fn pages_are_read_through_the_guard_and_cut_to_the_budget() {
        let t = testing::app().build();
        t.http.reply(Reply::new(200).header("content-type", "text/html; charset=utf-8").body(ARTICLE));
        let page = t.run(read(&t.app, "https://example.com/a", 60)).unwrap();
        assert!(page.text.chars().count() <= 61 && page.text.ends_with('…'), "{}", page.text);
        assert_eq!(t.http.sent()[0].guarded, Some(crate::ports::Guarded { public_only: true }));
        t.http.reply(Reply::new(200).header("content-type", "application/octet-stream").body("x"));
        assert!(matches!(t.run(read(&t.app, "https://example.com/b", 60)), Err(FetchError::Refused(_))));
        let refused = t.run(read(&t.app, "http://169.254.169.254/latest/meta-data/", 60));
        assert!(matches!(refused, Err(FetchError::Refused(_))));
        assert_eq!(t.http.sent().len(), 2, "the metadata address is never asked");
    }

    #[test]
    fn cuts_at_characters_and_words() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("ééééé", 3), "ééé…");
        assert_eq!(cut("one two three four five six seven", 30), "one two three four five six…");
    }
}
