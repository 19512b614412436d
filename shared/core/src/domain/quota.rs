use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's own limits; absent fields fall back to the deployment's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    #[schema(minimum = 1)]
    pub requests_per_minute: Option<i64>,
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    #[schema(minimum = 1)]
    pub tokens_per_day: Option<i64>,
}
