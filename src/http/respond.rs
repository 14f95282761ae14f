//! Response building: JSON bodies, Consul's query-meta headers, plain-text errors.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use crate::agent::AgentError;

/// An error answer: a status and a one-line plain-text reason.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    msg: String,
    allow: Option<&'static str>,
}

impl From<crate::api::definition::Invalid> for ApiError {
    fn from(e: crate::api::definition::Invalid) -> Self {
        ApiError::bad(e.0)
    }
}

impl ApiError {
    /// Any status.
    pub fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError {
            status,
            msg: msg.into(),
            allow: None,
        }
    }

    /// The one-line reason.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// 400.
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, msg)
    }

    /// 405 with the route's `Allow` list.
    pub fn method(method: &str, allow: &'static str) -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            msg: format!("method {method} not allowed"),
            allow: Some(allow),
        }
    }

    /// The status it answers with (callers that only decide, such as tests and the
    /// forwarding choice, look at it without rendering).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Allow` list of a 405.
    pub fn allow(&self) -> Option<&'static str> {
        self.allow
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        let status = match &e {
            AgentError::NotFound(_) => StatusCode::NOT_FOUND,
            AgentError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AgentError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<crate::api::decode::DecodeError> for ApiError {
    fn from(e: crate::api::decode::DecodeError) -> Self {
        ApiError::bad(e.to_string())
    }
}

/// Render an error.
pub fn error(e: ApiError) -> Response {
    let mut r = text(e.status, &e.msg);
    if let Some(a) = e.allow {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(a));
    }
    r
}

/// The answer to `OPTIONS` on a route that does not take it: 200, no body, the route's
/// methods in `Allow`.
pub fn options(allow: &'static str) -> Response {
    let mut r = text(StatusCode::OK, "");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Plain text answer.
pub fn text(status: StatusCode, msg: &str) -> Response {
    let body = if msg.is_empty() {
        String::new()
    } else {
        format!("{msg}\n")
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// `200` with an empty body.
pub fn empty() -> Response {
    Response::new(Body::empty())
}

/// JSON answer without query-meta headers.
pub fn json_plain<T: Serialize + ?Sized>(v: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(v)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, bytes))
}

/// JSON from bytes already serialized.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Query metadata of a read served from the state store.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// `X-Consul-Index`, never 0.
    pub index: u64,
    /// `X-Consul-KnownLeader`.
    pub known_leader: bool,
    /// `X-Consul-LastContact` in ms.
    pub last_contact_ms: u64,
    /// `X-Consul-Effective-Consistency`.
    pub consistency: &'static str,
}

/// Add the `X-Consul-*` headers to a response.
pub fn with_meta(mut r: Response, m: Meta) -> Response {
    let h = r.headers_mut();
    h.insert("X-Consul-Index", HeaderValue::from(m.index.max(1)));
    h.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if m.known_leader { "true" } else { "false" }),
    );
    h.insert("X-Consul-LastContact", HeaderValue::from(m.last_contact_ms));
    h.insert(
        "X-Consul-Effective-Consistency",
        HeaderValue::from_static(m.consistency),
    );
    h.insert(
        "X-Consul-Query-Backend",
        HeaderValue::from_static("blocking-query"),
    );
    r
}

/// Whether an `If-None-Match` value names `etag` (`*`, a list, weak tags compared weakly).
fn names_tag(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let etag = bare(etag);
    list.split(',').any(|t| t.trim() == "*" || bare(t) == etag)
}

/// A `200` that carries an `ETag` the client already holds becomes a `304` with the same
/// headers and no body, so an unchanged file is not sent again.
pub fn not_modified(r: Response, if_none_match: &HeaderValue) -> Response {
    let matches = r.status() == StatusCode::OK
        && r.headers()
            .get(header::ETAG)
            .is_some_and(|etag| names_tag(if_none_match, etag));
    if !matches {
        return r;
    }
    let (mut parts, _) = r.into_parts();
    parts.status = StatusCode::NOT_MODIFIED;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    Response::from_parts(parts, Body::empty())
}

/// Re-indent a JSON answer for `?pretty`.
pub async fn prettify(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !is_json {
        return r;
    }
    let (parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let pretty = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            v.serialize(&mut ser).ok()?;
            out.push(b'\n');
            Some(out)
        })
        .unwrap_or_else(|| bytes.to_vec());
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(pretty))
}
