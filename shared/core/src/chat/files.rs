//! What the files attached to messages put in a model's context: images as image parts
//! (for models that see images), a text file's text and a PDF's extracted text after
//! the message's words, and a note where a file is gone or cannot be shown.

use crate::app::App;
use crate::domain::{AttachmentKind, Id, MessageRole};
use crate::error::{ApiError, ApiResult};
use crate::providers::{ChatMessage, ChatRole, Image, ImageData, Part};
use crate::repo::attachments::{self, AttachedFile, Contents};
use crate::repo::sessions::{Message, Owned};
use base64::Engine;
use std::collections::HashSet;
use std::fmt::Write;

/// Most files one message carries.
pub const MAX_PER_MESSAGE: usize = 10;
/// Images a model is given at once: the newest; older ones are only named.
const MAX_IMAGES: usize = 10;
/// Characters of one file's text put in the context.
const MAX_TEXT_CHARS: usize = 100_000;
/// Characters of files' text one turn reads, newest files first: a long conversation
/// of attachments must not cost a read of every file at every turn.
const MAX_TURN_TEXT_CHARS: usize = 4 * MAX_TEXT_CHARS;

/// The session's files `ids`, for a new message: each named once, at most
/// [`MAX_PER_MESSAGE`]; an id that is no file of this session is 404.
pub async fn resolve(app: &App, session_id: Id, ids: &[Id]) -> ApiResult<Vec<AttachedFile>> {
    if ids.len() > MAX_PER_MESSAGE {
        return Err(ApiError::Validation(format!("a message carries at most {MAX_PER_MESSAGE} attachments")));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(ApiError::Validation("attachments names a file twice".into()));
    }
    let found =
        futures::future::try_join_all(ids.iter().map(|id| attachments::get(app, session_id, *id))).await?;
    Ok(found.iter().map(AttachedFile::from).collect())
}

/// Refuses images for a model that cannot see them.
pub fn check_vision(files: &[AttachedFile], model: &str, vision: bool) -> ApiResult<()> {
    if !vision && files.iter().any(|f| AttachmentKind::of(&f.content_type) == AttachmentKind::Image) {
        return Err(ApiError::ModelCannotSeeImages(model.to_string()));
    }
    Ok(())
}

/// Builds turns from messages given newest first, each with its files; returns them
/// oldest first. Only the newest [`MAX_IMAGES`] images are sent.
pub struct Turns<'a> {
    app: &'a App,
    owned: &'a Owned,
    vision: bool,
    images_left: usize,
    text_left: usize,
    /// Files already shown in a newer message: each is read once a turn.
    shown: HashSet<Id>,
    turns: Vec<ChatMessage>,
}

impl<'a> Turns<'a> {
    pub fn new(app: &'a App, owned: &'a Owned, vision: bool) -> Self {
        let (images_left, text_left) = (MAX_IMAGES, MAX_TURN_TEXT_CHARS);
        Turns { app, owned, vision, images_left, text_left, shown: HashSet::new(), turns: Vec::new() }
    }

    /// Adds a turn older than those added so far: user turns and whatever assistants said.
    pub async fn add(&mut self, role: ChatRole, content: &str, files: &[AttachedFile]) -> ApiResult<()> {
        let mut turn = ChatMessage::text(role, content);
        for file in files {
            self.add_file(&mut turn, file).await?;
        }
        if !turn.content.is_empty() || !turn.parts.is_empty() {
            self.turns.push(turn);
        }
        Ok(())
    }

    /// Adds a stored message (none for system messages).
    pub async fn add_message(&mut self, m: &Message) -> ApiResult<()> {
        let role = match m.role {
            MessageRole::User => ChatRole::User,
            MessageRole::Assistant => ChatRole::Assistant,
            MessageRole::System => return Ok(()),
        };
        self.add(role, &m.content, &m.attachments).await
    }

    /// The turns, oldest first.
    pub fn oldest_first(mut self) -> Vec<ChatMessage> {
        self.turns.reverse();
        self.turns
    }

    async fn add_file(&mut self, turn: &mut ChatMessage, file: &AttachedFile) -> ApiResult<()> {
        match self.shown(file).await? {
            Ok(image) => turn.parts.push(Part::Image(image)),
            Err(text) => note(turn, &text),
        }
        Ok(())
    }

    /// The file as an image part, or else as text: its own or a note.
    async fn shown(&mut self, file: &AttachedFile) -> ApiResult<Result<Image, String>> {
        let name = &file.filename;
        if !self.shown.insert(file.id) {
            return Ok(Err(format!("[file {name}: shown in a later message]")));
        }
        if AttachmentKind::of(&file.content_type) == AttachmentKind::Image {
            if !self.vision {
                return Ok(Err(format!("[image {name}: this model cannot see images]")));
            }
            if self.images_left == 0 {
                return Ok(Err(format!("[image {name}: left out, too many images]")));
            }
        }
        if AttachmentKind::of(&file.content_type) != AttachmentKind::Image && self.text_left == 0 {
            return Ok(Err(format!("[file {name}: left out, the context has enough files]")));
        }
        let deleted = Ok(Err(format!("[file {name}: deleted]")));
        let attachment = match attachments::get(self.app, self.owned.session.id, file.id).await {
            Ok(a) => a,
            Err(ApiError::NotFound) => return deleted,
            Err(e) => return Err(e),
        };
        Ok(match attachments::contents(self.app, self.owned, &attachment).await? {
            None => return deleted,
            Some(Contents::NoText) => Err(format!("[PDF {name}: no text could be read from it]")),
            Some(Contents::Text(text)) => {
                let block = text_block(name, &text);
                self.text_left = self.text_left.saturating_sub(block.chars().count());
                Err(block)
            }
            Some(Contents::Image(bytes)) => {
                self.images_left -= 1;
                let base64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let data = ImageData { media_type: file.content_type.clone(), base64 };
                Ok(Image { url: None, data: Some(data) })
            }
        })
    }
}

