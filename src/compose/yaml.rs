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
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
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
        Key {
            name: name.into(),
            pos,
        }
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
        Node {
            value,
            pos,
            tag: None,
        }
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
            (Value::Seq(a), Value::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k.name.as_str()).is_some_and(|w| v.same(w)))
            }
            _ => false,
        }
    }
}

pub fn format_float(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else if f.is_nan() {
        ".nan".into()
    } else {
        f.to_string()
    }
}

/// Parses one compose file. Several `---` documents are returned in order (compose merges them).
pub fn parse(text: &str, file: &Arc<str>) -> Result<Vec<Node>> {
    let mut collector = Collector { events: Vec::new() };
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut collector, true)
        .map_err(|e| ComposeError::Syntax {
            pos: Pos {
                file: file.clone(),
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
    let mut builder = Builder {
        events: collector.events,
        next: 0,
        anchors: HashMap::new(),
        file: file.clone(),
    };
    let mut docs = Vec::new();
    while let Some((event, _)) = builder.peek() {
        match event {
            Event::DocumentStart => {
                builder.next += 1;
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

struct Collector {
    events: Vec<(Event, Marker)>,
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.events.push((ev, mark));
    }
}

struct Builder {
    events: Vec<(Event, Marker)>,
    next: usize,
    anchors: HashMap<usize, Node>,
    file: Arc<str>,
}

impl Builder {
    fn peek(&self) -> Option<&(Event, Marker)> {
        self.events.get(self.next)
    }

    fn pos_of(&self, index: usize) -> Pos {
        let mark = self
            .events
            .get(index)
            .or(self.events.last())
            .map(|(_, m)| *m);
        let (line, column) = mark.map(|m| (m.line(), m.col() + 1)).unwrap_or((1, 1));
        Pos {
            file: self.file.clone(),
            line,
            column,
        }
    }

    fn error(&self, index: usize, message: impl Into<String>) -> ComposeError {
        ComposeError::Syntax {
            pos: self.pos_of(index),
            message: message.into(),
        }
    }

    fn node(&mut self) -> Result<Node> {
        let index = self.next;
        let pos = self.pos_of(index);
        let (event, _) = self.events[index].clone();
        self.next += 1;
        let tag_name = |tag: &Option<yaml_rust2::parser::Tag>| {
            tag.as_ref().map(|t| {
                if t.handle == "!" {
                    t.suffix.clone()
                } else {
                    format!("{}{}", t.handle, t.suffix)
                }
            })
        };
        let (node, anchor) = match event {
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.error(index, "unknown anchor"))?;
                return Ok(node);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag_name(&tag);
                let value = resolve_scalar(&text, style, tag.as_deref());
                (
                    Node {
                        value,
                        pos,
                        tag: tag.filter(|t| !t.starts_with("tag:yaml.org")),
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                while !matches!(self.peek(), Some((Event::SequenceEnd, _)) | None) {
                    items.push(self.node()?);
                }
                self.next += 1;
                (
                    Node {
                        value: Value::Seq(items),
                        pos,
                        tag: tag_name(&tag),
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, tag) => {
                let map = self.mapping(index)?;
                (
                    Node {
                        value: Value::Map(map),
                        pos,
                        tag: tag_name(&tag),
                    },
                    anchor,
                )
            }
            other => return Err(self.error(index, format!("unexpected YAML event {other:?}"))),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, start: usize) -> Result<Map> {
        let mut map = Map::new();
        let mut merged: Vec<Node> = Vec::new();
        while !matches!(self.peek(), Some((Event::MappingEnd, _)) | None) {
            let key_index = self.next;
            let key_node = self.node()?;
            let is_merge = matches!(&self.events[key_index].0, Event::Scalar(t, TScalarStyle::Plain, _, _) if t == "<<");
            let value = self.node()?;
            if is_merge {
                match value.value {
                    Value::Map(_) => merged.push(value),
                    Value::Seq(items) => merged.extend(items),
                    _ => {
                        return Err(self.error(
                            key_index,
                            "map merge requires a mapping or a list of mappings",
                        ));
                    }
                }
                continue;
            }
            let name = match key_node.scalar_text() {
                Some(s) => s,
                None if key_node.is_null() => "null".to_string(),
                None => return Err(self.error(key_index, "mapping keys must be scalars")),
            };
            if let Some((existing, _)) = map.get_key_value(name.as_str()) {
                return Err(ComposeError::Syntax {
                    pos: key_node.pos.clone(),
                    message: format!(
                        "mapping key {name:?} already defined at line {}",
                        existing.pos.line
                    ),
                });
            }
            map.insert(Key::new(name, key_node.pos), value);
        }
        self.next += 1;
        // `<<` entries never override keys written in the mapping itself; earlier merged
        // mappings win over later ones.
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
        assert_eq!(
            err,
            "test.yml:2:1: YAML syntax error: mapping key \"a\" already defined at line 1"
        );
        let err = parse("services:\n  web:\n    image: [nginx\n", &file())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("test.yml:4:"), "{err}");
    }

    #[test]
    fn multiple_documents() {
        let docs = parse("a: 1\n---\nb: 2\n", &file()).unwrap();
        assert_eq!(docs.len(), 2);
    }
}
