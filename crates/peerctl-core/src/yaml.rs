//! A YAML document as a tree whose every node knows its line and column.
//!
//! serde-saphyr parses the text; `Spanned` gives each node its position. The
//! spec decoder then walks this tree by hand so that it can report *every*
//! problem (unknown keys, wrong types, bad values) at once, each with its
//! location, instead of stopping at serde's first error.
//!
//! A spec without anchors, aliases, tags or merge keys, which is nearly every
//! spec, is read by `plain` straight from the events of serde-saphyr's own
//! parser (granit-parser), in half the time; anything else, and every error,
//! is left to serde-saphyr. Both give the same tree (`tests::plain_reads_as_serde_saphyr_does`).

use crate::diag::{Diagnostics, Loc};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub loc: Loc,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a user would call this kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses `text` into a tree; a syntax error is reported with its position.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<Node> {
    if text.trim().is_empty() {
        diags.error_with_hint(Loc::new(1, 1), "the spec is empty", "start with `version: 1` and `owner: NAME`");
        return None;
    }
    match plain(text).map(Ok).unwrap_or_else(|| serde_saphyr::from_str_with_options::<Node>(text, options())) {
        Ok(node) if node.value == Value::Null => {
            diags.error_with_hint(Loc::new(1, 1), "the spec is empty (only comments)", "start with `version: 1` and `owner: NAME`");
            None
        }
        Ok(node) => Some(node),
        Err(err) => {
            let loc = err.location().map(|l| to_loc(&l)).unwrap_or(Loc::new(1, 1));
            let message = first_line(&err.to_string());
            match syntax_hint(&message) {
                Some((message, hint)) => diags.error_with_hint(loc, message, hint),
                None => diags.error(loc, format!("invalid YAML: {message}")),
            }
            None
        }
    }
}

/// serde-saphyr's limits, with room for specs of tens of thousands of
/// peerings (about 25 nodes each); the defaults stop near 10,000. Its guards
/// against alias bombs and deep nesting stay as they are. Repeated keys are
/// passed through, for `Fields` to report every one of them where it is
/// (serde-saphyr stops at the first, and hashes every key to find it).
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 5_000_000;
    budget.max_events = 20_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options
}

/// A plain document's tree, read from granit-parser's events as serde-saphyr
/// reads them (`options()`, `Node`'s `Deserialize`): `None`, for serde-saphyr
/// to read it, at the first error, anchor, alias, tag, merge key, second
/// document, scalar whose type is not plain to see, or limit of the budget.
fn plain(text: &str) -> Option<Node> {
    use granit_parser::Event;
    enum Open {
        Seq(Loc, Vec<Node>),
        Map(Loc, Vec<(Node, Node)>, Option<Node>),
    }
    let budget = options().budget.unwrap_or_default();
    let (mut open, mut root, mut events, mut nodes, mut scalar_bytes) = (Vec::<Open>::new(), None, 0, 0, 0);
    for item in granit_parser::Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        events += 1;
        nodes += usize::from(matches!(event, Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)));
        if events > budget.max_events || nodes > budget.max_nodes {
            return None;
        }
        // serde-saphyr's `Location`: the line, and the column counted from 1.
        let loc = loc(span.start.line(), span.start.col() + 1);
        let node = match event {
            Event::StreamStart | Event::DocumentStart(..) | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::Scalar(text, style, 0, None) => {
                scalar_bytes += text.len();
                if scalar_bytes > budget.max_total_scalar_bytes {
                    return None;
                }
                Node { loc, value: scalar(&text, style)? }
            }
            Event::SequenceStart(_, 0, None) | Event::MappingStart(_, 0, None) if open.len() >= budget.max_depth => return None,
            Event::SequenceStart(_, 0, None) => {
                open.push(Open::Seq(loc, Vec::new()));
                continue;
            }
            Event::MappingStart(_, 0, None) => {
                open.push(Open::Map(loc, Vec::new(), None));
                continue;
            }
            Event::SequenceEnd => match open.pop()? {
                Open::Seq(loc, mut items) => {
                    items.shrink_to_fit();
                    Node { loc, value: Value::Seq(items) }
                }
                Open::Map(..) => return None,
            },
            Event::MappingEnd => match open.pop()? {
                Open::Map(loc, mut entries, None) => {
                    entries.shrink_to_fit();
                    Node { loc, value: Value::Map(entries) }
                }
                _ => return None,
            },
            _ => return None,
        };
        match open.last_mut() {
            None if root.is_none() => root = Some(node),
            None => return None,
            Some(Open::Seq(_, items)) => items.push(node),
            Some(Open::Map(_, _, key @ None)) => {
                if matches!(&node.value, Value::Str(text) if text == "<<") {
                    return None;
                }
                *key = Some(node);
            }
            Some(Open::Map(_, entries, key)) => entries.push((key.take()?, node)),
        }
    }
    root.filter(|_| open.is_empty())
}

