//! Domain types that parse, not validate: once you hold one, it is valid.

mod api_key;
mod attachment;
mod email;
mod id;
mod message;
mod mfa;
mod password;
mod quota;
mod role;
mod text;

pub use api_key::{MAX_KEY_MODELS, ModelAllowlist, Scope, Scopes, key_expiry};
pub use attachment::{AttachmentKind, MAX_FILENAME_CHARS, classify, filename};
pub use email::Email;
pub use id::Id;
pub use message::{MessageRole, MessageStatus};
pub use mfa::{RecoveryCode, TotpCode};
pub use password::Password;
pub use quota::Quota;
pub use role::Role;
pub use text::{BoundedText, optional_text};
