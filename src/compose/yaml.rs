//! YAML text -> [`Node`] tree that remembers where every value came from.
//!
//! Built on yaml-rust2's event parser so that we keep line/column for each node and key,
//! tags (`!reset`, `!override`), anchors/aliases and `<<` merge keys. Scalars are resolved
//! with the YAML 1.2 core schema, as docker compose (go-yaml v3) does.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::{ComposeError, Pos, Result};

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// A local tag such as `reset` (for `!reset`) or `override`.
    pub tag: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

pub type Map = IndexMap<Key, Node>;

/// A mapping key: its text and where it was written. Equality and hashing use the text
/// only, so a `Map` can be looked up with a `&str`.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Key {
    pub fn new(name: impl Into<String>, pos: Pos) -> Self {
        Key { name: name.into(), pos }
    }
}
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}
impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.name
    }
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Self {
        Node { value, pos, tag: None }
    }
    pub fn str(s: impl Into<String>, pos: Pos) -> Self {
        Node::new(Value::Str(s.into()), pos)
    }
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }
    /// A scalar as text (numbers and booleans included), as compose does when it needs a string.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    /// "a string", "a list"... for type error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
    /// Structural equality (positions and tags ignored).
    pub fn same(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Seq(a), Value::Seq(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y)),
            (Value::Map(a), Value::Map(b)) => a.len() == b.len() && a.iter().all(|(k, v)| b.get(k.name.as_str()).is_some_and(|w| v.same(w))),
            _ => false,
        }
    }
}

pub fn format_float(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 { ".inf".into() } else { "-.inf".into() }
    } else if f.is_nan() {
        ".nan".into()
    } else {
        f.to_string()
    }
}

/// Nesting limit: at most this many sequences and mappings inside one another.
///
/// go-yaml v3 (docker compose's parser) stops at 10,000 flow levels (`[`, `{`) or 10,000
/// block indentation levels ("exceeded max depth of 10000"), and yaml-rust2 already
/// refuses more than 255 flow levels. rde's own steps after parsing (interpolation,
/// merging, `extends`, the typed model, `config`'s output) walk the tree recursively, at
/// up to ~2.5 KiB of stack per level in a debug build: 256 levels keep that well inside
/// the 2 MiB of a spawned thread, 10,000 would overflow even the main thread's 8 MiB.
/// A real compose file is a dozen levels deep.
pub const MAX_DEPTH: usize = 256;