/// An untagged scalar's value as serde-saphyr types it: `None` where that
/// takes more than a glance (numbers other than plain integers, `.inf`).
fn scalar(text: &str, style: granit_parser::ScalarStyle) -> Option<Value> {
    if style != granit_parser::ScalarStyle::Plain {
        return Some(Value::Str(text.to_string()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Some(Value::Null);
    }
    // YAML 1.1's booleans, as serde-saphyr reads them without `strict_booleans`.
    let word = |words: &[&str]| words.iter().any(|w| text.eq_ignore_ascii_case(w));
    if word(&["true", "yes", "y", "on"]) {
        return Some(Value::Bool(true));
    }
    if word(&["false", "no", "n", "off"]) {
        return Some(Value::Bool(false));
    }
    // A number (but `.inf` and `.nan`) starts with a digit or `.` after its
    // sign, has a digit, is spelt with these alone, has one `.` at most, and
    // a sign only first or after an exponent's `e`.
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let special = unsigned.strip_prefix('.').is_some_and(|word| word.bytes().all(|b| b.is_ascii_alphabetic()));
    let numeric = |c: char| c.is_ascii_hexdigit() || "xXoObB_+-.".contains(c);
    let bytes = text.as_bytes();
    let number_like = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && bytes.iter().any(u8::is_ascii_digit)
        && text.chars().all(numeric)
        && text.matches('.').count() <= 1
        && !bytes.windows(2).any(|w| matches!(w[1], b'+' | b'-') && !matches!(w[0], b'e' | b'E'));
    if !special && !number_like {
        return Some(Value::Str(text.to_string()));
    }
    // A decimal integer: no sign but `-`, no leading zero, no `_`, and short enough for i64.
    let digits = text.strip_prefix('-').unwrap_or(text);
    let decimal = !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit());
    if decimal && (digits == "0" || !digits.starts_with('0')) {
        return text.parse().ok().map(Value::Int);
    }
    None
}

/// Plainer words, and a way out, for the syntax errors people make most.
fn syntax_hint(message: &str) -> Option<(String, &'static str)> {
    if message.starts_with("budget breached") {
        let limit = message.trim_start_matches("budget breached").trim_start_matches(':').trim();
        return Some((
            format!("the spec is too large or too deeply nested to read ({limit})"),
            "a spec of peerings is a flat list; check for runaway anchors and aliases or nesting",
        ));
    }
    let hint = if message.contains("tabs disallowed") {
        "indent with spaces: YAML does not allow tabs in indentation"
    } else if message.contains("did not find expected ',' or '}'") || message.contains("did not find expected ',' or ']'") {
        "a `{` or `[` is not closed, or two items lack the comma between them"
    } else {
        return None;
    };
    Some((format!("invalid YAML: {message}"), hint))
}

fn to_loc(location: &serde_saphyr::Location) -> Loc {
    loc(location.line(), location.column())
}

/// A line and column, each held to `u32` (a larger one reads as `u32::MAX`).
fn loc<N: TryInto<u32>>(line: N, column: N) -> Loc {
    Loc::new(line.try_into().unwrap_or(u32::MAX), column.try_into().unwrap_or(u32::MAX))
}

/// serde-saphyr renders a source snippet after the message; we print our own location.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // "line 2 column 8: unclosed bracket" → "unclosed bracket": the position is printed already.
    match line.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((_, text)) => text.to_string(),
        None => line.to_string(),
    }
}

/// A node and where it is, read the way `serde_saphyr::Spanned` reads them
/// (serde-saphyr answers the newtype `__yaml_spanned` with a map of `value`,
/// `referenced` and `defined`), but taking only the value and the line and
/// column where it is referenced: `Spanned` itself copies each key into a
/// string and reads every location whole, which made parsing a large spec a
/// fifth slower. `tests::nodes_know_where_they_are` holds it to `Spanned`.
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct("__yaml_spanned", SpannedNode)
    }
}

struct SpannedNode;

