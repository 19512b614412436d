//! Domain types that parse, not validate: once you hold one, it is valid.

mod email;
mod id;
mod password;
mod role;
mod text;

pub use email::Email;
pub use id::Id;
pub use password::Password;
pub use role::Role;
pub use text::{BoundedText, optional_text};
