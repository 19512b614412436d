//! The tree's paths: following links through pages, jumps to older parents, messages
//! from before branches, the bound on a walk, and paging a path.

use super::{Link, MAX_PATH, Step, all, current_branch, follow, page_of, path_to, walk};
use crate::domain::{Id, MessageRole, MessageStatus};
use crate::ports::{Condition, Item};
use crate::repo::sessions::{Message, Session, message_sk, pk};
use crate::repo::to_data;
use crate::testing::{self, TestApp};

fn ids(n: u64) -> Vec<Id> {
    (0..n).map(|i| Id::lowest_at(1_000 + i)).collect()
}

#[test]
fn a_linear_stretch_is_followed_in_one_page() {
    let id = ids(4);
    // Newest first: 3 answers 2 answers 1 answers 0, the root.
    let nodes = [
        (id[3], Link::Parent(id[2])),
        (id[2], Link::Parent(id[1])),
        (id[1], Link::Parent(id[0])),
        (id[0], Link::Root),
    ];
    assert_eq!(follow(&nodes, Step::At(id[3]), true), (vec![0, 1, 2, 3], Step::Done));
    assert_eq!(
        follow(&nodes, Step::At(id[1]), true),
        (vec![2, 3], Step::Done),
        "siblings and children are skipped"
    );
}

#[test]
fn a_parent_outside_the_page_is_read_next() {
    let id = ids(5);
    let nodes = [(id[4], Link::Parent(id[3])), (id[3], Link::Parent(id[0])), (id[2], Link::Parent(id[1]))];
    assert_eq!(follow(&nodes, Step::At(id[4]), false), (vec![0, 1], Step::At(id[0])));
}

#[test]
fn a_missing_start_ends_the_walk() {
    let id = ids(3);
    let nodes = [(id[1], Link::Root)];
    assert_eq!(follow(&nodes, Step::At(id[2]), false), (vec![], Step::Done));
    assert_eq!(follow(&[], Step::At(id[2]), true), (vec![], Step::Done));
}

#[test]
fn old_messages_answer_the_one_before_them() {
    let id = ids(3);
    let nodes = [(id[2], Link::Previous), (id[1], Link::Previous), (id[0], Link::Previous)];
    assert_eq!(follow(&nodes, Step::At(id[2]), true), (vec![0, 1, 2], Step::Done), "the oldest is the root");
    assert_eq!(
        follow(&nodes, Step::At(id[2]), false),
        (vec![0, 1, 2], Step::Below(id[0])),
        "older ones may follow"
    );
    // A new message under an old one.
    let id4 = Id::lowest_at(2_000);
    let mixed = [
        (id4, Link::Parent(id[1])),
        (id[2], Link::Previous),
        (id[1], Link::Previous),
        (id[0], Link::Previous),
    ];
    assert_eq!(follow(&mixed, Step::At(id4), true), (vec![0, 2, 3], Step::Done));
}

#[test]
fn a_cycle_cannot_loop() {
    let id = ids(2);
    let nodes = [(id[1], Link::Parent(id[0])), (id[0], Link::Parent(id[1]))];
    let (path, _) = follow(&nodes, Step::At(id[1]), true);
    assert_eq!(path, [0, 1]);
}

/// A session's messages, written as the store holds them.
struct Tree {
    t: TestApp,
    session: Session,
    owner: Id,
}

impl Tree {
    fn new() -> Tree {
        let t = testing::app().build();
        let session = Session::new(&t.app, "Tree".into(), None, None);
        let owner = t.app.new_id();
        Tree { t, session, owner }
    }

    fn message(&self, parent_id: Option<Id>, role: MessageRole, content: &str) -> Message {
        Message {
            id: self.t.app.new_id(),
            parent_id,
            role,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            usage: None,
            sources: None,
            research_depth: None,
            attachments: Vec::new(),
            created_at: self.t.app.now(),
        }
    }

    /// Adds a message under `parent`; returns its id.
    async fn add(&self, parent: Option<Id>, role: MessageRole, content: &str) -> Id {
        let message = self.message(parent, role, content);
        let write =
            message.write(&self.t.app, self.owner, self.session.id, Condition::NotExists).await.unwrap();
        self.t.app.store.transact(vec![write]).await.unwrap();
        message.id
    }

    /// Adds a message as stored before branches: without `parent_id`.
    async fn add_old(&self, role: MessageRole, content: &str) -> Id {
        let message = self.message(None, role, content);
        let mut data = to_data(&message);
        data.remove("parent_id");
        let item = Item::new(pk(self.session.id), message_sk(message.id), data);
        self.t.app.store.put(item, Condition::NotExists).await.unwrap();
        message.id
    }

    async fn contents(&self, leaf: Id) -> Vec<String> {
        path_to(&self.t.app, self.session.id, leaf).await.unwrap().into_iter().map(|m| m.content).collect()
    }
}