impl<'de> Visitor<'de> for SpannedNode {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML node with its location")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_struct("Spanned", &["value", "referenced"], self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let (mut value, mut loc) = (None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Value => value = Some(map.next_value::<Value>()?),
                Field::Referenced => loc = Some(map.next_value::<Position>()?.0),
                _ => map.next_value::<de::IgnoredAny>().map(drop)?,
            }
            // What follows (`defined`) is not needed.
            if let (Some(_), Some(_)) = (&value, &loc) {
                break;
            }
        }
        match (value, loc) {
            (Some(value), Some(loc)) => Ok(Node { loc, value }),
            _ => Err(de::Error::custom("a YAML node without its value or location")),
        }
    }
}

/// A field name of `Spanned` or `Location`, matched without copying it.
enum Field {
    Value,
    Referenced,
    Line,
    Column,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "value" => Field::Value,
            "referenced" => Field::Referenced,
            "line" => Field::Line,
            "column" => Field::Column,
            _ => Field::Other,
        })
    }
}

/// Line and column of a serde-saphyr `Location` (`line`, `column`, then more, not read).
struct Position(Loc);

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Location", &["line", "column"], PositionVisitor)
    }
}

struct PositionVisitor;

impl<'de> Visitor<'de> for PositionVisitor {
    type Value = Position;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a location")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Position, A::Error> {
        let (mut line, mut column) = (None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Line => line = Some(map.next_value::<u64>()?),
                Field::Column => column = Some(map.next_value::<u64>()?),
                _ => break,
            }
            if let (Some(line), Some(column)) = (line, column) {
                return Ok(Position(loc(line, column)));
            }
        }
        Err(de::Error::custom("a location without its line or column"))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor::<Node>(PhantomData))
    }
}

/// A value whose children are read as `N`: `Node`, or in a test, nodes read
/// through `serde_saphyr::Spanned` itself.
struct ValueVisitor<N>(PhantomData<N>);

impl<'de, N: Deserialize<'de> + Into<Node>> Visitor<'de> for ValueVisitor<N> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<N>()? {
            items.push(item.into());
        }
        // A spec is mostly short lists and mappings: without their spare room
        // a large one takes a third less memory, and loads that much faster.
        items.shrink_to_fit();
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<N>()? {
            let value = map.next_value::<N>()?;
            entries.push((key.into(), value.into()));
        }
        entries.shrink_to_fit();
        Ok(Value::Map(entries))
    }
}

/// The keys of one mapping, consumed one by one; whatever is left at `finish`
/// is an unknown key, reported with a suggestion when one is close.
pub struct Fields<'a> {
    what: String,
    /// Every key this kind of mapping takes (one of `decode::keys`, which the schema reads too).
    keys: &'static [&'static str],
    entries: Vec<(&'a str, &'a Node, Loc)>,
    used: Vec<bool>,
    #[cfg(test)]
    decoded: Decoded,
}

/// What the decoder did with one mapping: where it is, the keys it read and
/// those it required. `schema_tests` compares this with the schema.
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub loc: Loc,
    pub read: Vec<&'static str>,
    pub required: Vec<&'static str>,
}

