//! One error type for every handler; each variant knows its HTTP status and code.

use crate::ports::{BlobError, SecretError, StoreError};
use crate::providers::ProviderError;
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the cursor is not valid for this list")]
    InvalidCursor,
    #[error("{0}")]
    Validation(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("this account uses MFA: send a TOTP code or a recovery code")]
    MfaRequired,
    #[error("wrong, reused or expired code")]
    MfaInvalid,
    #[error("this API key has expired")]
    ApiKeyExpired,
    /// An account with no password proves it is its owner by a fresh sign-in.
    #[error("sign in again with your identity provider, then retry within 10 minutes")]
    SignInAgain,
    #[error("this password reset link is unknown, used or expired; ask an admin for a new one")]
    InvalidResetToken,
    #[error("{0}")]
    Forbidden(&'static str),
    /// The credential works but may not do this (an API key outside its scope).
    #[error("{0}")]
    InsufficientScope(&'static str),
    /// An API key limited to other models.
    #[error("this API key may not use model {0:?}")]
    ModelNotAllowed(String),
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("missing or mismatched CSRF token")]
    CsrfFailed,
    #[error("not found")]
    NotFound,
    /// A message id in the request (the field named) that is no message of the session.
    #[error("{0} names no message of this session")]
    UnknownMessage(&'static str),
    /// A message that cannot take the place asked of it (a user message as a parent).
    #[error("{0}")]
    WrongMessageRole(&'static str),
    #[error("no model named {0:?}; GET /v1/models lists them")]
    UnknownModel(String),
    /// `allow` is the `Allow` header: the methods the path does answer.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body came too slowly: it was not read whole within the time it may take.
    #[error("the request body did not arrive in time; send it again")]
    BodyTimedOut,
    #[error("{0}")]
    TooLarge(String),
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    /// An upload of a type attachments do not take, or whose bytes are not what its
    /// `Content-Type` says.
    #[error("{0}")]
    UnsupportedAttachment(String),
    /// Images attached for a model whose configuration says it cannot see them.
    #[error("model {0:?} cannot see images; choose a model with vision or attach text")]
    ModelCannotSeeImages(String),
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("too many failed logins; retry after {retry_after} s")]
    AccountLocked { retry_after: u64 },
    #[error("a backing service is unavailable: {0}")]
    Unavailable(String),
    /// Research needs a web search provider (`CONFAB_SEARCH_PROVIDER`).
    #[error("research needs a web search provider, and none is configured")]
    SearchNotConfigured,
    /// Every provider target failed before the reply began.
    #[error("{0}")]
    Upstream(ProviderError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidRequest(_) | InvalidCursor | InvalidResetToken => StatusCode::BAD_REQUEST,
            Validation(_) | UnknownMessage(_) | WrongMessageRole(_) | ModelCannotSeeImages(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Unauthorized | InvalidCredentials | MfaRequired | MfaInvalid | ApiKeyExpired | SignInAgain => {
                StatusCode::UNAUTHORIZED
            }
            Forbidden(_) | InsufficientScope(_) | ModelNotAllowed(_) | AccountDisabled | CsrfFailed => {
                StatusCode::FORBIDDEN
            }
            NotFound | UnknownModel(_) => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            EmailTaken | Conflict(_) => StatusCode::CONFLICT,
            PayloadTooLarge(_) | TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            UnsupportedMediaType | UnsupportedAttachment(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimited { .. } | AccountLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Unavailable(_) | SearchNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            Upstream(ProviderError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            Upstream(ProviderError::Status { status: 429, .. }) => StatusCode::TOO_MANY_REQUESTS,
            Upstream(ProviderError::Connect(_) | ProviderError::Status { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Upstream(_) => StatusCode::BAD_GATEWAY,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidRequest(_) => "invalid_request",
            InvalidCursor => "invalid_cursor",
            Validation(_) => "validation_failed",
            Unauthorized => "unauthorized",
            InvalidCredentials => "invalid_credentials",
            MfaRequired => "mfa_required",
            SignInAgain => "sign_in_again",
            MfaInvalid => "mfa_invalid",
            ApiKeyExpired => "api_key_expired",
            InvalidResetToken => "invalid_reset_token",
            Forbidden(_) => "forbidden",
            InsufficientScope(_) => "insufficient_scope",
            ModelNotAllowed(_) => "model_not_allowed",
            AccountDisabled => "account_disabled",
            CsrfFailed => "csrf_failed",
            NotFound => "not_found",
            UnknownMessage(_) => "unknown_message",
            WrongMessageRole(_) => "wrong_message_role",
            UnknownModel(_) => "model_not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            EmailTaken => "email_taken",
            Conflict(_) => "conflict",
            PayloadTooLarge(_) | TooLarge(_) => "payload_too_large",
            BodyTimedOut => "request_timeout",
            UnsupportedMediaType | UnsupportedAttachment(_) => "unsupported_media_type",
            ModelCannotSeeImages(_) => "model_cannot_see_images",
            RateLimited { .. } => "rate_limited",
            AccountLocked { .. } => "account_locked",
            Unavailable(_) => "service_unavailable",
            SearchNotConfigured => "search_not_configured",
            Upstream(e) => e.code(),
            Internal(_) => "internal_error",
        }
    }

    /// The error class OpenAI's API would report.
    pub fn kind(&self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        }
    }

    /// 405 for a path that answers `methods`; a path that answers GET answers HEAD too.
    pub fn method_not_allowed(methods: &[http::Method]) -> ApiError {
        let mut names = Vec::new();
        for method in methods {
            names.push(method.as_str());
            if method == http::Method::GET {
                names.push(http::Method::HEAD.as_str());
            }
        }
        ApiError::MethodNotAllowed { allow: names.join(", ") }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::AccountLocked { retry_after } => {
                Some(*retry_after)
            }
            ApiError::Upstream(ProviderError::Status { retry_after: Some(after), .. }) => {
                Some(after.as_secs().max(1))
            }
            // A throttled or timed-out store is worth retrying at once.
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        }
    }

    /// The message safe to show a client: server-side details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Unavailable(_) => "a backing service is unavailable; try again".into(),
            ApiError::Internal(_) => "internal error".into(),
            ApiError::Upstream(e) => e.public_message(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => ApiError::InvalidCursor,
            StoreError::ConditionFailed => ApiError::Conflict("the resource was changed concurrently; retry"),
            StoreError::Invalid(m) => ApiError::Internal(format!("store: {m}")),
            StoreError::TooLarge(_) => ApiError::TooLarge("too large to store".into()),
            StoreError::Unavailable(m) => ApiError::Unavailable(format!("store: {m}")),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::InvalidKey(k) => ApiError::Internal(format!("blob key {k}")),
            BlobError::Unavailable(m) => ApiError::Unavailable(format!("blobs: {m}")),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
