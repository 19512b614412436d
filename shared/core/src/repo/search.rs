//! Search over a user's own conversations: a term index in the user's own partition,
//! written with each session title and each finished turn, so a search costs the size
//! of the matches, never a scan. An entry is `<term>#<session>#<source>`, the source
//! being the message that holds the word or `title`; a query word matches every term it
//! begins. Entries of deleted sessions are skipped (and dropped) when a search finds
//! them; a renamed title's old words are checked against the current title.

use super::sessions::{self, Owned, Session};
use super::{Progress, delete_page};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::store::{MAX_PAGE, MAX_TRANSACTION_WRITES};
use crate::ports::{Condition, Item, Query, SkRange, Write};
use futures::future::join_all;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

/// Shorter words say too little to index.
const MIN_TERM_CHARS: usize = 2;
/// Longer runs (hashes, base64, URLs) are cut to this many characters.
const MAX_TERM_CHARS: usize = 40;
/// The distinct words indexed per message: the first ones.
pub const MAX_TERMS_PER_TEXT: usize = 300;
/// Words a query may have (all must match).
pub const MAX_QUERY_WORDS: usize = 8;
/// Entries read per query word: beyond this, older matches may be missed.
pub const MAX_ENTRIES_PER_WORD: usize = 5_000;
const TITLE: &str = "title";
/// Sessions a page may load per hit it returns.
const LOADS_PER_HIT: usize = 4;
/// Characters of context on each side of a match in a snippet.
const SNIPPET_CONTEXT: usize = 60;

fn pk(user_id: Id) -> String {
    format!("TERMS#{user_id}")
}

/// The distinct words of `text`, normalised as queries are (NFKC, lower case), in order
/// of first appearance, at most `max`.
pub fn terms(text: &str, max: usize) -> Vec<String> {
    let normal: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let mut seen = BTreeSet::new();
    normal
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= MIN_TERM_CHARS)
        .map(|w| w.chars().take(MAX_TERM_CHARS).collect::<String>())
        .filter(|w| seen.insert(w.clone()))
        .take(max)
        .collect()
}

/// Indexes the words of a message (`Some(id)`) or of the session's title, unless the
/// session is gone (deleted while its last reply was streaming).
pub async fn index(
    app: &App,
    owner: Id,
    session_id: Id,
    message_id: Option<Id>,
    text: &str,
) -> ApiResult<()> {
    let source = message_id.map_or_else(|| TITLE.to_string(), |id| id.to_string());
    let puts: Vec<Write> = terms(text, MAX_TERMS_PER_TEXT)
        .into_iter()
        .map(|term| Write::Put {
            item: Item::new(pk(owner), format!("{term}#{session_id}#{source}"), Default::default()),
            condition: Condition::Always,
        })
        .collect();
    let chunks: Vec<_> = puts
        .chunks(MAX_TRANSACTION_WRITES - 1)
        .map(|c| app.store.transact([c, &[sessions::exists_check(session_id)]].concat()))
        .collect();
    join_all(chunks).await.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

/// One batch of the user's index, for deleting the account.
pub async fn delete_of_user(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(pk(user_id), SkRange::All), cursor).await
}

/// Indexes a session's title; a failure only leaves the title unsearchable, so it is
/// logged rather than failing the change that was saved.
pub async fn index_title(app: &App, owned: &Owned) {
    let session = &owned.session;
    if let Err(e) = index(app, owned.user_id, session.id, None, &session.title).await {
        tracing::warn!(error = %e, session_id = %session.id, "the title could not be indexed for search");
    }
}

/// A session that matched, with where it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    #[serde(flatten)]
    pub session: Session,
    /// The matching words in context, from the newest matching message or the title.
    pub snippet: String,
}

/// Where each session matched: the sort keys of its entries.
type Matches = BTreeMap<Id, Vec<String>>;

/// The owner's sessions whose title or messages hold every word of `query` (as word
/// beginnings), newest first, `limit` per page after the session id `after`.
pub async fn search(
    app: &App,
    owner: Id,
    query: &str,
    archived: bool,
    limit: usize,
    after: Option<Id>,
) -> ApiResult<(Vec<Hit>, Option<Id>)> {
    let words = terms(query, MAX_QUERY_WORDS);
    if words.is_empty() {
        return Ok((Vec::new(), None));
    }
    let lookups: Vec<_> = words.iter().map(|w| matches(app, owner, w)).collect();
    let per_word = join_all(lookups).await.into_iter().collect::<ApiResult<Vec<Matches>>>()?;
    let candidates: Vec<(Id, Vec<String>)> =
        intersect(per_word).into_iter().rev().filter(|(id, _)| after.is_none_or(|a| *id < a)).collect();
    let mut hits = Vec::new();
    let mut seen = 0;
    // Sessions that turn out archived (or gone) are skipped, but a page loads at most
    // a few times its size: the next page carries on from where it stopped.
    while hits.len() < limit && seen < candidates.len() && seen < limit * LOADS_PER_HIT {
        let batch = &candidates[seen..candidates.len().min(seen + limit - hits.len())];
        seen += batch.len();
        let loads: Vec<_> = batch.iter().map(|(id, entries)| hit(app, owner, *id, entries, &words)).collect();
        for found in join_all(loads).await {
            hits.extend(found?.filter(|h| h.session.archived == archived));
        }
    }
    let next = (seen < candidates.len()).then(|| candidates[seen - 1].0);
    Ok((hits, next))
}