#[cfg(test)]
thread_local! {
    /// Every mapping decoded on this thread, in the order they were finished.
    pub(crate) static DECODED: std::cell::RefCell<Vec<Decoded>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<'a> Fields<'a> {
    /// `None` (with a diagnostic) when `node` is not a mapping. `keys` are all
    /// the keys it takes: reading any other is a bug.
    pub fn new(node: &'a Node, what: impl Into<String>, keys: &'static [&'static str], diags: &mut Diagnostics) -> Option<Self> {
        let what = what.into();
        let Value::Map(entries) = &node.value else {
            diags.error_with_hint(
                node.loc,
                format!("{what} must be a mapping, found {}", node.value.kind()),
                "write `key: value` lines, indented under it (or {key: value} on one line)",
            );
            return None;
        };
        let mut keyed: Vec<(&str, &Node, Loc)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match &key.value {
                Value::Str(name) if keyed.iter().any(|(earlier, _, _)| earlier == name) => {
                    diags.error_with_hint(key.loc, format!("`{name}` is written twice in the same mapping"), "keep only one of them");
                }
                Value::Str(name) => keyed.push((name.as_str(), value, key.loc)),
                other => diags.error(key.loc, format!("keys in {what} must be strings, found {}", other.kind())),
            }
        }
        let used = vec![false; keyed.len()];
        Some(Self {
            what,
            keys,
            entries: keyed,
            used,
            #[cfg(test)]
            decoded: Decoded { loc: node.loc, read: Vec::new(), required: Vec::new() },
        })
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// The value of `key`, if present (a YAML `null` counts as absent).
    pub fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        debug_assert!(self.keys.contains(&key), "`{key}` is not among the keys of {}: add it to `decode::keys`", self.what);
        #[cfg(test)]
        self.decoded.read.push(key);
        let index = self.entries.iter().position(|(name, _, _)| *name == key)?;
        self.used[index] = true;
        let node = self.entries[index].1;
        (node.value != Value::Null).then_some(node)
    }

    /// Like `get`, but a missing key is an error.
    pub fn require(&mut self, key: &'static str, hint: &str, diags: &mut Diagnostics, at: Loc) -> Option<&'a Node> {
        let node = self.get(key);
        #[cfg(test)]
        self.decoded.required.push(key);
        if node.is_none() {
            diags.error_with_hint(at, format!("{} is missing `{key}`", self.what), hint.to_string());
        }
        node
    }

    pub fn finish(self, diags: &mut Diagnostics) {
        #[cfg(test)]
        DECODED.with(|decoded| decoded.borrow_mut().push(self.decoded.clone()));
        for ((name, _, loc), used) in self.entries.iter().zip(&self.used) {
            if *used {
                continue;
            }
            let message = format!("unknown key `{name}` in {}", self.what);
            match closest(name, self.keys) {
                Some(near) => diags.error_with_hint(*loc, message, format!("did you mean `{near}`?")),
                None => diags.error_with_hint(*loc, message, format!("known keys here: {}", self.keys.join(", "))),
            }
        }
    }
}

pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known.iter().map(|k| (edit_distance(name, k), *k)).filter(|(d, k)| *d <= 2.max(k.len() / 3)).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

/// Typed views of a node; each reports a wrong type and returns `None`.
pub fn str_of<'a>(node: &'a Node, what: &str, diags: &mut Diagnostics) -> Option<&'a str> {
    match &node.value {
        Value::Str(s) => Some(s),
        other => {
            diags.error(node.loc, format!("{what} must be a string, found {}", other.kind()));
            None
        }
    }
}

pub fn bool_of(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            diags.error_with_hint(
                node.loc,
                format!("{what} must be true or false, found {}", other.kind()),
                "write true or false, without quotes",
            );
            None
        }
    }
}