/// Alias expansion limits, go-yaml v3's (decode.go): once more than 100 nodes came from
/// aliases and more than 1,000 were made in all, the share made by aliases may not exceed
/// 99% up to 400,000 nodes, falling linearly to 10% at 4,000,000 and beyond. This allows
/// ~400,000 alias-made nodes, not the billions of a "billion laughs" file.
pub fn allowed_alias_ratio(nodes: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if nodes <= LOW {
        0.99
    } else if nodes >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((nodes - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// Parses one compose file. Several `---` documents are returned in order (compose merges them).
///
/// Errors, at the offending position: [`ComposeError::Syntax`]; [`ComposeError::YamlLimit`]
/// for nesting deeper than [`MAX_DEPTH`] or aliases expanding beyond [`allowed_alias_ratio`]. Memory stays
/// proportional to the text (plus the bounded alias expansion) and the stack to MAX_DEPTH.
pub fn parse(text: &str, file: &Arc<str>) -> Result<Vec<Node>> {
    let events = events(text, file)?;
    let mut builder = Builder { events, next: 0, anchors: HashMap::new(), file: file.clone(), nodes: 0, alias_nodes: 0 };
    let mut docs = Vec::new();
    while let Some((event, _)) = builder.peek() {
        match event {
            Event::DocumentStart => {
                builder.next += 1;
                // Anchors belong to their document.
                builder.anchors.clear();
                if matches!(builder.peek(), Some((Event::DocumentEnd, _))) {
                    let pos = builder.pos_of(builder.next);
                    docs.push(Node::new(Value::Null, pos));
                } else {
                    docs.push(builder.node()?);
                }
            }
            _ => builder.next += 1,
        }
    }
    Ok(docs)
}

/// The parser's events, pulled one at a time (yaml-rust2's own `load` recurses once per
/// level), refusing nesting deeper than [`MAX_DEPTH`] as soon as it is seen.
fn events(text: &str, file: &Arc<str>) -> Result<Vec<(Event, Marker)>> {
    let pos = |mark: &Marker| Pos { file: file.clone(), line: mark.line(), column: mark.col() + 1 };
    let mut parser = Parser::new_from_str(text);
    let mut events = Vec::new();
    let mut depth = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| ComposeError::Syntax { pos: pos(e.marker()), message: e.info().to_string() })?;
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ComposeError::YamlLimit {
                        pos: pos(&mark),
                        message: format!("YAML nested deeper than {MAX_DEPTH} lists and mappings"),
                        hint: "a compose file needs a dozen levels; check where this file came from".into(),
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        let end = event == Event::StreamEnd;
        events.push((event, mark));
        if end {
            return Ok(events);
        }
    }
}

struct Builder {
    events: Vec<(Event, Marker)>,
    next: usize,
    /// Anchored nodes with the number of nodes each one holds (what an alias to it costs).
    anchors: HashMap<usize, (Node, u64)>,
    file: Arc<str>,
    /// Nodes made so far (keys included), as go-yaml's `decodeCount`.
    nodes: u64,
    /// Of those, nodes copied by aliases, as go-yaml's `aliasCount`.
    alias_nodes: u64,
}

impl Builder {
    fn peek(&self) -> Option<&(Event, Marker)> {
        self.events.get(self.next)
    }

    fn pos_of(&self, index: usize) -> Pos {
        let mark = self.events.get(index).or(self.events.last()).map(|(_, m)| *m);
        let (line, column) = mark.map(|m| (m.line(), m.col() + 1)).unwrap_or((1, 1));
        Pos { file: self.file.clone(), line, column }
    }

    fn error(&self, index: usize, message: impl Into<String>) -> ComposeError {
        ComposeError::Syntax { pos: self.pos_of(index), message: message.into() }
    }

    /// The node starting at `self.next`, built with an explicit stack (a recursive builder
    /// needs kilobytes of stack per level in a debug build).
    fn node(&mut self) -> Result<Node> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let index = self.next;
            let Some((event, _)) = self.events.get(index).cloned() else {
                return Err(self.error(index, "unexpected end of the YAML document"));
            };
            self.next += 1;
            let pos = self.pos_of(index);
            // The finished node, and the index of the event it started at.
            let (node, start) = match event {
                Event::Alias(id) => (self.alias(id, index, pos)?, index),
                Event::Scalar(text, style, anchor, tag) => {
                    self.nodes += 1;
                    let tag = tag_name(&tag);
                    let value = resolve_scalar(&text, style, tag.as_deref());
                    let node = Node { value, pos, tag: tag.filter(|t| !t.starts_with("tag:yaml.org")) };
                    self.remember(anchor, &node, self.nodes - 1);
                    (node, index)
                }
                Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                    let kind = if matches!(self.events[index].0, Event::SequenceStart(..)) {
                        FrameKind::Seq(Vec::new())
                    } else {
                        FrameKind::Map(Box::new(MapFrame { map: Map::new(), merged: Vec::new(), key: None }))
                    };
                    self.nodes += 1;
                    stack.push(Frame { start: index, pos, tag: tag_name(&tag), anchor, first: self.nodes - 1, kind });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd if !stack.is_empty() => {
                    let frame = stack.pop().expect("an open collection");
                    let value = match frame.kind {
                        FrameKind::Seq(items) => Value::Seq(items),
                        FrameKind::Map(m) => Value::Map(self.merge_keys(m.map, m.merged, frame.start)?),
                    };
                    let node = Node { value, pos: frame.pos, tag: frame.tag };
                    self.remember(frame.anchor, &node, frame.first);
                    (node, frame.start)
                }
                other => return Err(self.error(index, format!("unexpected YAML event {other:?}"))),
            };
            let Some(parent) = stack.last_mut() else {
                return Ok(node);
            };
            match &mut parent.kind {
                FrameKind::Seq(items) => items.push(node),
                FrameKind::Map(m) => match m.key.take() {
                    None => m.key = Some((node, start)),
                    Some((key_node, key_index)) => self.entry(&mut m.map, &mut m.merged, key_node, key_index, node)?,
                },
            }
        }
    }

    /// An alias: a copy of its anchor's node, counted as go-yaml counts it.
    fn alias(&mut self, id: usize, index: usize, pos: Pos) -> Result<Node> {
        let (anchored, size) = self.anchors.get(&id).ok_or_else(|| self.error(index, "unknown anchor"))?;
        // Counted before copying, so that a refused expansion costs nothing.
        self.nodes += size;
        self.alias_nodes += size;
        if self.alias_nodes > 100 && self.nodes > 1000 && self.alias_nodes as f64 / self.nodes as f64 > allowed_alias_ratio(self.nodes) {
            return Err(ComposeError::YamlLimit {
                pos,
                message: format!("YAML document contains excessive aliasing: aliases would make {} of its {} values", self.alias_nodes, self.nodes),
                hint: "aliases (*name) may make at most 99% of the values up to 400,000, then less (docker compose's limit); write the repeated parts out"
                    .into(),
            });
        }
        Ok(anchored.clone())
    }

    /// Records an anchored node with its size (the nodes made since `first`).
    fn remember(&mut self, anchor: usize, node: &Node, first: u64) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), self.nodes - first));
        }
    }

    /// One `key: value` of a mapping; `<<` values are kept aside for [`Builder::merge_keys`].
    fn entry(&self, map: &mut Map, merged: &mut Vec<Node>, key_node: Node, key_index: usize, value: Node) -> Result<()> {
        let is_merge = matches!(&self.events[key_index].0, Event::Scalar(t, TScalarStyle::Plain, _, _) if t == "<<");
        if is_merge {
            match value.value {
                Value::Map(_) => merged.push(value),
                Value::Seq(items) => merged.extend(items),
                _ => {
                    return Err(self.error(key_index, "map merge requires a mapping or a list of mappings"));
                }
            }
            return Ok(());
        }
        let name = match key_node.scalar_text() {
            Some(s) => s,
            None if key_node.is_null() => "null".to_string(),
            None => return Err(self.error(key_index, "mapping keys must be scalars")),
        };
        if let Some((existing, _)) = map.get_key_value(name.as_str()) {
            return Err(ComposeError::Syntax {
                pos: key_node.pos.clone(),
                message: format!("mapping key {name:?} already defined at line {}", existing.pos.line),
            });
        }
        map.insert(Key::new(name, key_node.pos), value);
        Ok(())
    }

    /// `<<` entries never override keys written in the mapping itself; earlier merged
    /// mappings win over later ones.
    fn merge_keys(&self, mut map: Map, merged: Vec<Node>, start: usize) -> Result<Map> {
        for source in merged {
            let Value::Map(source_map) = source.value else {
                return Err(self.error(start, "map merge requires a mapping or a list of mappings"));
            };
            for (k, v) in source_map {
                if !map.contains_key(k.name.as_str()) {
                    map.insert(k, v);
                }
            }
        }
        Ok(map)
    }
}

