//! What reducing a 2 MB page (the reader's limit) to readable text costs in CPU, as
//! research does for every HTML page (`confab_core::reader::readable`, dom_smoothie):
//! pages of a few shapes, each extracted a few times; prints a Markdown table of the
//! median. A measurement run by hand (Workers bill CPU per request), not a test:
//!
//!   cargo run --release -p confab-core --example extract_bench [-- RUNS]

use confab_core::reader::readable;
use std::time::Instant;

const PAGE_BYTES: usize = 2 * 1024 * 1024;
const SENTENCE: &str = "Obligations for providers of general-purpose AI models apply from 2 August 2025, and \
    the AI Office supervises them. ";

/// One repeated piece of a page, given its index.
type Unit = fn(usize) -> String;

/// `unit` repeated to about `PAGE_BYTES`, inside `head` and `tail`.
fn page(head: &str, unit: Unit, tail: &str) -> (String, usize) {
    let mut html = String::from(head);
    let mut units = 0;
    while html.len() + tail.len() < PAGE_BYTES {
        html.push_str(&unit(units));
        units += 1;
    }
    html.push_str(tail);
    (html, units)
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let head = "<!doctype html><html><head><title>A long page</title><style>p { color: #333 }</style>\
        <script>var tracker = 1;</script></head><body><nav><a href=\"/\">Home</a></nav><article><h1>A long page</h1>";
    let tail = "</article><footer>Footer</footer></body></html>";
    // (shape, one repeated unit, elements per unit)
    let shapes: [(&str, Unit, usize); 3] = [
        ("long article: 2 KB paragraphs", |_| format!("<p>{}</p>", SENTENCE.repeat(18)), 1),
        (
            "news page: sections of short paragraphs and links",
            |i| {
                format!(
                    "<div class=\"section\"><h2>Part {i}</h2><p>{SENTENCE}<a href=\"/n/{i}\">more</a></p>\
                     <p>{SENTENCE}{SENTENCE}</p><ul><li><a href=\"/r/{i}\">Related {i}</a></li></ul></div>"
                )
            },
            9,
        ),
        ("many tiny elements: a 2 MB table", |i| format!("<tr><td>{i}</td><td>x</td></tr>"), 3),
    ];
    println!("| page | bytes | elements | median ms ({runs} runs) | result |");
    println!("|---|---|---|---|---|");
    for (name, unit, per_unit) in shapes {
        let (html, units) = page(head, unit, tail);
        let mut times = Vec::new();
        let mut result = String::new();
        for _ in 0..runs {
            let started = Instant::now();
            let read = readable(&html, "https://news.example/long");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            result = match read {
                Ok((_, text)) => format!("{} characters of text", text.chars().count()),
                Err(e) => format!("refused: {e}"),
            };
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!("| {name} | {} | ~{} | {median:.1} | {result} |", html.len(), units * per_unit);
    }
}