pub fn seq_of<'a>(node: &'a Node, what: &str, diags: &mut Diagnostics) -> Option<&'a [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        other => {
            diags.error_with_hint(
                node.loc,
                format!("{what} must be a list, found {}", other.kind()),
                "write one item per line, each starting with `- ` (or [a, b] on one line)",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn nodes_carry_line_and_column() {
        let mut diags = Diagnostics::new("t.yaml");
        let node = parse("a: 1\nb:\n  - x\n  - {name: y}\n", &mut diags).expect("parses");
        let Value::Map(entries) = &node.value else { panic!("not a map") };
        assert_eq!(entries[0].0.loc, Loc::new(1, 1));
        assert_eq!(entries[1].0.loc, Loc::new(2, 1));
        let Value::Seq(items) = &entries[1].1.value else { panic!("not a seq") };
        assert_eq!(items[0].loc, Loc::new(3, 5));
        assert_eq!(items[1].loc, Loc::new(4, 5));
    }

    #[test]
    fn syntax_error_names_its_line() {
        let mut diags = Diagnostics::new("t.yaml");
        assert!(parse("a: [1, 2\nb: 3\n", &mut diags).is_none());
        let d = &diags.items()[0];
        assert!(d.loc.line >= 1, "{d}");
        assert!(d.message.starts_with("invalid YAML"), "{d}");
    }

    #[test]
    fn suggests_close_keys() {
        assert_eq!(closest("rout_tables", &["route_tables", "security_groups"]), Some("route_tables"));
        assert_eq!(closest("zzz", &["route_tables"]), None);
    }

    /// Every `.yaml` file in these folders of the repository, in order, with its text.
    fn repository_yaml(dirs: &[&str]) -> Vec<(PathBuf, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files: Vec<PathBuf> =
            dirs.iter().flat_map(|dir| std::fs::read_dir(root.join(dir)).expect(dir)).flatten().map(|e| e.path()).collect();
        files.retain(|f| f.extension().is_some_and(|e| e == "yaml"));
        files.sort();
        files
            .into_iter()
            .map(|file| {
                let text = std::fs::read_to_string(&file).expect("readable");
                (file, text)
            })
            .collect()
    }

    /// serde-saphyr's tree of `text`, and whether `plain` read it (the same tree) or left it.
    fn plain_or_left(text: &str) -> Result<bool, String> {
        let theirs = serde_saphyr::from_str_with_options::<Node>(text, options());
        match (plain(text), theirs) {
            (None, _) => Ok(false),
            (Some(ours), Ok(theirs)) if ours == theirs => Ok(true),
            (Some(ours), theirs) => Err(format!("{text:?}:\n plain: {ours:?}\n serde-saphyr: {theirs:?}")),
        }
    }

    #[test]
    fn plain_reads_as_serde_saphyr_does() {
        // Every spec, broken spec and fuzzing seed in the repository.
        let mut read = Vec::new();
        for (file, text) in repository_yaml(&["specs", "tests/broken", "fuzz/seeds"]) {
            if plain_or_left(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display())) {
                read.push(file.file_name().unwrap_or_default().to_string_lossy().to_string());
            }
        }
        assert!(["demo.yaml", "hub-and-spokes.yaml"].iter().all(|f| read.iter().any(|r| r == f)), "read plainly: {read:?}");
        assert!(read.len() > 50, "most specs are plain; read plainly: {read:?}");

        // Scalars of every type, each alone, as a key and in a flow sequence.
        let plain_to_see = [
            "0",
            "1",
            "-1",
            "-0",
            "42",
            "123456789012345678",
            "-123456789012345678",
            "~",
            "null",
            "Null",
            "NULL",
            "yes",
            "No",
            "Y",
            "n",
            "ON",
            "off",
            "True",
            "FALSE",
            "nULL",
            "a",
            "cafe",
            "deadbeef",
            "hub-0-vpc",
            "us-east-1",
            "10.0.0.0/16",
            "10.0.0.1:80",
            "inf",
            "nan",
            "Infinity",
            "-inf",
            "e5",
            "x",
            "10.0.0.1",
            "1.2.3",
            "8000-9000",
            "2024-01-01",
            "1e5-",
            "'1'",
            "\"yes\"",
            "'~'",
            "\"\"",
            "1 2",
            "a b c",
        ];
        let left = [
            "1.5",
            "-2.5e3",
            ".5",
            "1e999",
            "0x1F",
            "0X1F",
            "0o17",
            "0b101",
            "01",
            "007",
            "1_000",
            "+1",
            "+.inf",
            ".inf",
            "-.inf",
            ".nan",
            "-.nan",
            ".NaN",
            "1234567890123456789",
            "99999999999999999999",
            "1e-5",
            "1E+5",
            "0.",
            ".x",
            "0x",
            "!!str 1",
            "&a x",
            "!t x",
        ];
        for (scalars, expect_plain) in [(&plain_to_see[..], true), (&left[..], false)] {
            for scalar in scalars {
                for text in [format!("{scalar}\n"), format!("k: {scalar}\n"), format!("{scalar}: v\n"), format!("- [{scalar}]\n")] {
                    // `- [-]` and the like are not YAML; either way, the two must agree.
                    let read = plain_or_left(&text).unwrap_or_else(|e| panic!("{e}"));
                    let flow_or_key_exception = text.starts_with("- [") || text.starts_with(&format!("{scalar}:"));
                    if !flow_or_key_exception {
                        assert_eq!(read, expect_plain, "{text:?}");
                    }
                }
            }
        }

        for text in [
            "---\n",
            "k:\n",
            "k: ''\n",
            "- \n- a\n",
            "a: |\n  block\n",
            "a: >-\n  folded\n  text\n",
            "a: \"\\u00e9\\t\"\n",
            "a: {}\nb: []\n",
        ] {
            assert!(plain_or_left(text).unwrap_or_else(|e| panic!("{e}")), "{text:?}");
        }

        // Documents serde-saphyr reads its own way: aliases, tags, merge keys, several or none.
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "base: &b {x: 1}\nc:\n  <<: *b\n",
            "<<: {x: 1}\n",
            "a: 1\n---\nb: 2\n",
            "# only a comment\n",
            "a: [1, 2\n",
            "a:\n\t- b\n",
        ] {
            assert!(!plain_or_left(text).unwrap_or_else(|e| panic!("{e}")), "{text:?}");
        }
        assert!(plain_or_left("? [a, b]\n: c\n").unwrap_or_else(|e| panic!("{e}")), "a complex key is plain too");
        let deep = format!("{}1{}", "[".repeat(80), "]".repeat(80));
        assert!(plain(&deep).is_none(), "deeper than serde-saphyr's budget");

        // The parser's limits are serde-saphyr's with `options()`.
        let (parser, budget) = (granit_parser::Options::default(), options().budget.unwrap_or_default());
        assert_eq!(parser.simple_key_max_lookahead, budget.simple_key_max_lookahead);
        assert_eq!(parser.flow_nesting_limit, budget.flow_nesting_limit);
        assert!(parser.block_nesting_limit > budget.max_depth);
    }

    /// The same, on thousands of near-misses: the repository's specs with a
    /// character deleted or inserted, or a line repeated, here and there.
    #[test]
    fn plain_reads_mutated_specs_as_serde_saphyr_does() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let (mut plainly, mut total) = (0, 0);
        for (file, text) in repository_yaml(&["specs", "tests/broken"]) {
            for _ in 0..25 {
                let mut chars: Vec<char> = text.chars().collect();
                for _ in 0..1 + next(3) {
                    let at = next(chars.len());
                    match next(3) {
                        0 if !chars.is_empty() => drop(chars.remove(at)),
                        1 => chars.insert(at, b" :-[]{},&*!'\"#\n0.e~<y|>"[next(22)] as char),
                        _ => {
                            let start = chars[..at].iter().rposition(|c| *c == '\n').map_or(0, |i| i + 1);
                            let end = chars[at..].iter().position(|c| *c == '\n').map_or(chars.len(), |i| at + i + 1);
                            let line: Vec<char> = chars[start..end].to_vec();
                            chars.splice(start..start, line);
                        }
                    }
                }
                let mutated: String = chars.into_iter().collect();
                total += 1;
                if plain_or_left(&mutated).unwrap_or_else(|e| panic!("{}: {e}", file.display())) {
                    plainly += 1;
                }
            }
        }
        assert!(plainly > total / 4, "{plainly} of {total} read plainly");
    }

    /// A node read through `serde_saphyr::Spanned` itself, its children too.
    struct ViaSpanned(Node);

    impl From<ViaSpanned> for Node {
        fn from(node: ViaSpanned) -> Node {
            node.0
        }
    }

    impl<'de> Deserialize<'de> for ViaSpanned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let spanned = serde_saphyr::Spanned::<ValueViaSpanned>::deserialize(deserializer)?;
            Ok(ViaSpanned(Node { loc: to_loc(&spanned.referenced), value: spanned.value.0 }))
        }
    }

    struct ValueViaSpanned(Value);

    impl<'de> Deserialize<'de> for ValueViaSpanned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ValueVisitor::<ViaSpanned>(PhantomData)).map(ValueViaSpanned)
        }
    }

    fn walk(node: &Node, locs: &mut Vec<Loc>) {
        locs.push(node.loc);
        match &node.value {
            Value::Seq(items) => items.iter().for_each(|item| walk(item, locs)),
            Value::Map(entries) => entries.iter().for_each(|(key, value)| {
                walk(key, locs);
                walk(value, locs);
            }),
            _ => {}
        }
    }

    #[test]
    fn nodes_know_where_they_are() {
        let text = "# a comment\nversion: 1\nowner: team-a\npeerings:\n  - name: p\n    aws: {requester: {vpc: vpc-1, region: us-east-1},\n      accepter: {vpc: {name: b}, route_tables: [rtb-1, {name: x}]}}\n    allow:\n      - &web {protocol: tcp, ports: 443}\n      - *web\n      - \"quoted\"\n      - |\n        block\n  - {name: q, absent: true, n: 1.5, nothing: ~}\n";
        let mut diags = Diagnostics::new("spec.yaml");
        let node = parse(text, &mut diags).expect("parses");
        let mut ours = Vec::new();
        walk(&node, &mut ours);
        let theirs = serde_saphyr::from_str_with_options::<ViaSpanned>(text, options()).expect("parses").0;
        assert_eq!(node, theirs, "the same values, at the same places");
        let mut theirs_locs = Vec::new();
        walk(&theirs, &mut theirs_locs);
        assert_eq!(ours, theirs_locs);
        assert_eq!(ours.len(), 53);
        assert_eq!(ours[..3], [Loc::new(2, 1), Loc::new(2, 1), Loc::new(2, 10)], "the document, `version` and its value");
    }
}
