//! The one place errors become HTTP: RFC 9457 problem+json with a stable
//! snake_case `code`, field-level `errors`, and the request id.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{domain, store};

/// A field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// JSON path or parameter name, e.g. `identities[0].value`.
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("authentication required")]
    Unauthorized,
    /// The password was right; the account also needs its second factor.
    #[error("enter the code from your authenticator app, or one of your recovery codes")]
    TwoFactorRequired,
    /// An admin must turn on two-factor sign-in before anything else.
    #[error("administrators must turn on two-factor sign-in first: POST /api/v1/auth/two-factor")]
    TwoFactorEnrolmentRequired,
    /// Passwords are refused here (`auth.require_sso`) but for break-glass accounts.
    #[error("this institution signs in through its identity provider: use its button on the sign-in page")]
    SsoRequired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Existed once and never will again (a one-time download used).
    #[error("{0}")]
    Gone(&'static str),
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    Transition(String),
    #[error("too many requests; retry in {0} seconds")]
    RateLimited(u64),
    /// Too many live streams are open (for the caller, its address or the server).
    #[error("{0}")]
    TooManyStreams(&'static str),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInProgress,
    /// A provider's webhook whose signature or token did not verify.
    #[error("{0}")]
    BadSignature(String),
    /// Something this request needs is down for now; retry later.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::Internal(err.to_string())
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::TwoFactorRequired => "two_factor_required",
            ApiError::TwoFactorEnrolmentRequired => "two_factor_enrolment_required",
            ApiError::SsoRequired => "sso_required",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Gone(_) => "gone",
            ApiError::Conflict { .. } => "conflict",
            ApiError::Transition(_) => "invalid_transition",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::TooManyStreams(_) => "too_many_streams",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::IdempotencyInProgress => "idempotency_key_in_progress",
            ApiError::BadSignature(_) => "invalid_signature",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Bad request",
            ApiError::Validation(_) => "Validation failed",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::TwoFactorRequired => "Two-factor code required",
            ApiError::TwoFactorEnrolmentRequired => "Two-factor sign-in required",
            ApiError::SsoRequired => "Single sign-on required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::Gone(_) => "Gone",
            ApiError::Conflict { .. } | ApiError::IdempotencyInProgress => "Conflict",
            ApiError::Transition(_) => "Invalid status change",
            ApiError::RateLimited(_) | ApiError::TooManyStreams(_) => "Too many requests",
            ApiError::PayloadTooLarge(_) => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::IdempotencyMismatch => "Idempotency key reused",
            ApiError::BadSignature(_) => "Invalid signature",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let errors = match self {
            ApiError::Validation(errors) => errors.clone(),
            ApiError::Conflict { field, message } => {
                vec![FieldError { field: field.clone(), message: message.clone() }]
            }
            ApiError::TwoFactorRequired => vec![FieldError { field: "code".into(), message: self.to_string() }],
            _ => vec![],
        };
        let detail = match self {
            // A 500 says nothing but the request id; the cause goes to the log.
            ApiError::Internal(_) => "an internal error occurred; quote the request id when reporting it".to_owned(),
            ApiError::Validation(errors) if errors.len() == 1 => format!("{}: {}", errors[0].field, errors[0].message),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:ventanilla:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code().to_owned(),
            request_id: super::middleware::current_request_id(),
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::TwoFactorRequired => StatusCode::UNAUTHORIZED,
            ApiError::TwoFactorEnrolmentRequired => StatusCode::FORBIDDEN,
            ApiError::Forbidden(_) | ApiError::SsoRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Conflict { .. } | ApiError::Transition(_) | ApiError::IdempotencyInProgress => {
                StatusCode::CONFLICT
            }
            ApiError::RateLimited(_) | ApiError::TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(request_id = %super::middleware::current_request_id(), %cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if let ApiError::RateLimited(secs) = self {
            response.insert_header(("Retry-After", secs.to_string()));
        }
        if let ApiError::TooManyStreams(_) = self {
            response.insert_header(("Retry-After", "10"));
        }
        if let ApiError::Unavailable(cause) = self {
            tracing::warn!(request_id = %super::middleware::current_request_id(), %cause, "answered 503");
            response.insert_header(("Retry-After", "30"));
        }
        if matches!(self, ApiError::Unauthorized | ApiError::TwoFactorRequired) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(self.problem())
    }
}

impl From<super::stream_slots::Full> for ApiError {
    fn from(full: super::stream_slots::Full) -> Self {
        ApiError::TooManyStreams(full.message())
    }
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        match err {
            domain::Error::Invalid { field, message } => ApiError::field(field, message),
            domain::Error::Transition { .. } => ApiError::Transition(err.to_string()),
            domain::Error::Forbidden(why) => ApiError::Forbidden(why),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(err: store::Error) -> Self {
        match err {
            store::Error::NotFound(what) => ApiError::NotFound(what),
            store::Error::Conflict { field, message } => ApiError::Conflict { field, message },
            store::Error::Domain(e) => e.into(),
            store::Error::Db(e) => ApiError::Internal(format!("database: {e}")),
            store::Error::Corrupt(e) => ApiError::Internal(format!("corrupt data: {e}")),
        }
    }
}

impl From<crate::auth::Error> for ApiError {
    fn from(err: crate::auth::Error) -> Self {
        ApiError::Internal(err.to_string())
    }
}

/// Collects several field errors before failing, so a client fixes all at once.
#[derive(Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    /// Keeps the value if valid; remembers the error otherwise.
    pub fn check<T>(&mut self, result: Result<T, domain::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(domain::Error::Invalid { field, message }) => {
                self.errors.push(FieldError { field, message });
                None
            }
            Err(other) => {
                self.errors.push(FieldError { field: String::new(), message: other.to_string() });
                None
            }
        }
    }

    /// Like [`Checker::check`] for results that are already API errors.
    pub fn check_api<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ApiError::Validation(errors)) => {
                self.errors.extend(errors);
                None
            }
            Err(other) => {
                self.errors.push(FieldError { field: String::new(), message: other.to_string() });
                None
            }
        }
    }

    /// Remembers an error found outside a domain check.
    pub fn push(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.errors)) }
    }
}
