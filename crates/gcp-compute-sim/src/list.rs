//! List calls: `maxResults` / `pageToken` paging and the `filter`
//! expressions Compute accepts (`name = "x"`, `name != x`, `name eq re`,
//! `name ne re`, parenthesised conjunctions of those).

use regex_lite::Regex;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::links::link;
use crate::operations::Params;

const MAX_RESULTS: usize = 500;

/// Paging and filtering asked for by a list call.
pub struct ListParams {
    pub max_results: usize,
    after: Option<String>,
    filter: Vec<Term>,
}

#[derive(Debug)]
enum Op {
    /// `=` or `:`; `*` in the value is a wildcard.
    Equals(bool),
    /// `eq` / `ne`: the value is an RE2 regex that must match the whole field.
    Regex(Regex, bool),
}

#[derive(Debug)]
struct Term {
    field: Vec<String>,
    op: Op,
    value: String,
}

impl ListParams {
    pub fn parse(params: &Params) -> Result<Self, ApiError> {
        let max_results = match params.get("maxResults") {
            None => MAX_RESULTS,
            Some(raw) => parse_max_results(raw)?,
        };
        let after = match params.get("pageToken").filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => Some(decode_token(token).ok_or_else(|| ApiError::invalid_field("pageToken", token, ""))?),
        };
        let filter = match params.get("filter").map(|f| f.trim()).filter(|f| !f.is_empty()) {
            None => Vec::new(),
            Some(f) => parse_filter(f).ok_or_else(|| ApiError::invalid_field("filter", f, "Invalid list filter expression."))?,
        };
        Ok(ListParams { max_results, after, filter })
    }

    /// Whether a rendered resource passes the filter.
    pub fn matches(&self, item: &Value) -> bool {
        self.filter.iter().all(|t| t.matches(item))
    }

    /// One page of `items` (sorted by their key) and the token of the next.
    pub fn page(&self, items: Vec<(String, Value)>) -> (Vec<Value>, Option<String>) {
        let mut rest = items.into_iter().filter(|(key, item)| self.after.as_ref().is_none_or(|a| key > a) && self.matches(item));
        let page: Vec<(String, Value)> = rest.by_ref().take(self.max_results).collect();
        let more = rest.next().is_some();
        let token = match (more, page.last()) {
            (true, Some((key, _))) => Some(encode_token(key)),
            _ => None,
        };
        (page.into_iter().map(|(_, v)| v).collect(), token)
    }
}

fn parse_max_results(raw: &str) -> Result<usize, ApiError> {
    let n: i64 = raw.parse().map_err(|_| ApiError::invalid_field("maxResults", raw, ""))?;
    if n < 0 {
        return Err(ApiError::invalid_field("maxResults", raw, "Must be greater than or equal to 0"));
    }
    if n > MAX_RESULTS as i64 {
        return Err(ApiError::invalid_field("maxResults", raw, "Must be less than or equal to 500"));
    }
    // 0 means "the default", as for Compute.
    Ok(if n == 0 { MAX_RESULTS } else { n as usize })
}

/// A `compute#…List` answer; `items` is left out when empty, as Compute does.
pub fn list_response(kind: &str, path: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut list = json!({"kind": kind, "id": path, "selfLink": link(path)});
    if !items.is_empty() {
        list["items"] = Value::Array(items);
    }
    if let Some(token) = next {
        list["nextPageToken"] = json!(token);
    }
    list
}

// Tokens are opaque to clients; the hex of the last key returned keeps
// paging stable when items are added or removed between pages.
fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if token.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

fn parse_filter(f: &str) -> Option<Vec<Term>> {
    if !f.starts_with('(') {
        return Some(vec![parse_term(f)?]);
    }
    let mut terms = Vec::new();
    let mut rest = f;
    while !rest.is_empty() {
        let inner_start = rest.strip_prefix('(')?;
        let end = closing_paren(inner_start)?;
        terms.push(parse_term(&inner_start[..end])?);
        rest = inner_start[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix("AND ") {
            rest = r.trim_start();
        }
    }
    Some(terms)
}

/// Index of the `)` closing an expression, skipping quoted text.
fn closing_paren(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ')') => return Some(i),
            (None, '(') => return None,
            _ => {}
        }
    }
    None
}