/// Every entry whose term begins with `word`, by session.
async fn matches(app: &App, owner: Id, word: &str) -> ApiResult<Matches> {
    let mut found = Matches::new();
    let mut cursor = None;
    let mut read = 0;
    loop {
        let query = Query::new(pk(owner), SkRange::Prefix(word.to_string())).limit(MAX_PAGE).after(cursor);
        let page = app.store.query(query).await?;
        read += page.items.len();
        for item in &page.items {
            if let Some(id) = item.sk.rsplit('#').nth(1).and_then(Id::parse) {
                found.entry(id).or_default().push(item.sk.clone());
            }
        }
        cursor = page.cursor;
        if cursor.is_none() || read >= MAX_ENTRIES_PER_WORD {
            return Ok(found);
        }
    }
}

/// The sessions every word matched, with the entries any of them matched.
fn intersect(per_word: Vec<Matches>) -> Matches {
    let mut words = per_word.into_iter();
    let first = words.next().unwrap_or_default();
    words.fold(first, |acc, next| {
        acc.into_iter()
            .filter_map(|(id, mut sources)| {
                let more = next.get(&id)?;
                sources.extend(more.iter().cloned());
                Some((id, sources))
            })
            .collect()
    })
}

/// The session as a hit, or `None` when it is gone or matched only by an old title.
async fn hit(app: &App, owner: Id, id: Id, entries: &[String], words: &[String]) -> ApiResult<Option<Hit>> {
    let owned = match sessions::get_owned(app, owner, id).await {
        Ok((owned, _)) => owned,
        Err(ApiError::NotFound) => {
            forget(app, owner, entries).await;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let newest = entries.iter().filter_map(|sk| sk.rsplit('#').next().and_then(Id::parse)).max();
    match newest {
        Some(message_id) => match sessions::message(app, id, message_id).await {
            Ok((message, _)) => {
                Ok(Some(Hit { snippet: snippet(&message.content, words), session: owned.session }))
            }
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
        None if words
            .iter()
            .all(|w| terms(&owned.session.title, usize::MAX).iter().any(|t| t.starts_with(w))) =>
        {
            Ok(Some(hit_on_title(owned)))
        }
        None => Ok(None),
    }
}

fn hit_on_title(owned: Owned) -> Hit {
    Hit { snippet: owned.session.title.clone(), session: owned.session }
}

/// Drops the entries of a deleted session that a search met; a failure only leaves
/// them for a later search.
async fn forget(app: &App, owner: Id, entries: &[String]) {
    let deletes: Vec<Write> = entries
        .iter()
        .map(|sk| Write::Delete { pk: pk(owner), sk: sk.clone(), condition: Condition::Always })
        .collect();
    for chunk in deletes.chunks(MAX_TRANSACTION_WRITES) {
        if let Err(e) = app.store.transact(chunk.to_vec()).await {
            tracing::warn!(error = %e, "stale search entries could not be dropped");
        }
    }
}

/// About `SNIPPET_CONTEXT` characters either side of the first query word in `text`.
pub fn snippet(text: &str, words: &[String]) -> String {
    let lower: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let original: Vec<char> = text.chars().collect();
    // Lower-casing can change a text's length; then the match is shown from the start.
    let at = (lower.len() == original.len())
        .then(|| words.iter().filter_map(|w| find(&lower, w)).min())
        .flatten()
        .unwrap_or(0);
    let start = at.saturating_sub(SNIPPET_CONTEXT);
    let end = (at + SNIPPET_CONTEXT * 2).min(original.len());
    let body: String = original[start..end].iter().collect();
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}{body}{}", if start > 0 { "…" } else { "" }, if end < original.len() { "…" } else { "" })
}

fn find(haystack: &[char], word: &str) -> Option<usize> {
    let needle: Vec<char> = word.chars().collect();
    haystack.windows(needle.len().max(1)).position(|w| w == needle.as_slice())
}

#[cfg(test)]
mod tests {
    use super::{index, snippet, terms};
    use crate::testing;

    #[test]
    fn a_session_deleted_meanwhile_gains_no_entries() {
        let t = testing::app().build();
        let (owner, gone) = (t.app.new_id(), t.app.new_id());
        assert!(t.run(index(&t.app, owner, gone, None, "words of a reply")).is_err());
        assert!(t.store.items().is_empty());
    }

    #[test]
    fn words_are_normalised_distinct_and_bounded() {
        assert_eq!(
            terms("Travel to PARIS, travel by ｔｒａｉｎ! a x2", 10),
            ["travel", "to", "paris", "by", "train", "x2"]
        );
        assert_eq!(terms("one two three", 2), ["one", "two"]);
        let long = "a".repeat(100);
        assert_eq!(terms(&long, 10), ["a".repeat(40)]);
        assert_eq!(terms("Größe café", 10), ["größe", "café"]);
        assert!(terms("- ! ?", 10).is_empty());
    }

    #[test]
    fn snippets_show_the_match_in_context() {
        let text = format!("{} the Eiffel tower at night {}", "x ".repeat(100), "y ".repeat(100));
        let s = snippet(&text, &["eiffel".into()]);
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("the Eiffel tower"), "{s}");
        assert_eq!(snippet("short text", &["nothing".into()]), "short text");
    }
}
