//! A loopback HTTP proxy between peerctl and moto that splits Describe
//! answers into pages of `page_size` items with `NextToken`s, as EC2 does
//! for large accounts and moto never does, to prove peerctl follows them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The element holding each paged action's items.
const SETS: &[(&str, &str)] = &[
    ("DescribeVpcs", "vpcSet"),
    ("DescribeRouteTables", "routeTableSet"),
    ("DescribeSecurityGroups", "securityGroupInfo"),
    ("DescribeSecurityGroupRules", "securityGroupRuleSet"),
    ("DescribeVpcPeeringConnections", "vpcPeeringConnectionSet"),
];

struct Upstream {
    base: String,
    page_size: usize,
    client: reqwest::Client,
    pages_served: AtomicU64,
}

pub struct PagingProxy {
    pub endpoint: String,
    upstream: Arc<Upstream>,
    server: tokio::task::JoinHandle<()>,
}

impl PagingProxy {
    pub async fn start(upstream: &str, page_size: usize) -> crate::Result<PagingProxy> {
        let upstream =
            Arc::new(Upstream { base: upstream.to_string(), page_size, client: reqwest::Client::new(), pages_served: AtomicU64::new(0) });
        let app = axum::Router::new().fallback(forward).with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(PagingProxy { endpoint, upstream, server })
    }

    /// Paged answers served so far (pages after the first of each listing).
    pub fn continuation_pages(&self) -> u64 {
        self.upstream.pages_served.load(Ordering::Relaxed)
    }
}

impl Drop for PagingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(upstream): State<Arc<Upstream>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    match forward_inner(&upstream, method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn forward_inner(upstream: &Upstream, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> crate::Result<Response> {
    let form = String::from_utf8_lossy(&body).into_owned();
    let params: Vec<(&str, &str)> = form.split('&').filter_map(|p| p.split_once('=')).collect();
    let action = params.iter().find(|(k, _)| *k == "Action").map(|(_, v)| *v).unwrap_or_default();
    let set = SETS.iter().find(|(a, _)| *a == action).map(|(_, set)| *set);
    let page: usize = params.iter().find(|(k, _)| *k == "NextToken").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let body = match set {
        Some(_) => params
            .iter()
            .filter(|(k, _)| *k != "NextToken" && *k != "MaxResults")
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        None => form,
    };
    let url = format!("{}{}", upstream.base, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut request = upstream.client.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await?;
    let status = StatusCode::from_u16(answer.status().as_u16())?;
    let text = answer.text().await?;
    let text = match set {
        Some(set) if status.is_success() => {
            if page > 0 {
                upstream.pages_served.fetch_add(1, Ordering::Relaxed);
            }
            paginate(&text, set, page, upstream.page_size)
        }
        _ => text,
    };
    Ok((status, [("content-type", "text/xml")], text).into_response())
}

/// Keeps page `page` of the items in `<set>`, adding `<nextToken>` when more follow.
fn paginate(xml: &str, set: &str, page: usize, size: usize) -> String {
    let (open, close) = (format!("<{set}>"), format!("</{set}>"));
    let (Some(start), Some(end)) = (xml.find(&open), xml.rfind(&close)) else { return xml.to_string() };
    let inner = &xml[start + open.len()..end];
    let items = top_level_items(inner);
    let from = (page * size).min(items.len());
    let to = (from + size).min(items.len());
    let mut out = format!("{}{open}{}{close}", &xml[..start], items[from..to].concat());
    let rest = &xml[end + close.len()..];
    if to < items.len() {
        let root_close = rest.rfind("</").unwrap_or(rest.len());
        out.push_str(&rest[..root_close]);
        out.push_str(&format!("<nextToken>{}</nextToken>", page + 1));
        out.push_str(&rest[root_close..]);
    } else {
        out.push_str(rest);
    }
    out
}

/// The `<item>…</item>` children of a set, nested items kept whole.
pub(crate) fn top_level_items(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start, mut at) = (0usize, 0usize, 0usize);
    while at < inner.len() {
        let rest = &inner[at..];
        if rest.starts_with("<item>") {
            if depth == 0 {
                start = at;
            }
            depth += 1;
            at += "<item>".len();
        } else if rest.starts_with("</item>") {
            depth = depth.saturating_sub(1);
            at += "</item>".len();
            if depth == 0 {
                items.push(&inner[start..at]);
            }
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_top_level_items_into_pages() {
        let xml =
            "<R><vpcSet><item><id>a</id><tagSet><item>t</item></tagSet></item><item><id>b</id></item><item><id>c</id></item></vpcSet></R>";
        let first = super::paginate(xml, "vpcSet", 0, 2);
        assert_eq!(
            first,
            "<R><vpcSet><item><id>a</id><tagSet><item>t</item></tagSet></item><item><id>b</id></item></vpcSet><nextToken>1</nextToken></R>"
        );
        assert_eq!(super::paginate(xml, "vpcSet", 1, 2), "<R><vpcSet><item><id>c</id></item></vpcSet></R>");
    }
}
