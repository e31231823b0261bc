//! The Compute v1 REST calls peerctl makes: paged lists, and mutations that
//! return an `Operation` which is waited on until `DONE`. Every failure is
//! mapped once, here, to the engine's `ProviderError`.

use crate::GcpProvider;
use crate::auth::chain;
use peerctl_engine::ProviderError;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// How long one operation may take before peerctl gives up on it. Peering
/// operations usually finish in well under a minute.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(600);

/// Attempts of a read (reads are idempotent, so retried here; the engine
/// retries mutations as whole steps).
const READ_ATTEMPTS: u32 = 8;

impl GcpProvider {
    /// A read, retried with backoff while the API is throttling or failing.
    async fn read(&self, op: &'static str, method: Method, path: &str, query: &[(&str, &str)]) -> Result<Value, ProviderError> {
        let mut pause = Duration::from_millis(100);
        for _ in 1..READ_ATTEMPTS {
            match self.send(op, method.clone(), path, query, None).await {
                Err(error) if error.is_retryable() => {
                    tracing::debug!("{error}; retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
        self.send(op, method, path, query, None).await
    }

    /// One request; `op` names it in errors and in the call count.
    async fn send(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ProviderError> {
        self.count(op);
        let mut request = self.http.request(method, format!("{}{path}", self.base_url)).query(query);
        if let Some(bearer) = self.auth.bearer().await? {
            request = request.bearer_auth(bearer.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ProviderError::Unavailable(format!("{op}: {}", chain(&e))))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ProviderError::Unavailable(format!("{op}: {}", chain(&e))))?;
        if !status.is_success() {
            return Err(classify(op, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| ProviderError::Other(format!("{op}: unreadable answer: {e}")))
    }

    pub(crate) async fn get(&self, op: &'static str, path: &str) -> Result<Value, ProviderError> {
        self.read(op, Method::GET, path, &[]).await
    }

    /// Every item of a list or aggregatedList call, following `nextPageToken`.
    /// For aggregatedList the items of every scope are flattened.
    pub(crate) async fn list(&self, op: &'static str, path: &str, filter: Option<&str>) -> Result<Vec<Value>, ProviderError> {
        let mut items = Vec::new();
        let mut token = String::new();
        let page_size = self.page_size.to_string();
        loop {
            let mut query = vec![("maxResults", page_size.as_str())];
            if let Some(filter) = filter {
                query.push(("filter", filter));
            }
            if !token.is_empty() {
                query.push(("pageToken", token.as_str()));
            }
            let page = self.read(op, Method::GET, path, &query).await?;
            match page.get("items") {
                Some(Value::Array(list)) => items.extend(list.iter().cloned()),
                // aggregatedList: {"regions/r": {"subnetworks": […]} | {"warning": …}}
                Some(Value::Object(scopes)) => {
                    for scoped in scopes.values() {
                        if let Some(Value::Array(list)) = scoped.as_object().and_then(|s| s.values().find(|v| v.is_array())) {
                            items.extend(list.iter().cloned());
                        }
                    }
                }
                _ => {}
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => token = next.to_string(),
                _ => return Ok(items),
            }
        }
    }

    /// A mutation: sends it with `request_id` (so a retry returns the same
    /// operation), then waits for the operation and fails if it failed.
    pub(crate) async fn mutate(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        request_id: &str,
        body: Option<&Value>,
    ) -> Result<(), ProviderError> {
        let operation = self.send(op, method, path, &[("requestId", request_id)], body).await?;
        let result = self.wait(op, operation).await;
        if result.is_err() {
            // The operation ran and failed: sending this id again would only
            // return the same failed operation, so a retry needs a new one.
            self.request_ids.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, id| id != request_id);
        }
        result
    }

    async fn wait(&self, op: &'static str, mut operation: Value) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        let mut pause = Duration::from_millis(50);
        loop {
            if operation.get("status").and_then(Value::as_str) == Some("DONE") {
                return operation_result(op, &operation);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ProviderError::Other(format!("{op}: operation not done after {}s", OPERATION_TIMEOUT.as_secs())));
            }
            let link = operation.get("selfLink").and_then(Value::as_str).unwrap_or_default();
            let Some(path) = link.find("/projects/").map(|at| &link[at + 1..]) else {
                return Err(ProviderError::Other(format!("{op}: operation without a selfLink")));
            };
            // `wait` long-polls and may return before DONE; a short pause
            // keeps an early-returning server from being hammered.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            operation = self.read("operations.wait", Method::POST, &format!("{path}/wait"), &[]).await?;
        }
    }
}

/// A finished operation's outcome: its `error` is the call's failure.
fn operation_result(op: &str, operation: &Value) -> Result<(), ProviderError> {
    let Some(errors) = operation.pointer("/error/errors").and_then(Value::as_array) else {
        return Ok(());
    };
    let text: Vec<String> = errors
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("ERROR");
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            format!("{code}: {message}")
        })
        .collect();
    let text = format!("{op}: operation failed: {}", text.join("; "));
    let status = operation.get("httpErrorStatusCode").and_then(Value::as_u64).unwrap_or(400);
    Err(match status {
        429 => ProviderError::Throttled(text),
        500.. => ProviderError::Unavailable(text),
        _ => ProviderError::Other(text),
    })
}

/// Google's error envelope → `ProviderError`, by status, reason and message.
fn classify(op: &str, status: StatusCode, body: &str) -> ProviderError {
    let envelope: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = envelope.get("error");
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or(body).trim().to_string();
    let reason = error.and_then(|e| e.pointer("/errors/0/reason")).and_then(Value::as_str).unwrap_or("");
    let info = error
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
        .collect::<Vec<_>>();
    let text = if reason.is_empty() { format!("{op}: {status}: {message}") } else { format!("{op}: {message} ({reason})") };
    match status.as_u16() {
        400 if message.contains("operation in progress") => ProviderError::Throttled(text),
        429 => ProviderError::Throttled(text),
        403 if reason == "rateLimitExceeded" || info.contains(&"CONCURRENT_OPERATIONS_QUOTA_EXCEEDED") => ProviderError::Throttled(text),
        401 => ProviderError::PermissionDenied(format!("{text}; the credentials were refused")),
        403 => ProviderError::PermissionDenied(text),
        404 => ProviderError::NotFound(text),
        409 => ProviderError::AlreadyExists(text),
        500..=599 => ProviderError::Unavailable(text),
        _ => ProviderError::Other(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(code: u16, message: &str, reason: &str, info: &str) -> String {
        json!({"error": {"code": code, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}],
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": info}]}})
        .to_string()
    }

    #[test]
    fn errors_map_to_what_the_engine_retries() {
        let busy =
            envelope(400, "There is a peering operation in progress on the local or peer network. Try again later.", "badRequest", "");
        assert!(matches!(classify("addPeering", StatusCode::BAD_REQUEST, &busy), ProviderError::Throttled(_)));
        let quota = envelope(403, "Rate Limit Exceeded", "rateLimitExceeded", "CONCURRENT_OPERATIONS_QUOTA_EXCEEDED");
        assert!(matches!(classify("addPeering", StatusCode::FORBIDDEN, &quota), ProviderError::Throttled(_)));
        let denied = envelope(403, "Required 'compute.firewalls.create' permission for 'projects/p/global/firewalls/f'", "forbidden", "");
        assert!(matches!(classify("firewalls.insert", StatusCode::FORBIDDEN, &denied), ProviderError::PermissionDenied(_)));
        assert!(matches!(classify("x", StatusCode::SERVICE_UNAVAILABLE, "<html>"), ProviderError::Unavailable(_)));
        assert!(matches!(
            classify("x", StatusCode::CONFLICT, &envelope(409, "exists", "alreadyExists", "")),
            ProviderError::AlreadyExists(_)
        ));
        let invalid = envelope(400, "Invalid value for field 'resource.name'", "invalid", "");
        let ProviderError::Other(text) = classify("firewalls.insert", StatusCode::BAD_REQUEST, &invalid) else { panic!() };
        assert_eq!(text, "firewalls.insert: Invalid value for field 'resource.name' (invalid)");
    }

    #[test]
    fn a_done_operation_with_an_error_is_a_failure() {
        let failed = json!({"status": "DONE", "httpErrorStatusCode": 400,
            "error": {"errors": [{"code": "INVALID_USAGE", "message": "An IP range in the peer network overlaps"}]}});
        let Err(ProviderError::Other(text)) = operation_result("addPeering", &failed) else { panic!() };
        assert!(text.contains("INVALID_USAGE: An IP range in the peer network overlaps"), "{text}");
        assert_eq!(operation_result("addPeering", &json!({"status": "DONE"})), Ok(()));
    }
}
