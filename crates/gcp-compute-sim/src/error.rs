//! Errors: the crate's own (`Error`, for starting the server) and the
//! Google-shaped API errors (`ApiError`) that handlers answer with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What can go wrong when starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to listen on non-loopback address {0} (pass --allow-non-loopback to override)")]
    NonLoopback(std::net::SocketAddr),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered in Google's JSON envelope:
/// `{"error":{"code","message","errors":[{"message","domain","reason"}],"details":[…]}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub message: String,
    pub reason: &'static str,
    pub domain: &'static str,
    /// Rarely used members, boxed to keep the common error small.
    extras: Option<Box<ErrorExtras>>,
}

/// Optional parts of the envelope.
#[derive(Debug, Clone, Default, PartialEq)]
struct ErrorExtras {
    /// `google.rpc.*` detail objects; omitted from the envelope when empty,
    /// as Compute does for plain validation and not-found errors.
    details: Vec<Value>,
    /// Extra members of `error` (`status` for auth errors).
    top: Vec<(&'static str, Value)>,
    /// Extra members of `errors[0]` (`location`, `locationType`).
    item: Vec<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), reason, domain: "global", extras: None }
    }

    fn extras_mut(&mut self) -> &mut ErrorExtras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// Adds a `google.rpc.*` object to `details`.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.extras_mut().details.push(detail);
        self
    }

    pub fn with_domain(mut self, domain: &'static str) -> Self {
        self.domain = domain;
        self
    }

    /// 404 for a resource path such as `projects/p/global/networks/n`.
    pub fn not_found(path: &str) -> Self {
        Self::new(404, "notFound", format!("The resource '{path}' was not found"))
    }

    /// A URL that names no API method.
    pub fn not_found_url() -> Self {
        Self::new(404, "notFound", "The requested URL was not found on this server.")
    }

    pub fn already_exists(path: &str) -> Self {
        Self::new(409, "alreadyExists", format!("The resource '{path}' already exists"))
    }

    /// A mutation on a resource whose previous operation is still running.
    pub fn not_ready(path: &str) -> Self {
        Self::new(400, "resourceNotReady", format!("The resource '{path}' is not ready"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid", message)
    }

    /// Compute's wording for a field that fails validation.
    pub fn invalid_field(field: &str, value: &str, why: &str) -> Self {
        let why = if why.is_empty() { String::new() } else { format!(" {why}") };
        Self::invalid(format!("Invalid value for field '{field}': '{value}'.{why}"))
    }

    pub fn required(field: &str) -> Self {
        Self::new(400, "required", format!("Required field '{field}' not specified"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "badRequest", message)
    }

    /// A body that is not JSON or names a field the schema lacks.
    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::invalid(format!("Invalid JSON payload received. {detail}"))
    }

    /// Google's answer to a request without credentials.
    pub fn unauthenticated() -> Self {
        let mut e = Self::new(
            401,
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access \
             token, login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        let extras = e.extras_mut();
        extras.top.push(("status", json!("UNAUTHENTICATED")));
        extras.item.push(("location", json!("Authorization")));
        extras.item.push(("locationType", json!("header")));
        e
    }

    /// The JSON envelope.
    pub fn body(&self) -> Value {
        let mut item = json!({"message": self.message, "domain": self.domain, "reason": self.reason});
        if self.code == 401 {
            // Google words the per-error message differently for auth.
            item["message"] = json!("Login Required.");
        }
        let extras = self.extras.as_deref().cloned().unwrap_or_default();
        for (k, v) in extras.item {
            item[k] = v;
        }
        let mut error = json!({"code": self.code, "message": self.message, "errors": [item]});
        if !extras.details.is_empty() {
            error["details"] = Value::Array(extras.details);
        }
        for (k, v) in extras.top {
            error[k] = v;
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if self.code == 401 {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""));
        }
        response
    }
}

/// Why a finished operation failed: lands in `Operation.error.errors[]`
/// together with `httpErrorStatusCode` / `httpErrorMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationFailure {
    pub code: &'static str,
    pub message: String,
    pub http_status: u16,
}

impl OperationFailure {
    pub fn new(code: &'static str, http_status: u16, message: impl Into<String>) -> Self {
        OperationFailure { code, message: message.into(), http_status }
    }

    /// The reason phrase Compute puts in `httpErrorMessage` (upper case).
    pub fn http_message(&self) -> String {
        StatusCode::from_u16(self.http_status).ok().and_then(|s| s.canonical_reason()).unwrap_or("ERROR").to_uppercase()
    }
}