#[test]
fn edits_are_siblings_and_each_branch_is_its_own_path() {
    let tree = Tree::new();
    tree.t.run(async {
        let q1 = tree.add(None, MessageRole::User, "q1").await;
        let a1 = tree.add(Some(q1), MessageRole::Assistant, "a1").await;
        let q2 = tree.add(Some(a1), MessageRole::User, "q2").await;
        let a2 = tree.add(Some(q2), MessageRole::Assistant, "a2").await;
        let edited = tree.add(Some(a1), MessageRole::User, "q2 edited").await;
        let again = tree.add(Some(q2), MessageRole::Assistant, "a2 again").await;
        let b2 = tree.add(Some(edited), MessageRole::Assistant, "b2").await;
        let root_edit = tree.add(None, MessageRole::User, "q1 edited").await;
        assert_eq!(tree.contents(a2).await, ["q1", "a1", "q2", "a2"]);
        assert_eq!(tree.contents(again).await, ["q1", "a1", "q2", "a2 again"]);
        assert_eq!(tree.contents(b2).await, ["q1", "a1", "q2 edited", "b2"]);
        assert_eq!(tree.contents(root_edit).await, ["q1 edited"]);
        let path = path_to(&tree.t.app, tree.session.id, b2).await.unwrap();
        let parents: Vec<_> = path.iter().map(|m| m.parent_id).collect();
        assert_eq!(parents, [None, Some(q1), Some(a1), Some(edited)]);
        assert!(path_to(&tree.t.app, tree.session.id, Id::lowest_at(1)).await.unwrap().is_empty());
    });
}

#[test]
fn old_conversations_read_as_one_branch() {
    let tree = Tree::new();
    let edit = tree.t.run(async {
        let q1 = tree.add_old(MessageRole::User, "q1").await;
        let a1 = tree.add_old(MessageRole::Assistant, "a1").await;
        let q2 = tree.add_old(MessageRole::User, "q2").await;
        let a2 = tree.add_old(MessageRole::Assistant, "a2").await;
        assert_eq!(tree.contents(a2).await, ["q1", "a1", "q2", "a2"]);
        let path = path_to(&tree.t.app, tree.session.id, a2).await.unwrap();
        let parents: Vec<_> = path.iter().map(|m| m.parent_id).collect();
        assert_eq!(parents, [None, Some(q1), Some(a1), Some(q2)]);
        let current = current_branch(&tree.t.app, &tree.session).await.unwrap();
        assert_eq!(current.len(), 4, "no current leaf: the newest message");
        // Listing every message fills the parents in too, across pages.
        let (first, cursor) = all(&tree.t.app, tree.session.id, 2, None).await.unwrap();
        let (second, _) = all(&tree.t.app, tree.session.id, 2, cursor).await.unwrap();
        let parents: Vec<_> = first.iter().chain(&second).map(|m| m.parent_id).collect();
        assert_eq!(parents, [None, Some(q1), Some(a1), Some(q2)]);
        // A new turn under the old branch, and an edit of an old question.
        let q3 = tree.add(Some(a2), MessageRole::User, "q3").await;
        let edit = tree.add(Some(a1), MessageRole::User, "q2 edited").await;
        assert_eq!(tree.contents(q3).await, ["q1", "a1", "q2", "a2", "q3"]);
        assert_eq!(tree.contents(edit).await, ["q1", "a1", "q2 edited"]);
        edit
    });
    let session = Session { current_leaf_id: Some(edit), ..tree.session.clone() };
    let current = tree.t.run(current_branch(&tree.t.app, &session)).unwrap();
    assert_eq!(current.last().map(|m| m.content.as_str()), Some("q2 edited"));
}

#[test]
fn long_paths_spread_over_branches_are_walked_in_bounded_pages() {
    let tree = Tree::new();
    tree.t.run(async {
        // Two interleaved branches from one root, then a path longer than a walk reads.
        let root = tree.add(None, MessageRole::User, "root").await;
        let (mut left, mut right) = (root, root);
        for i in 0..150 {
            left = tree.add(Some(left), MessageRole::Assistant, &format!("l{i}")).await;
            right = tree.add(Some(right), MessageRole::Assistant, &format!("r{i}")).await;
        }
        let path = tree.contents(left).await;
        assert_eq!((path.len(), path[1].as_str(), path[150].as_str()), (151, "l0", "l149"));
        for i in 0..MAX_PATH {
            left = tree.add(Some(left), MessageRole::Assistant, &format!("m{i}")).await;
        }
        let path = tree.contents(left).await;
        assert_eq!(path.len(), MAX_PATH, "the newest part of the path");
        assert_eq!(path.last().map(String::as_str), Some(&*format!("m{}", MAX_PATH - 1)));
        // A walk stops where its caller says.
        let mut seen = 0;
        let short = walk(&tree.t.app, tree.session.id, left, |_| {
            seen += 1;
            seen < 3
        })
        .await
        .unwrap();
        assert_eq!(short.len(), 3);
    });
}

#[test]
fn a_path_pages_after_its_cursor() {
    let tree = Tree::new();
    let path: Vec<Message> = (0..5).map(|i| tree.message(None, MessageRole::User, &i.to_string())).collect();
    let (first, cursor) = page_of(path.clone(), 2, None).unwrap();
    assert_eq!(first.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["0", "1"]);
    let (second, cursor) = page_of(path.clone(), 2, cursor.as_deref()).unwrap();
    assert_eq!(second[0].content, "2");
    let (last, cursor) = page_of(path.clone(), 2, cursor.as_deref()).unwrap();
    assert_eq!((last.len(), cursor), (1, None));
    assert!(page_of(path, 2, Some("not-on-the-path")).is_err());
}