/// Adds text after the turn's words (and before its images).
fn note(turn: &mut ChatMessage, text: &str) {
    if !turn.content.is_empty() {
        turn.content.push_str("\n\n");
    }
    turn.content.push_str(text);
}

/// A file's text, marked with its name, cut at [`MAX_TEXT_CHARS`].
fn text_block(name: &str, text: &str) -> String {
    let mut block = format!("<file name=\"{}\">\n", name.replace('"', "'"));
    block.extend(text.chars().take(MAX_TEXT_CHARS));
    if text.chars().nth(MAX_TEXT_CHARS).is_some() {
        let _ = write!(block, "\n[cut at {MAX_TEXT_CHARS} characters]");
    }
    block.push_str("\n</file>");
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Piece;
    use crate::repo::attachments::{Attachment, Upload};
    use crate::repo::sessions;
    use crate::testing;
    use bytes::Bytes;

    #[test]
    fn files_become_text_images_and_notes() {
        let t = testing::app().build();
        let app = &t.app;
        let owned = Owned::fresh(app, "s");
        let file = |name: &str, content_type: &str| Attachment {
            id: app.new_id(),
            filename: name.into(),
            content_type: content_type.into(),
            size: 4,
            created_at: app.now(),
        };
        let notes = file("notes.md", "text/markdown");
        let photo = file("cat.png", "image/png");
        let scan = file("scan.pdf", "application/pdf");
        let gone = AttachedFile::from(&file("gone.txt", "text/plain"));
        t.run(async {
            sessions::create(app, &owned).await.unwrap();
            for (a, bytes, text) in [(&notes, "# hi", None), (&photo, "\u{89}PNG", None), (&scan, "%PDF", None)] {
                let upload = Upload { attachment: a.clone(), bytes: Bytes::from(bytes), text };
                attachments::create(app, &owned, upload).await.unwrap();
            }
            let files: Vec<_> = [&notes, &photo, &scan].into_iter().map(AttachedFile::from).chain([gone]).collect();
            let ids: Vec<_> = files[..3].iter().map(|f| f.id).collect();
            assert_eq!(resolve(app, owned.session.id, &ids).await.unwrap(), files[..3]);
            assert!(matches!(resolve(app, owned.session.id, &[files[3].id]).await, Err(ApiError::NotFound)));
            assert!(resolve(app, owned.session.id, &[ids[0], ids[0]]).await.is_err());
            assert!(matches!(check_vision(&files, "m", false), Err(ApiError::ModelCannotSeeImages(_))));
            assert!(check_vision(&files[..1], "m", false).is_ok());

            let mut seeing = Turns::new(app, &owned, true);
            seeing.add(ChatRole::User, "look", &files).await.unwrap();
            let turn = seeing.oldest_first().remove(0);
            assert_eq!(
                turn.content,
                "look\n\n<file name=\"notes.md\">\n# hi\n</file>\n\n[PDF scan.pdf: no text could be read from it]\n\n[file gone.txt: deleted]"
            );
            assert!(matches!(turn.pieces().last(), Some(Piece::Image(i)) if i.data.as_ref().unwrap().media_type == "image/png"));

            let mut blind = Turns::new(app, &owned, false);
            blind.add(ChatRole::User, "", &files[1..2]).await.unwrap();
            let turn = blind.oldest_first().remove(0);
            assert_eq!((turn.content.as_str(), turn.parts.len()), ("[image cat.png: this model cannot see images]", 0));
        });
    }

    #[test]
    fn a_turn_reads_each_file_once_and_stops_when_its_text_budget_is_spent() {
        let t = testing::app().build();
        let app = &t.app;
        let owned = Owned::fresh(app, "s");
        let big = "y".repeat(MAX_TEXT_CHARS);
        t.run(async {
            sessions::create(app, &owned).await.unwrap();
            let mut files = Vec::new();
            for i in 0..5 {
                let attachment = Attachment {
                    id: app.new_id(),
                    filename: format!("f{i}.txt"),
                    content_type: "text/plain".into(),
                    size: big.len() as u64,
                    created_at: app.now(),
                };
                let upload =
                    Upload { attachment: attachment.clone(), bytes: Bytes::from(big.clone()), text: None };
                attachments::create(app, &owned, upload).await.unwrap();
                files.push(AttachedFile::from(&attachment));
            }
            let mut turns = Turns::new(app, &owned, false);
            turns.add(ChatRole::User, "newest", &files[..1]).await.unwrap();
            turns.add(ChatRole::User, "older", &files).await.unwrap();
            let [older, newest] = <[ChatMessage; 2]>::try_from(turns.oldest_first()).unwrap();
            assert!(newest.content.contains("<file name=\"f0.txt\">"));
            assert!(older.content.contains("[file f0.txt: shown in a later message]"), "read once a turn");
            assert_eq!(older.content.matches("<file name=").count(), 3, "the budget holds four files' text");
            assert!(older.content.ends_with("[file f4.txt: left out, the context has enough files]"));
        });
    }

    #[test]
    fn long_texts_are_cut() {
        let block = text_block("a\"b.txt", &"x".repeat(MAX_TEXT_CHARS + 1));
        assert!(block.starts_with("<file name=\"a'b.txt\">\n"));
        assert!(block.ends_with("\n[cut at 100000 characters]\n</file>"));
    }
}
