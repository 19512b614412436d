//! Messages form a tree: each answers its parent, so edits and regenerations are
//! siblings. A path from a message up to the root is read in pages of the session's
//! messages, newest first from the one wanted next: ids grow with time and a parent is
//! older than its child, so a linear stretch of conversation comes in one page, and a
//! jump to an older parent starts a new page there. Every walk reads a bounded number
//! of pages, keeping the newest part of a longer path.
//!
//! Messages stored before branches have no `parent_id`: each answers the message
//! before it, so an old conversation reads as one branch without any migration.

use super::sessions::{MESSAGE_PREFIX, Message, Session, load_all, message_sk, pk};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Item, Query, SkRange};
use serde_json::Value;

/// Messages read per page of a walk.
const PAGE: u32 = 100;
/// Most pages one walk reads.
const MAX_PAGES: usize = 20;
/// Most messages a path is read for: longer paths keep their newest part.
pub const MAX_PATH: usize = PAGE as usize * MAX_PAGES;

/// What a stored message answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Root,
    Parent(Id),
    /// Stored before branches: the message before it, in creation order.
    Previous,
}

/// Where a walk goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    At(Id),
    /// The newest message older than this one.
    Below(Id),
    Done,
}

/// A stored message's id and link, read without its text.
fn node(item: &Item) -> ApiResult<(Id, Link)> {
    let id = |value: Option<&Value>| {
        value
            .and_then(|v| serde_json::from_value::<Id>(v.clone()).ok())
            .ok_or_else(|| ApiError::Internal(format!("malformed message {}/{}", item.pk, item.sk)))
    };
    let link = match item.data.get("parent_id") {
        None => Link::Previous,
        Some(Value::Null) => Link::Root,
        parent => Link::Parent(id(parent)?),
    };
    Ok((id(item.data.get("id"))?, link))
}

/// Follows the path through one page of messages (newest first, read from `step` down;
/// `last` when nothing older is left). Returns the indices of the path's messages in
/// `nodes`, in path order, and where the path goes on: `Done` at the root, or for a
/// parent that is not there.
fn follow(nodes: &[(Id, Link)], mut step: Step, last: bool) -> (Vec<usize>, Step) {
    let mut path = Vec::new();
    // The page was read from the first step: a message missing there does not exist.
    let mut fresh = true;
    loop {
        let found = match step {
            Step::Done => break,
            Step::At(id) => nodes.iter().position(|n| n.0 == id),
            Step::Below(id) => nodes.iter().position(|n| n.0 < id),
        };
        let Some(i) = found else {
            let gone = match step {
                Step::At(_) => fresh,
                _ => last,
            };
            if gone {
                step = Step::Done;
            }
            break;
        };
        // A path visits a message once: more steps than messages would be a cycle.
        if path.len() == nodes.len() {
            break;
        }
        path.push(i);
        fresh = false;
        step = match nodes[i].1 {
            Link::Root => Step::Done,
            Link::Parent(parent) => Step::At(parent),
            Link::Previous => Step::Below(nodes[i].0),
        };
    }
    (path, step)
}

/// The path from `from` up toward the root, newest first, while `more` accepts the
/// messages read so far (it sees each one and says whether to read on). Empty when
/// `from` is no message of the session. Messages stored before branches get their
/// parent's id filled in.
pub async fn walk(
    app: &App,
    session_id: Id,
    from: Id,
    mut more: impl FnMut(&Message) -> bool,
) -> ApiResult<Vec<Message>> {
    let mut path: Vec<Message> = Vec::new();
    let mut step = Step::At(from);
    for _ in 0..MAX_PAGES {
        let (Step::At(top) | Step::Below(top)) = step else { break };
        let range = SkRange::Between(MESSAGE_PREFIX.into(), message_sk(top));
        let page = app.store.query(Query::new(pk(session_id), range).backward().limit(PAGE)).await?;
        let nodes = page.items.iter().map(node).collect::<ApiResult<Vec<_>>>()?;
        let (on_path, next) = follow(&nodes, step, page.cursor.is_none());
        let items: Vec<Item> = on_path.iter().map(|&i| page.items[i].clone()).collect();
        for message in load_all(app, &items).await? {
            // Only a message stored before branches has no parent and one above it.
            if let Some(child) = path.last_mut()
                && child.parent_id.is_none()
            {
                child.parent_id = Some(message.id);
            }
            let go_on = more(&message);
            path.push(message);
            if !go_on {
                return Ok(path);
            }
        }
        step = next;
    }
    if step != Step::Done {
        tracing::warn!(session_id = %session_id, "a path was cut at its bound");
    }
    Ok(path)
}