fn parse_term(expr: &str) -> Option<Term> {
    let expr = expr.trim();
    let (field, op, value) = split_comparison(expr)?;
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        return None;
    }
    let value = unquote(value.trim())?;
    let op = match op {
        "=" | ":" => Op::Equals(true),
        "!=" => Op::Equals(false),
        "eq" | "ne" => Op::Regex(Regex::new(&format!("^(?:{value})$")).ok()?, op == "eq"),
        _ => return None,
    };
    Some(Term { field: field.split('.').map(str::to_string).collect(), op, value })
}

fn split_comparison(expr: &str) -> Option<(&str, &str, &str)> {
    for word in [" eq ", " ne "] {
        if let Some(i) = expr.find(word) {
            return Some((expr[..i].trim(), word.trim(), &expr[i + word.len()..]));
        }
    }
    let i = expr.find(['=', '!', ':', '<', '>'])?;
    let op = if expr[i..].starts_with("!=") { "!=" } else { expr.get(i..i + 1)? };
    if op == "<" || op == ">" {
        return None;
    }
    Some((expr[..i].trim(), op, &expr[i + op.len()..]))
}

fn unquote(v: &str) -> Option<String> {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q) {
            return inner.strip_suffix(q).map(str::to_string);
        }
    }
    // An unquoted value is one word; more would be an OR/AND we do not support.
    (!v.is_empty() && !v.contains(char::is_whitespace)).then(|| v.to_string())
}

impl Term {
    fn matches(&self, item: &Value) -> bool {
        let mut v = item;
        for part in &self.field {
            match v.get(part) {
                Some(next) => v = next,
                None => return matches!(self.op, Op::Equals(false) | Op::Regex(_, false)),
            }
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return false,
        };
        match &self.op {
            Op::Equals(want) => glob(&self.value, &text) == *want,
            Op::Regex(re, want) => re.is_match(&text) == *want,
        }
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(filter: &str) -> ListParams {
        let mut p = Params::new();
        p.insert("filter".into(), filter.into());
        ListParams::parse(&p).unwrap()
    }

    #[test]
    fn filters_by_name_in_every_supported_form() {
        let a = json!({"name": "net-a", "autoCreateSubnetworks": false});
        for f in [
            "name = \"net-a\"",
            "name = net-a",
            "name eq net-.*",
            "name != net-b",
            "name ne net-b",
            "(name = net-a) (autoCreateSubnetworks = false)",
            "name = net-*",
        ] {
            assert!(params(f).matches(&a), "{f}");
        }
        for f in ["name = \"net-b\"", "name eq net", "name != net-a", "name = b*"] {
            assert!(!params(f).matches(&a), "{f}");
        }
    }

    #[test]
    fn refuses_unsupported_filters() {
        for f in ["name < x", "name = a OR name = b", "(name = a", "bad field = x"] {
            let mut p = Params::new();
            p.insert("filter".into(), f.into());
            assert!(ListParams::parse(&p).is_err(), "{f}");
        }
    }

    #[test]
    fn pages_with_tokens() {
        let mut p = Params::new();
        p.insert("maxResults".into(), "2".into());
        let items: Vec<(String, Value)> = ["a", "b", "c"].iter().map(|n| (n.to_string(), json!({"name": n}))).collect();
        let (page, token) = ListParams::parse(&p).unwrap().page(items.clone());
        assert_eq!(page.len(), 2);
        p.insert("pageToken".into(), token.unwrap());
        let (page, token) = ListParams::parse(&p).unwrap().page(items);
        assert_eq!(page, vec![json!({"name": "c"})]);
        assert!(token.is_none());
    }
}
