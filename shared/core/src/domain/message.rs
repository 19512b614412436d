use serde::{Deserialize, Serialize};

/// Who wrote a message. Stored and shown as `user`, `assistant` or `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
    System,
}

/// Where a message stands. Stored and shown as `complete`, `streaming`,
/// `interrupted`, `cancelled` or `failed`; only a reply is ever other than `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Complete,
    /// Its producer is still writing it.
    Streaming,
    /// Its client left (or its producer died) before it ended.
    Interrupted,
    Cancelled,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MessageRole, MessageStatus};
    use serde_json::{Value, json};

    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Copy>(
        value: T,
        text: &str,
    ) {
        assert_eq!(serde_json::to_value(value).unwrap(), Value::from(text));
        assert_eq!(serde_json::from_value::<T>(json!(text)).unwrap(), value);
    }

    #[test]
    fn roles_keep_their_stored_names() {
        round_trip(MessageRole::User, "user");
        round_trip(MessageRole::Assistant, "assistant");
        round_trip(MessageRole::System, "system");
    }

    #[test]
    fn statuses_keep_their_stored_names() {
        for status in [
            MessageStatus::Complete,
            MessageStatus::Streaming,
            MessageStatus::Interrupted,
            MessageStatus::Cancelled,
            MessageStatus::Failed,
        ] {
            round_trip(status, status.as_str());
        }
        assert_eq!(MessageStatus::Interrupted.as_str(), "interrupted");
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(serde_json::from_value::<MessageRole>(json!("tool")).is_err());
        assert!(serde_json::from_value::<MessageStatus>(json!("Complete")).is_err());
    }
}