/// A collection being built by [`Builder::node`].
struct Frame {
    /// The index of its start event.
    start: usize,
    pos: Pos,
    tag: Option<String>,
    anchor: usize,
    /// `Builder::nodes` before it: its size is what was made since.
    first: u64,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map(Box<MapFrame>),
}

struct MapFrame {
    map: Map,
    /// The values of `<<` keys, merged in when the mapping ends.
    merged: Vec<Node>,
    /// A key waiting for its value, with the index of its first event.
    key: Option<(Node, usize)>,
}

fn tag_name(tag: &Option<yaml_rust2::parser::Tag>) -> Option<String> {
    tag.as_ref().map(|t| if t.handle == "!" { t.suffix.clone() } else { format!("{}{}", t.handle, t.suffix) })
}

fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("tag:yaml.org,2002:str") => return Value::Str(text.to_string()),
        Some("tag:yaml.org,2002:int") => {
            if let Some(i) = parse_int(text) {
                return Value::Int(i);
            }
        }
        Some("tag:yaml.org,2002:float") => {
            if let Ok(f) = text.parse::<f64>() {
                return Value::Float(f);
            }
        }
        _ => {}
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    resolve_plain(text)
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if is_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

/// Integers as go-yaml v3 reads them: `_` separators, 0x/0o/0b prefixes, and a leading 0
/// meaning octal (so `mode: 0400` is 256, as compose sees it).
fn parse_int(text: &str) -> Option<i64> {
    let plain = text.replace('_', "");
    let (neg, body) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if body.is_empty() || text.starts_with('_') {
        return None;
    }
    let value = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = body.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if let Some(bin) = body.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else if body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

fn is_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int_part = parts.next().unwrap_or("");
    let frac_part = parts.next();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(frac) => digits(int_part) && digits(frac) && !(int_part.is_empty() && frac.is_empty()),
        None => !int_part.is_empty() && digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<str> {
        Arc::from("test.yml")
    }

    #[test]
    fn scalars_resolve_like_yaml_1_2() {
        let doc = &parse("a: 8000\nb: '8000'\nc: yes\nd: true\ne: 1.5\nf:\ng: 8000:8000\nh: 0x1F\ni: 0400\nj: 1_000\n", &file()).unwrap()[0];
        assert!(matches!(doc.get("a").unwrap().value, Value::Int(8000)));
        assert!(matches!(&doc.get("b").unwrap().value, Value::Str(s) if s == "8000"));
        assert!(matches!(&doc.get("c").unwrap().value, Value::Str(s) if s == "yes"));
        assert!(matches!(doc.get("d").unwrap().value, Value::Bool(true)));
        assert!(matches!(doc.get("e").unwrap().value, Value::Float(f) if f == 1.5));
        assert!(doc.get("f").unwrap().is_null());
        assert!(matches!(&doc.get("g").unwrap().value, Value::Str(s) if s == "8000:8000"));
        assert!(matches!(doc.get("h").unwrap().value, Value::Int(31)));
        assert!(matches!(doc.get("i").unwrap().value, Value::Int(256)));
        assert!(matches!(doc.get("j").unwrap().value, Value::Int(1000)));
    }

    #[test]
    fn positions_are_one_based() {
        let doc = &parse("services:\n  web:\n    image: nginx\n", &file()).unwrap()[0];
        let web = doc.get("services").unwrap().get("web").unwrap();
        let (key, value) = web.as_map().unwrap().get_key_value("image").unwrap();
        assert_eq!((key.pos.line, key.pos.column), (3, 5));
        assert_eq!((value.pos.line, value.pos.column), (3, 12));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let text = "x-base: &base\n  image: nginx\n  restart: always\nweb:\n  <<: *base\n  restart: 'no'\nlist:\n  <<: [{a: 1}, {a: 2, b: 3}]\n";
        let doc = &parse(text, &file()).unwrap()[0];
        let web = doc.get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("nginx"));
        assert_eq!(web.get("restart").unwrap().as_str(), Some("no"));
        let list = doc.get("list").unwrap();
        assert!(matches!(list.get("a").unwrap().value, Value::Int(1)));
        assert!(matches!(list.get("b").unwrap().value, Value::Int(3)));
    }

    #[test]
    fn tags_are_kept() {
        let doc = &parse("ports: !reset []\ncommand: !override [a]\n", &file()).unwrap()[0];
        assert_eq!(doc.get("ports").unwrap().tag.as_deref(), Some("reset"));
        assert_eq!(doc.get("command").unwrap().tag.as_deref(), Some("override"));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let err = parse("a: 1\na: 2\n", &file()).unwrap_err().to_string();
        assert_eq!(err, "test.yml:2:1: YAML syntax error: mapping key \"a\" already defined at line 1");
        let err = parse("services:\n  web:\n    image: [nginx\n", &file()).unwrap_err().to_string();
        assert!(err.starts_with("test.yml:4:"), "{err}");
    }

    /// Nine levels of ten aliases: 10^9 strings if expanded.
    fn billion_laughs() -> String {
        let mut text = String::from("x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..=9 {
            let refs = vec![format!("*l{}", level - 1); 10].join(", ");
            text.push_str(&format!("x-l{level}: &l{level} [{refs}]\n"));
        }
        text.push_str("services:\n  web:\n    image: nginx\n");
        text
    }

    fn limit_error(text: &str) -> (usize, String) {
        match parse(text, &file()) {
            Err(ComposeError::YamlLimit { pos, message, .. }) => (pos.line, message),
            other => panic!("expected a YAML limit error, got {other:?}"),
        }
    }

    #[test]
    fn billion_laughs_fail_fast() {
        let start = std::time::Instant::now();
        let (line, message) = limit_error(&billion_laughs());
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
        assert!(message.contains("excessive aliasing"), "{message}");
        assert!((2..=10).contains(&line), "the alias that crossed the limit: line {line}");
        let err = parse(&billion_laughs(), &file()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("test.yml:{line}:")) && err.contains("; hint: "), "{err}");
    }

    #[test]
    fn alias_limits_are_go_yamls() {
        assert_eq!(allowed_alias_ratio(1000), 0.99);
        assert_eq!(allowed_alias_ratio(400_000), 0.99);
        assert!((allowed_alias_ratio(2_200_000) - 0.545).abs() < 1e-9);
        assert_eq!(allowed_alias_ratio(4_000_000), 0.10);
        assert_eq!(allowed_alias_ratio(40_000_000), 0.10);
        // go-yaml's limit_test.go: ~100 kB of maps under an anchor, copied 100 times.
        let maps = |n: usize| format!("[{{a}}{}]", ",{a}".repeat(n - 1));
        let text = format!("{{a: &a {}, b: &b [*a{}]}}", maps(100 * 1024 / 4), ",*a".repeat(99));
        assert!(limit_error(&text).1.contains("excessive aliasing"));
        // Ordinary uses: an anchor of a few values merged into many services; a big
        // document without aliases; fewer than 100 copied nodes whatever the ratio.
        let mut text = String::from("x-base: &base\n  restart: always\n  labels: {a: b, c: d}\nservices:\n");
        for i in 0..2000 {
            text.push_str(&format!("  s{i}:\n    <<: *base\n    image: nginx\n"));
        }
        assert_eq!(parse(&text, &file()).unwrap()[0].get("services").unwrap().as_map().unwrap().len(), 2000);
        parse(&format!("a: &a {}", maps(100 * 1024 / 4)), &file()).unwrap();
        parse(&format!("a: &a [{}]\nb: [*a, *a, *a]\n", vec!["x"; 30].join(", ")), &file()).unwrap();
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        // Block sequences on one line: each `- ` is one more level.
        let (line, message) = limit_error(&"- ".repeat(100_000));
        assert_eq!(line, 1);
        assert_eq!(message, format!("YAML nested deeper than {MAX_DEPTH} lists and mappings"));
        // Block mappings, one more indentation per line.
        let text: String = (0..MAX_DEPTH + 1).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        assert_eq!(limit_error(&text).0, MAX_DEPTH + 1);
        // Flow collections: yaml-rust2 stops at 255 levels itself.
        for text in ["[".repeat(100_000), format!("x: {}", "{".repeat(100_000)), "[{".repeat(50_000)] {
            let err = parse(&text, &file()).unwrap_err().to_string();
            assert!(err.starts_with("test.yml:1:"), "{err}");
        }
        // At the limit, fine.
        let text = format!("{}x", "- ".repeat(MAX_DEPTH));
        let mut node = &parse(&text, &file()).unwrap()[0];
        for _ in 1..MAX_DEPTH {
            node = &node.as_seq().unwrap()[0];
        }
        assert_eq!(node.as_seq().unwrap()[0].as_str(), Some("x"));
    }

    #[test]
    fn anchors_do_not_cross_documents() {
        let err = parse("a: &x 1\n---\nb: *x\n", &file()).unwrap_err().to_string();
        assert!(err.starts_with("test.yml:3:"), "{err}");
    }

    #[test]
    fn multiple_documents() {
        let docs = parse("a: 1\n---\nb: 2\n", &file()).unwrap();
        assert_eq!(docs.len(), 2);
    }
}
