//! The report's citations, checked as it streams: `[n]` (or a list, `[n, m]`) may name
//! only a page that was read. Numbers naming none are taken out of the text before it
//! is sent, so the streamed, the saved and the resumed report agree; a bracket left
//! with no number goes with the spaces before it. The report then ends by saying which
//! numbers were removed. Brackets right after a word character (`a[3]`), inside code
//! (between backticks) or holding anything but numbers and commas are left alone.

use std::collections::BTreeSet;

/// Longest bracket still read as a citation list (`[1, 2, 3]`).
const MAX_LIST: usize = 40;

pub struct Citations {
    /// Sources read: `[1]` to `[sources]` are valid.
    sources: u32,
    /// Text held back: spaces, then perhaps an open bracket and what followed it.
    held: String,
    /// Where `[` is in `held`, while a bracket is open.
    open: Option<usize>,
    /// The character before the open bracket.
    before: char,
    /// A bracket was just removed: `held` has the spaces before it, and more spaces or
    /// punctuation right after it do not add to them.
    removing: bool,
    /// The last character of the text read (held or not).
    last: char,
    /// Inside a code span or block.
    code: bool,
    removed: BTreeSet<u32>,
}

impl Citations {
    pub fn new(sources: usize) -> Self {
        Citations {
            sources: u32::try_from(sources).unwrap_or(u32::MAX),
            held: String::new(),
            open: None,
            before: '\n',
            removing: false,
            last: '\n',
            code: false,
            removed: BTreeSet::new(),
        }
    }

    /// The text of `piece` that may go out now; the start of a citation is held back
    /// until its bracket closes.
    pub fn push(&mut self, piece: &str) -> String {
        let mut out = String::new();
        for c in piece.chars() {
            self.read(c, &mut out);
            self.last = c;
        }
        out
    }

    /// What is still held back, at the end of the report (an unclosed bracket, as is).
    pub fn finish(&mut self) -> String {
        if self.open.take().is_none() && self.removing {
            self.held.clear();
        }
        std::mem::take(&mut self.held)
    }

    /// The numbers taken out, each once, in order.
    pub fn removed(&self) -> Vec<u32> {
        self.removed.iter().copied().collect()
    }

    fn read(&mut self, c: char, out: &mut String) {
        if let Some(at) = self.open {
            if c == ']' {
                return self.close(at, out);
            }
            if (c.is_ascii_digit() || c == ',' || c == ' ') && self.held.len() - at < MAX_LIST {
                return self.held.push(c);
            }
            // Not a citation: let it go, and read `c` as any other character.
            self.open = None;
            self.removing = false;
            out.push_str(&std::mem::take(&mut self.held));
        }
        match c {
            '`' => self.code = !self.code,
            '[' if !(self.code || is_word(self.last)) => {
                self.open = Some(self.held.len());
                self.before = self.last;
                return self.held.push(c);
            }
            // After a removed bracket, one space at most, and none at a line's start.
            ' ' if self.removing => {
                if self.held.is_empty() && self.before != '\n' {
                    self.held.push(c);
                }
                return;
            }
            ' ' if !self.code => return self.held.push(c),
            '.' | ',' | ';' | ':' | '!' | '?' | ')' | '\n' if self.removing => self.held.clear(),
            _ => {}
        }
        self.removing = false;
        out.push_str(&std::mem::take(&mut self.held));
        out.push(c);
    }

    /// The bracket opened at `held[at]` closes: its valid numbers go out.
    fn close(&mut self, at: usize, out: &mut String) {
        self.open = None;
        let mut held = std::mem::take(&mut self.held);
        let numbers: Option<Vec<u32>> = held[at + 1..].split(',').map(|n| n.trim().parse().ok()).collect();
        let (valid, invalid): (Vec<u32>, Vec<u32>) = match numbers {
            Some(numbers) => numbers.into_iter().partition(|n| (1..=self.sources).contains(n)),
            None => (Vec::new(), Vec::new()),
        };
        self.removing = false;
        if invalid.is_empty() {
            // Not a list of numbers, or every number valid: as written.
            out.push_str(&held);
            return out.push(']');
        }
        self.removed.extend(invalid);
        held.truncate(at);
        if valid.is_empty() {
            // The spaces before it wait for what follows.
            self.held = held;
            self.removing = true;
        } else {
            let list: Vec<String> = valid.iter().map(u32::to_string).collect();
            out.push_str(&format!("{held}[{}]", list.join(", ")));
        }
    }
}

/// A character of a word: a bracket after it is an index (`a[3]`), not a citation.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::Citations;

    /// `report` through a check of `sources` read, in pieces of `size` bytes (at
    /// character boundaries): the text sent and the numbers removed.
    fn check(report: &str, sources: usize, size: usize) -> (String, Vec<u32>) {
        let mut citations = Citations::new(sources);
        let mut sent = String::new();
        let mut piece = String::new();
        for c in report.chars() {
            piece.push(c);
            if piece.len() >= size {
                sent.push_str(&citations.push(&std::mem::take(&mut piece)));
            }
        }
        sent.push_str(&citations.push(&piece));
        sent.push_str(&citations.finish());
        (sent, citations.removed())
    }

    #[test]
    fn numbers_of_pages_not_read_are_removed_in_any_pieces() {
        let report = "Claim [3]. Also [1, 3] and [2][4], then [1][2].\n[5] New line, [9] x [7][1] end [12]";
        let want = "Claim. Also [1] and [2], then [1][2].\nNew line, x [1] end";
        for size in [1, 2, 3, 5, 7, 1000] {
            assert_eq!(
                check(report, 2, size),
                (want.to_string(), vec![3, 4, 5, 7, 9, 12]),
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn valid_citations_and_other_brackets_are_kept_as_written() {
        for kept in [
            "Facts [1][2] and [1, 2] and [2]: end.",
            "Code a[7] and `x [7]` and\n```\nv [8]\n```\nstay.",
            "Links [text](https://a.example/x) and [], [ ], [x], [1a], [-3] stay.",
            "A list [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 1] is too long to be read.",
            "Unclosed at the end [1",
            "Unclosed at the end [7",
            "Spaces   kept   between words ",
        ] {
            assert_eq!(check(kept, 2, 3), (kept.to_string(), vec![]), "{kept}");
        }
    }

    #[test]
    fn with_nothing_read_every_number_goes() {
        assert_eq!(check("See [1] and [2, 3].", 0, 4), ("See and.".to_string(), vec![1, 2, 3]));
    }
}