/// The path from the root to `leaf`, oldest first (its newest [`MAX_PATH`] messages at
/// most); empty when `leaf` is no message of the session.
pub async fn path_to(app: &App, session_id: Id, leaf: Id) -> ApiResult<Vec<Message>> {
    let mut path = walk(app, session_id, leaf, |_| true).await?;
    path.reverse();
    Ok(path)
}

/// The leaf of the session's current branch: the one chosen, else (sessions from
/// before branches) the newest message; `None` for a session without messages.
pub async fn current_leaf(app: &App, session: &Session) -> ApiResult<Option<Id>> {
    if session.current_leaf_id.is_some() {
        return Ok(session.current_leaf_id);
    }
    let query = Query::new(pk(session.id), SkRange::Prefix(MESSAGE_PREFIX.into())).backward().limit(1);
    app.store.query(query).await?.items.first().map(|item| Ok(node(item)?.0)).transpose()
}

/// The messages of the session's current branch, oldest first (exports and shares).
pub async fn current_branch(app: &App, session: &Session) -> ApiResult<Vec<Message>> {
    match current_leaf(app, session).await? {
        Some(leaf) => path_to(app, session.id, leaf).await,
        None => Ok(Vec::new()),
    }
}

/// A page of all the session's messages, every branch, oldest first. A message stored
/// before branches answers the one before it, read too when it is on the page before.
pub async fn all(
    app: &App,
    session_id: Id,
    limit: u32,
    cursor: Option<String>,
) -> ApiResult<(Vec<Message>, Option<String>)> {
    let prefix = SkRange::Prefix(MESSAGE_PREFIX.into());
    let page = app.store.query(Query::new(pk(session_id), prefix).limit(limit).after(cursor)).await?;
    let nodes = page.items.iter().map(node).collect::<ApiResult<Vec<_>>>()?;
    let mut messages = load_all(app, &page.items).await?;
    for i in 0..messages.len() {
        if nodes[i].1 == Link::Previous {
            messages[i].parent_id = match i {
                0 => previous(app, session_id, nodes[0].0).await?,
                _ => Some(nodes[i - 1].0),
            };
        }
    }
    Ok((messages, page.cursor))
}

/// The id of the newest message older than `id`.
async fn previous(app: &App, session_id: Id, id: Id) -> ApiResult<Option<Id>> {
    let range = SkRange::Between(MESSAGE_PREFIX.into(), message_sk(id));
    let page = app.store.query(Query::new(pk(session_id), range).backward().limit(2)).await?;
    let ids = page.items.iter().map(|item| Ok(node(item)?.0)).collect::<ApiResult<Vec<Id>>>()?;
    Ok(ids.into_iter().find(|found| *found < id))
}

/// One page of a path, oldest first: `limit` messages after the one named by `cursor`
/// (the last of the page before), and the cursor of the next page.
pub fn page_of(
    path: Vec<Message>,
    limit: u32,
    cursor: Option<&str>,
) -> ApiResult<(Vec<Message>, Option<String>)> {
    let start = match cursor {
        None => 0,
        Some(c) => 1 + path.iter().position(|m| m.id.to_string() == c).ok_or(ApiError::InvalidCursor)?,
    };
    let total = path.len();
    let page: Vec<Message> = path.into_iter().skip(start).take(limit as usize).collect();
    let next = (start + page.len() < total).then(|| page.last().map(|m| m.id.to_string())).flatten();
    Ok((page, next))
}

#[cfg(test)]
mod tests;
