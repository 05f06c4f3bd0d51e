//! `--format` for list and inspect commands, as docker and docker compose take it:
//! `docker ps --format`, `docker volume ls --format`, `docker compose ps --format`,
//! `docker version --format`.
//!
//! The flag takes `table` (the command's default table), `json` (one compact JSON
//! object per row), `table TEMPLATE` (a template rendered per row, its tab-separated
//! columns aligned under a header line) or a bare `TEMPLATE` (one rendered line per
//! row). Templates are the subset of Go's `text/template` that docker's CLI users
//! write, with docker's extra functions (docker/cli `templates/templates.go`):
//!
//! - text, `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{$}}`, variables (`{{$x := .A}}`,
//!   `{{$x = .B}}`, `{{range $k, $v := .Map}}`), parenthesised pipelines
//!   `{{(index .A 0).B}}`, pipelines `{{.Names | upper}}`;
//! - `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{with}}`/`{{else with}}`,
//!   `{{range}}` (arrays, objects in sorted key order, integers) with
//!   `{{else}}`, `{{break}}`, `{{continue}}`; comments `{{/* ... */}}`; trim markers
//!   `{{- ` and ` -}}`;
//! - literals: `"..."` (Go escapes), `` `raw` ``, `'c'`, integers, floats, `true`,
//!   `false`, `nil`;
//! - docker's functions `json`, `split`, `join`, `title`, `lower`, `upper`, `pad`,
//!   `truncate`; Go's `and`, `or`, `not`, `len`, `index`, `slice`, `print`,
//!   `printf`, `println`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`; and docker's
//!   `{{.Label "key"}}` method (reads the row's `Labels`, an object or docker's
//!   `a=b,c=d` string).
//!
//! Values print as Go's `fmt` prints them: strings raw, `true`/`false`, integers
//! without `.0`, floats as `%v` (`1.5`, `1e+06`), arrays `[a b]`, objects
//! `map[k:v k2:v2]` (keys sorted), a missing field or `null` as `<no value>` (as an
//! element of an array or object: `<nil>`). `json` writes what Go's `json.Marshal`
//! writes: compact, object keys sorted, no HTML escaping.
//!
//! Not supported: `define`, `template`, `block`, `call`, `html`, `js`, `urlquery`,
//! method calls other than `.Label`, complex numbers, `%[n]` argument indexes and
//! `%x` of floats in `printf`, `{{else if}}` inside `{{with}}`/`{{range}}`.
//! Deliberate differences from docker (checked against Go's `text/template`): a raw
//! newline inside a `"..."` literal is accepted (docker turns `\n` into a newline
//! before Go parses the template, so `{{join .X "\n"}}` fails there); `lt`/`eq`
//! compare integers with floats; an integral float (`12.0`) is taken where an int
//! is expected, and `slice` takes any integer values; errors in the header line of
//! a table blank that action instead of cutting the header short; fields in the
//! header evaluate to their header text whatever the receiver, and `{{range}}` over
//! a header runs once. Rendering stops with an error after a million steps (nodes
//! or loop iterations) or 16 MiB of output per row.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Where in the `--format` argument an error is: 1-based line and column
/// (in characters), counted in the text the user typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 { write!(f, "column {}", self.column) } else { write!(f, "line {}, column {}", self.line, self.column) }
    }
}

/// Why a `--format` argument could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The template does not parse. `message` says what was found and what was
    /// expected, usually followed by `; hint: ...`.
    #[error("template parsing error at {at}: {message}")]
    Parse { at: Position, message: String },
    /// Rendering a row failed (a field of a non-object, a function given the wrong
    /// type, an index out of range, ...). `action` is the template text that failed.
    #[error("template error at {at}, <{action}>: {message}")]
    Render { at: Position, action: String, message: String },
}

/// A parsed `--format` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// `""` or `table`: the command prints its own default table.
    Table,
    /// `json`: one compact JSON object per row (docker's `{{json .}}`).
    Json,
    /// `table TEMPLATE` (`table: true`) or any other text (`table: false`).
    Template { template: Template, table: bool },
}

impl Format {
    /// Parses a `--format` argument as docker's CLI does: exactly `json` is JSON;
    /// `""`, `table` (or only spaces after it) is the default table; text starting
    /// with `table` is a table template (the rest, `table{{.ID}}` included); anything
    /// else is a template. Spaces around the template are trimmed, and the two
    /// characters `\t` and `\n` become a tab and a newline before parsing.
    ///
    /// Errors: [`FormatError::Parse`], positioned in `text`.
    pub fn parse(text: &str) -> Result<Format, FormatError> {
        match text.trim_matches(' ') {
            "" | "table" => return Ok(Format::Table),
            _ if text == "json" => return Ok(Format::Json),
            _ => {}
        }
        let table = text.starts_with("table");
        let start = if table { 5 } else { 0 };
        let body = &text[start..];
        let begin = start + (body.len() - body.trim_start_matches(' ').len());
        let end = begin + body.trim_matches(' ').len();
        Ok(Format::Template { template: Template::parse_part(text, begin, end)?, table })
    }
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Format, FormatError> {
        Format::parse(text)
    }
}

/// Renders `rows` (objects keyed by docker's field names) as `format` asks, one
/// line per row, each ending in `\n`:
///
/// - [`Format::Table`]: `Ok(None)`; the caller prints its default table (or parses
///   its default `table ...` template and calls again);
/// - [`Format::Json`]: each row as compact JSON, keys sorted (Go's `json.Marshal`);
/// - a template: each row rendered;
/// - a table template: first a header line, the template rendered with every field
///   replaced by `headers(name)` (`name` is the field path, `"Names"` or
///   `"Config.Image"`; [`default_header`] is a fallback) and docker's header rules
///   (`upper`, `json`, `truncate`, ... leave the header text alone; `pad` and
///   `printf` apply; `{{.Label "a.b-c"}}` heads `b c`), then the rows, all through
///   docker's tabwriter (columns are tab-terminated cells, each padded to the
///   widest cell of its run of lines plus 3 spaces, at least 10; the last cell of a
///   line is not padded).
///
/// Errors: [`FormatError::Render`] from the first row that fails.
pub fn render_rows(format: &Format, headers: &dyn Fn(&str) -> String, rows: &[Value]) -> Result<Option<String>, FormatError> {
    let mut out = String::new();
    match format {
        Format::Table => return Ok(None),
        Format::Json => {
            for row in rows {
                go_json(row, &mut out);
                out.push('\n');
            }
        }
        Format::Template { template, table } => {
            if *table {
                out.push_str(&template.render_header(headers)?);
                out.push('\n');
            }
            for row in rows {
                out.push_str(&template.render(row)?);
                out.push('\n');
            }
            if *table {
                out = tabwrite(&out);
            }
        }
    }
    Ok(Some(out))
}

/// The header docker-style tables show for a field no caller mapping knows: the
/// last dotted part in upper case, words of a CamelCase name split
/// (`RunningFor` -> `RUNNING FOR`, `LocalVolumes` -> `LOCAL VOLUMES`,
/// `HTTPPort` -> `HTTP PORT`, `ID` -> `ID`), `-` and `_` as spaces.
pub fn default_header(field: &str) -> String {
    let name = field.rsplit('.').next().unwrap_or(field);
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '_' || c == ' ' {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            continue;
        }
        if i > 0 && c.is_uppercase() && !out.ends_with(' ') {
            let prev = chars[i - 1];
            let acronym_end = prev.is_uppercase() && i >= 2 && chars[i - 2].is_uppercase() && chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || acronym_end {
                out.push(' ');
            }
        }
        out.extend(c.to_uppercase());
    }
    out.trim_end().to_string()
}

/// A parsed template (see the module documentation for the language).
#[derive(Debug, Clone)]
pub struct Template {
    /// The whole argument the user typed (for error positions).
    original: String,
    /// The template text after `\t`/`\n` replacement.
    source: String,
    /// For each byte of `source` (and one past its end), the byte in `original`.
    offsets: Vec<usize>,
    nodes: Vec<Node>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Template) -> bool {
        self.source == other.source
    }
}

impl Template {
    /// Parses a template. The two characters `\t` and `\n` become a tab and a
    /// newline first, as docker's CLI does for `--format`; nothing is trimmed.
    ///
    /// Errors: [`FormatError::Parse`] (unclosed action, unknown function, bad
    /// character, unbalanced `{{if}}`/`{{end}}`, wrong number of arguments, ...).
    pub fn parse(text: &str) -> Result<Template, FormatError> {
        Template::parse_part(text, 0, text.len())
    }

    fn parse_part(original: &str, start: usize, end: usize) -> Result<Template, FormatError> {
        let bytes = original.as_bytes();
        let mut out = Vec::with_capacity(end - start);
        let mut offsets = Vec::with_capacity(end - start + 1);
        let mut i = start;
        while i < end {
            if bytes[i] == b'\\' && i + 1 < end && (bytes[i + 1] == b't' || bytes[i + 1] == b'n') {
                out.push(if bytes[i + 1] == b't' { b'\t' } else { b'\n' });
                offsets.push(i);
                i += 2;
            } else {
                out.push(bytes[i]);
                offsets.push(i);
                i += 1;
            }
        }
        offsets.push(end);
        // Only ASCII pairs were replaced, so this stays valid UTF-8.
        let source = String::from_utf8(out).unwrap_or_default();
        let mut template = Template { original: original.to_string(), source, offsets, nodes: Vec::new() };
        match parse(&template.source) {
            Ok(nodes) => template.nodes = nodes,
            Err(fail) => return Err(FormatError::Parse { at: template.position(fail.start), message: fail.message }),
        }
        Ok(template)
    }

    /// Renders the template for one row (any JSON value; `.` is the row). A missing
    /// field prints `<no value>`. No newline is added.
    ///
    /// Errors: [`FormatError::Render`].
    pub fn render(&self, row: &Value) -> Result<String, FormatError> {
        self.execute(row, None)
    }

    /// The template text as parsed (after `\t`/`\n` replacement).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn render_header(&self, headers: &dyn Fn(&str) -> String) -> Result<String, FormatError> {
        self.execute(&Value::String(String::new()), Some(headers))
    }

    fn execute(&self, dot: &Value, header: Option<&dyn Fn(&str) -> String>) -> Result<String, FormatError> {
        let mut exec = Exec { header, vars: vec![("$".to_string(), dot.clone())], out: String::new(), steps: 0 };
        match exec.walk(&self.nodes, dot) {
            Ok(_) => Ok(exec.out),
            Err(fail) => Err(FormatError::Render {
                at: self.position(fail.start),
                action: self.source.get(fail.start..fail.end).unwrap_or_default().to_string(),
                message: fail.message,
            }),
        }
    }

    fn position(&self, offset: usize) -> Position {
        let at = self.offsets[offset.min(self.offsets.len() - 1)];
        let before = self.original.get(..at).unwrap_or(&self.original);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

// ---------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Pipe),
    If { pipe: Pipe, then: Vec<Node>, els: Vec<Node> },
    With { pipe: Pipe, then: Vec<Node>, els: Vec<Node> },
    Range { pipe: Pipe, body: Vec<Node>, els: Vec<Node> },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
struct Pipe {
    /// Variables declared (`:=`) or assigned (`=`); two only for `range`.
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    ops: Vec<Op>,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
struct Op {
    kind: OpKind,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
enum OpKind {
    Dot,
    /// `.A.B` on dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>),
    Func(Func),
    /// `.Label "key"` (docker's method) on the receiver chain.
    Label(Vec<String>),
    Lit(Value),
    Nil,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Json,
    Split,
    Join,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Name, function, fewest and most arguments.
const FUNCS: &[(&str, Func, usize, Option<usize>)] = &[
    ("json", Func::Json, 1, Some(1)),
    ("split", Func::Split, 2, Some(2)),
    ("join", Func::Join, 2, Some(2)),
    ("title", Func::Title, 1, Some(1)),
    ("lower", Func::Lower, 1, Some(1)),
    ("upper", Func::Upper, 1, Some(1)),
    ("pad", Func::Pad, 3, Some(3)),
    ("truncate", Func::Truncate, 2, Some(2)),
    ("and", Func::And, 1, None),
    ("or", Func::Or, 1, None),
    ("not", Func::Not, 1, Some(1)),
    ("len", Func::Len, 1, Some(1)),
    ("index", Func::Index, 1, None),
    ("slice", Func::Slice, 1, None),
    ("print", Func::Print, 0, None),
    ("printf", Func::Printf, 1, None),
    ("println", Func::Println, 0, None),
    ("eq", Func::Eq, 2, None),
    ("ne", Func::Ne, 2, Some(2)),
    ("lt", Func::Lt, 2, Some(2)),
    ("le", Func::Le, 2, Some(2)),
    ("gt", Func::Gt, 2, Some(2)),
    ("ge", Func::Ge, 2, Some(2)),
];

const KEYWORDS: &[&str] = &["if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"];
const UNSUPPORTED: &[&str] = &["call", "html", "js", "urlquery"];
const MAX_DEPTH: usize = 64;
const MAX_STEPS: usize = 1_000_000;
const MAX_OUTPUT: usize = 16 << 20;

fn func_name(f: Func) -> &'static str {
    FUNCS.iter().find(|e| e.1 == f).map_or("?", |e| e.0)
}

fn check_arity(f: Func, n: usize) -> Result<(), String> {
    let (name, _, min, max) = FUNCS.iter().find(|e| e.1 == f).copied().unwrap_or(("?", f, 0, None));
    match max {
        Some(max) if n > max || n < min => Err(if min == max {
            format!("wrong number of args for {name}: want {min} got {n}")
        } else {
            format!("wrong number of args for {name}: want {min} to {max} got {n}")
        }),
        None if n < min => Err(format!("wrong number of args for {name}: want at least {min} got {n}")),
        _ => Ok(()),
    }
}

/// A failure at a byte range of the (replaced) template text.
#[derive(Debug)]
struct Fail {
    start: usize,
    end: usize,
    message: String,
}

fn fail<T>(start: usize, end: usize, message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail { start, end, message: message.into() })
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Space,
    Dot,
    Field(String),
    Var(String),
    Ident(String),
    Str(String),
    Int(i128),
    Float(f64),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Space => "space".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Field(f) => format!("\".{f}\""),
            Tok::Var(v) => format!("\"{v}\""),
            Tok::Ident(i) => format!("\"{i}\""),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Int(i) => format!("\"{i}\""),
            Tok::Float(f) => format!("\"{f}\""),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::Pipe => "\"|\"".into(),
            Tok::Declare => "\":=\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Comma => "\",\"".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct T {
    tok: Tok,
    start: usize,
    end: usize,
}

#[derive(Debug)]
enum Item {
    Text(String),
    Action { start: usize, end: usize, toks: Vec<T> },
}

const WS: [char; 4] = [' ', '\t', '\r', '\n'];

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Whether an identifier, field or variable may end before `rest` (Go's
/// `atTerminator`, plus `=`).
fn at_terminator(rest: &str) -> bool {
    match rest.chars().next() {
        None => true,
        Some(c) => WS.contains(&c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '=') || rest.starts_with("}}"),
    }
}

fn describe_char(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

fn lex(src: &str) -> Result<Vec<Item>, Fail> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    loop {
        let open = src[pos..].find("{{").map(|i| pos + i);
        let mut text = &src[pos..open.unwrap_or(src.len())];
        if trim_next {
            text = text.trim_start_matches(WS);
        }
        let Some(open) = open else {
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            return Ok(items);
        };
        let left_trim = b.get(open + 2) == Some(&b'-') && b.get(open + 3).is_some_and(|c| is_ws(*c));
        if left_trim {
            text = text.trim_end_matches(WS);
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let mut p = open + if left_trim { 4 } else { 2 };
        if src[p..].starts_with("/*") {
            let Some(close) = src[p + 2..].find("*/") else {
                return fail(open, src.len(), "unclosed comment; hint: end it with \"*/}}\"");
            };
            let q = p + 2 + close + 2;
            if src[q..].starts_with("}}") {
                pos = q + 2;
                trim_next = false;
            } else if b.get(q).is_some_and(|c| is_ws(*c)) && src[q + 1..].starts_with("-}}") {
                pos = q + 4;
                trim_next = true;
            } else {
                return fail(open, q, "comment ends before closing delimiter; hint: write \"*/}}\"");
            }
            continue;
        }
        let mut toks = Vec::new();
        loop {
            let rest = &src[p..];
            let Some(c) = rest.chars().next() else {
                return fail(open, src.len(), "unclosed action; hint: close it with \"}}\"");
            };
            if rest.starts_with("}}") {
                p += 2;
                trim_next = false;
                break;
            }
            let s = p;
            let tok = match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while p < b.len() && is_ws(b[p]) {
                        p += 1;
                    }
                    if src[p..].starts_with("-}}") {
                        p += 3;
                        trim_next = true;
                        break;
                    }
                    toks.push(T { tok: Tok::Space, start: s, end: p });
                    continue;
                }
                '|' => {
                    p += 1;
                    Tok::Pipe
                }
                '(' => {
                    p += 1;
                    Tok::LParen
                }
                ')' => {
                    p += 1;
                    Tok::RParen
                }
                ',' => {
                    p += 1;
                    Tok::Comma
                }
                '=' => {
                    p += 1;
                    Tok::Assign
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return fail(s, s + 1, "expected \":=\" after \":\"");
                    }
                    p += 2;
                    Tok::Declare
                }
                '"' => {
                    let (text, len) = lex_quoted(rest, s)?;
                    p += len;
                    Tok::Str(text)
                }
                '`' => {
                    let Some(close) = rest[1..].find('`') else {
                        return fail(s, src.len(), "unterminated raw quoted string; hint: end it with \"`\"");
                    };
                    p += close + 2;
                    Tok::Str(rest[1..close + 1].to_string())
                }
                '\'' => {
                    let (text, len) = lex_quoted(rest, s)?;
                    let mut chars = text.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => {
                            p += len;
                            Tok::Int(c as i128)
                        }
                        _ => return fail(s, s + len, "malformed character constant; hint: strings take double quotes: \"text\""),
                    }
                }
                '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                    let (tok, len) = lex_number(rest, s)?;
                    p += len;
                    tok
                }
                '.' | '$' => {
                    let name_len: usize = rest[1..].chars().take_while(|c| is_ident_char(*c)).map(char::len_utf8).sum();
                    p += 1 + name_len;
                    if !at_terminator(&src[p..]) {
                        let bad = src[p..].chars().next().unwrap_or(' ');
                        if bad == '}' {
                            return fail(p, p + 1, "unexpected \"}\" in action; hint: actions end with \"}}\"");
                        }
                        return fail(
                            s,
                            p,
                            format!(
                                "bad character {} after {:?}; hint: use {{{{index . \"key-name\"}}}} for keys that are not identifiers",
                                describe_char(bad),
                                &src[s..p]
                            ),
                        );
                    }
                    let name = &rest[1..1 + name_len];
                    match (c, name.is_empty()) {
                        ('.', true) => Tok::Dot,
                        ('.', false) => Tok::Field(name.to_string()),
                        _ => Tok::Var(format!("${name}")),
                    }
                }
                '0'..='9' | '+' | '-' => {
                    let (tok, len) = lex_number(rest, s)?;
                    p += len;
                    tok
                }
                c if c == '_' || c.is_alphabetic() => {
                    let len: usize = rest.chars().take_while(|c| is_ident_char(*c)).map(char::len_utf8).sum();
                    p += len;
                    if !at_terminator(&src[p..]) {
                        let bad = src[p..].chars().next().unwrap_or(' ');
                        if bad == '}' {
                            return fail(p, p + 1, "unexpected \"}\" in action; hint: actions end with \"}}\"");
                        }
                        return fail(s, p, format!("bad character {} after {:?}; hint: separate arguments with spaces", describe_char(bad), &src[s..p]));
                    }
                    Tok::Ident(rest[..len].to_string())
                }
                '}' => return fail(s, s + 1, "unexpected \"}\" in action; hint: actions end with \"}}\""),
                '{' => return fail(s, s + 1, "unexpected \"{\" in action; hint: close the previous action with \"}}\""),
                c => return fail(s, s + c.len_utf8(), format!("bad character {} in action", describe_char(c))),
            };
            toks.push(T { tok, start: s, end: p });
        }
        items.push(Item::Action { start: open, end: p, toks });
        pos = p;
    }
}

/// Lexes a `"..."` or `'...'` literal at the start of `rest`; returns the
/// unescaped text and the literal's length in bytes.
fn lex_quoted(rest: &str, at: usize) -> Result<(String, usize), Fail> {
    let quote = rest.chars().next().unwrap_or('"');
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else { break };
        let bad =
            || fail(at + i, at + j + e.len_utf8(), format!("invalid escape \"\\{e}\" in quoted string; hint: Go escapes are \\n \\t \\\\ \\\" \\xFF \\u1234"));
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' if quote == '"' => Some('"'),
            '\'' if quote == '\'' => Some('\''),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return bad(),
        };
        let mut value = if radix == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
        for _ in 0..digits {
            match chars.next().and_then(|(_, d)| d.to_digit(radix)) {
                Some(d) => value = value.saturating_mul(radix).saturating_add(d),
                None => return bad(),
            }
        }
        match e {
            // \x and octal escapes are bytes; only ASCII ones make text.
            'x' | '0'..='7' if value > 0x7f => {
                return fail(at + i, at + j + 1, "non-ASCII byte escape in quoted string; hint: write the character itself or \\u00FF");
            }
            _ => match char::from_u32(value) {
                Some(c) => out.push(c),
                None => return bad(),
            },
        }
    }
    let what = if quote == '"' { "unterminated quoted string; hint: end it with '\"'" } else { "unterminated character constant" };
    fail(at, at + rest.len(), what)
}

/// Lexes a number at the start of `rest`; returns the token and its length.
fn lex_number(rest: &str, at: usize) -> Result<(Tok, usize), Fail> {
    let b = rest.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits_start = i;
    let mut float = false;
    let hex = b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X");
    if hex {
        i += 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
    } else {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        if i < b.len() && b[i] == b'.' {
            float = true;
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i > digits_start && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                float = true;
                i = j;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
    }
    let text: String = rest[..i].chars().filter(|c| *c != '_').collect();
    let bad_tail = rest[i..].chars().next().is_some_and(|c| is_ident_char(c) || c == '.');
    let no_digits = !text[digits_start..].bytes().any(|c| c.is_ascii_digit());
    if bad_tail || no_digits {
        let end = i + rest[i..].chars().take_while(|c| is_ident_char(*c) || *c == '.').map(char::len_utf8).sum::<usize>();
        let end = end.max(i + rest[i..].chars().next().map_or(0, char::len_utf8));
        let shown = &rest[..end.min(rest.len())];
        let hint = if shown.starts_with('-') { "; hint: a trim marker needs a space: \"{{- \" and \" -}}\"" } else { "" };
        return fail(at, at + shown.len(), format!("bad number syntax: {shown:?}{hint}"));
    }
    let out_of_range = || fail(at, at + i, format!("number out of range: {:?}", &rest[..i]));
    if float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok((Tok::Float(f), i)),
            _ => out_of_range(),
        }
    } else {
        let (neg, body) = match text.strip_prefix('-') {
            Some(body) => (true, body),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let parsed = if hex { i128::from_str_radix(&body[2..], 16) } else { body.parse::<i128>() };
        match parsed {
            Ok(n) if n <= u64::MAX as i128 => Ok((Tok::Int(if neg { -n } else { n }), i)),
            _ => out_of_range(),
        }
    }
}

// ---------------------------------------------------------------------------
// Parser

enum Stop {
    Eof,
    End,
    Else { start: usize, end: usize, toks: Vec<T> },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    If,
    With,
    Range,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::If => "if",
            Kind::With => "with",
            Kind::Range => "range",
        }
    }
}

struct Parser {
    items: Vec<Item>,
    next: usize,
    vars: Vec<String>,
    loops: usize,
    depth: usize,
}

struct Cur<'t> {
    toks: &'t [T],
    i: usize,
    /// Where the action ends (for errors at its end).
    end: usize,
}

impl Cur<'_> {
    fn skip_space(&mut self) {
        while self.toks.get(self.i).is_some_and(|t| t.tok == Tok::Space) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<&T> {
        self.toks.get(self.i)
    }

    fn here(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |t| t.start)
    }
}

fn parse(src: &str) -> Result<Vec<Node>, Fail> {
    let items = lex(src)?;
    let mut parser = Parser { items, next: 0, vars: vec!["$".to_string()], loops: 0, depth: 0 };
    let (nodes, stop) = parser.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End => fail(0, 0, "unexpected {{end}}"),
        Stop::Else { start, end, .. } => fail(start, end, "unexpected {{else}}; hint: it belongs inside {{if}}, {{with}} or {{range}}"),
    }
}

fn trim_space(toks: &[T]) -> &[T] {
    let start = toks.iter().position(|t| t.tok != Tok::Space).unwrap_or(toks.len());
    let end = toks.iter().rposition(|t| t.tok != Tok::Space).map_or(start, |i| i + 1);
    &toks[start..end.max(start)]
}

impl Parser {
    fn take(&mut self) -> Option<Item> {
        let item = self.items.get_mut(self.next)?;
        self.next += 1;
        Some(std::mem::replace(item, Item::Text(String::new())))
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), Fail> {
        let mut nodes = Vec::new();
        while let Some(item) = self.take() {
            let (start, end, toks) = match item {
                Item::Text(text) => {
                    nodes.push(Node::Text(text));
                    continue;
                }
                Item::Action { start, end, toks } => (start, end, toks),
            };
            let toks = trim_space(&toks);
            let keyword = match toks.first() {
                Some(T { tok: Tok::Ident(word), .. }) if KEYWORDS.contains(&word.as_str()) => word.as_str(),
                _ => "",
            };
            let extra = |what: &str| -> Result<(), Fail> {
                match toks.get(1) {
                    Some(t) => fail(t.start, t.end, format!("unexpected {} in {{{{{what}}}}}; hint: {{{{{what}}}}} takes nothing", t.tok.describe())),
                    None => Ok(()),
                }
            };
            match keyword {
                "if" => nodes.push(self.control(Kind::If, start, end, &toks[1..])?),
                "with" => nodes.push(self.control(Kind::With, start, end, &toks[1..])?),
                "range" => nodes.push(self.control(Kind::Range, start, end, &toks[1..])?),
                "else" => return Ok((nodes, Stop::Else { start, end, toks: toks[1..].to_vec() })),
                "end" => {
                    if self.depth == 0 {
                        return fail(start, end, "unexpected {{end}}; hint: no {{if}}, {{with}} or {{range}} is open");
                    }
                    extra("end")?;
                    return Ok((nodes, Stop::End));
                }
                "break" | "continue" => {
                    if self.loops == 0 {
                        return fail(start, end, format!("{{{{{keyword}}}}} outside {{{{range}}}}"));
                    }
                    extra(keyword)?;
                    nodes.push(if keyword == "break" { Node::Break } else { Node::Continue });
                }
                "" => {
                    if toks.is_empty() {
                        return fail(start, end, "empty action; hint: write a field such as {{.Names}}");
                    }
                    let mut cur = Cur { toks, i: 0, end };
                    nodes.push(Node::Print(self.pipe(&mut cur, 1, false)?));
                }
                other => return fail(start, end, format!("{{{{{other}}}}} is not supported by rde's --format")),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn control(&mut self, kind: Kind, start: usize, end: usize, toks: &[T]) -> Result<Node, Fail> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return fail(start, end, "template nested too deeply");
        }
        let mark = self.vars.len();
        let toks = trim_space(toks);
        if toks.is_empty() {
            return fail(start, end, format!("missing value for {{{{{}}}}}; hint: {{{{{} .Field}}}}", kind.name(), kind.name()));
        }
        let mut cur = Cur { toks, i: 0, end };
        let pipe = self.pipe(&mut cur, if kind == Kind::Range { 2 } else { 1 }, false)?;
        let after_pipe = self.vars.len();
        if kind == Kind::Range {
            self.loops += 1;
        }
        let (body, stop) = self.list()?;
        if kind == Kind::Range {
            self.loops -= 1;
        }
        self.vars.truncate(after_pipe);
        let unclosed = || fail(start, end, format!("unclosed {{{{{}}}}}; hint: add {{{{end}}}}", kind.name()));
        let els = match stop {
            Stop::End => Vec::new(),
            Stop::Eof => return unclosed(),
            Stop::Else { start: else_start, end: else_end, toks } => {
                let toks = trim_space(&toks);
                match toks.first().map(|t| &t.tok) {
                    None => {
                        let (els, stop) = self.list()?;
                        match stop {
                            Stop::End => els,
                            Stop::Eof => return unclosed(),
                            Stop::Else { start, end, .. } => return fail(start, end, "unexpected {{else}} after {{else}}; hint: close the first with {{end}}"),
                        }
                    }
                    Some(Tok::Ident(word)) if (word == "if" && kind == Kind::If) || (word == "with" && kind == Kind::With) => {
                        vec![self.control(kind, else_start, else_end, &toks[1..])?]
                    }
                    Some(tok) => {
                        return fail(
                            toks[0].start,
                            toks[0].end,
                            format!(
                                "unexpected {} after else; hint: {{{{else}}}}, {{{{else {}}}}} ...",
                                tok.describe(),
                                if kind == Kind::With { "with" } else { "if" }
                            ),
                        );
                    }
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(match kind {
            Kind::If => Node::If { pipe, then: body, els },
            Kind::With => Node::With { pipe, then: body, els },
            Kind::Range => Node::Range { pipe, body, els },
        })
    }

    /// Parses a pipeline up to the end of the tokens or, in parentheses, up to
    /// (not past) the closing `)`.
    fn pipe(&mut self, cur: &mut Cur, max_decl: usize, paren: bool) -> Result<Pipe, Fail> {
        cur.skip_space();
        let mut decl = Vec::new();
        let mut assign = false;
        let save = cur.i;
        if let Some(T { tok: Tok::Var(first), start, .. }) = cur.peek().cloned() {
            cur.i += 1;
            cur.skip_space();
            match cur.peek().map(|t| &t.tok) {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = cur.peek().is_some_and(|t| t.tok == Tok::Assign);
                    cur.i += 1;
                    decl.push((first, start));
                }
                Some(Tok::Comma) => {
                    cur.i += 1;
                    cur.skip_space();
                    let second = match cur.peek() {
                        Some(T { tok: Tok::Var(v), start, .. }) => (v.clone(), *start),
                        _ => return fail(cur.here(), cur.here(), "expected a variable after \",\"; hint: {{range $key, $value := .Labels}}"),
                    };
                    cur.i += 1;
                    cur.skip_space();
                    if !cur.peek().is_some_and(|t| t.tok == Tok::Declare) {
                        return fail(cur.here(), cur.here(), "expected \":=\" after the range variables");
                    }
                    cur.i += 1;
                    decl.push((first, start));
                    decl.push(second);
                }
                _ => cur.i = save,
            }
        }
        if decl.len() > max_decl {
            let (_, start) = decl[0];
            return fail(
                start,
                cur.here(),
                if max_decl == 0 { "variables cannot be declared here" } else { "too many declarations; hint: only {{range $k, $v := ...}} declares two" },
            );
        }
        for (name, start) in &decl {
            if name == "$" {
                return fail(*start, start + 1, "cannot assign to \"$\"; hint: name the variable: $x");
            }
            if assign && !self.vars.contains(name) {
                return fail(*start, start + name.len(), format!("undefined variable {name:?}; hint: declare it with :="));
            }
        }
        let mut cmds = Vec::new();
        loop {
            cur.skip_space();
            let cmd = self.command(cur)?;
            if cmd.ops.is_empty() {
                return fail(cur.here(), cur.here(), "missing value for command; hint: write a field such as .Names or a function");
            }
            cmds.push(cmd);
            match cur.peek().map(|t| &t.tok) {
                Some(Tok::Pipe) => cur.i += 1,
                Some(Tok::RParen) if paren => break,
                Some(Tok::RParen) => return fail(cur.here(), cur.here() + 1, "unexpected right paren"),
                None if paren => return fail(cur.end, cur.end, "unclosed left paren; hint: add \")\""),
                None => break,
                Some(tok) => return fail(cur.here(), cur.here(), format!("unexpected {}", tok.describe())),
            }
        }
        for (stage, cmd) in cmds.iter_mut().enumerate() {
            let args = cmd.ops.len() - 1 + usize::from(stage > 0);
            let first = &cmd.ops[0];
            match &first.kind {
                OpKind::Func(f) => check_arity(*f, args).or_else(|m| fail(cmd.start, cmd.end, m))?,
                OpKind::Nil => return fail(first.start, first.end, "nil is not a command"),
                OpKind::Field(chain) if stage == 0 && cmd.ops.len() == 2 && chain.last().is_some_and(|l| l == "Label") => {
                    cmd.ops[0].kind = OpKind::Label(chain[..chain.len() - 1].to_vec());
                }
                _ if stage > 0 => {
                    return fail(
                        cmd.start,
                        cmd.end,
                        format!("non executable command in pipeline stage {}; hint: pipe into a function: {{{{.Names | upper}}}}", stage + 1),
                    );
                }
                _ if cmd.ops.len() > 1 => {
                    let name = cur.toks.iter().find(|t| t.start == first.start).map_or(String::new(), |t| t.tok.describe());
                    return fail(
                        cmd.start,
                        cmd.end,
                        format!("can't give argument to non-function {name}; hint: only functions take arguments: {{{{join .Field \", \"}}}}"),
                    );
                }
                _ => {}
            }
        }
        if !assign {
            self.vars.extend(decl.iter().map(|(name, _)| name.clone()));
        }
        Ok(Pipe { decl: decl.into_iter().map(|(name, _)| name).collect(), assign, cmds })
    }

    fn command(&mut self, cur: &mut Cur) -> Result<Cmd, Fail> {
        let start = cur.here();
        let mut ops = Vec::new();
        loop {
            cur.skip_space();
            match cur.peek().map(|t| &t.tok) {
                None | Some(Tok::Pipe) | Some(Tok::RParen) => break,
                _ => {}
            }
            ops.push(self.operand(cur)?);
            match cur.peek() {
                None => {}
                Some(T { tok: Tok::Space | Tok::Pipe | Tok::RParen, .. }) => {}
                Some(t) => return fail(t.start, t.end, format!("unexpected {} in operand; hint: separate arguments with spaces", t.tok.describe())),
            }
        }
        let end = ops.last().map_or(start, |o: &Op| o.end);
        Ok(Cmd { ops, start, end })
    }

    fn operand(&mut self, cur: &mut Cur) -> Result<Op, Fail> {
        let Some(t) = cur.peek().cloned() else { return fail(cur.end, cur.end, "missing operand") };
        cur.i += 1;
        let (start, mut end) = (t.start, t.end);
        let mut kind = match t.tok {
            Tok::Dot => OpKind::Dot,
            Tok::Field(name) => OpKind::Field(vec![name]),
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return fail(start, end, format!("undefined variable {name:?}; hint: declare it first: {{{{{name} := .Field}}}}"));
                }
                OpKind::Var(name, Vec::new())
            }
            Tok::Ident(word) => match word.as_str() {
                "true" => OpKind::Lit(Value::Bool(true)),
                "false" => OpKind::Lit(Value::Bool(false)),
                "nil" => OpKind::Nil,
                w if KEYWORDS.contains(&w) => {
                    return fail(start, end, format!("unexpected keyword {w:?} in command; hint: {{{{{w} ...}}}} must start its own action"));
                }
                w => match FUNCS.iter().find(|f| f.0 == w) {
                    Some(f) => OpKind::Func(f.1),
                    None => return fail(start, end, unknown_function(w)),
                },
            },
            Tok::Str(s) => OpKind::Lit(Value::String(s)),
            Tok::Int(i) => OpKind::Lit(int_value(i)),
            Tok::Float(f) => OpKind::Lit(Number::from_f64(f).map_or(Value::Null, Value::Number)),
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return fail(start, end, "template nested too deeply");
                }
                let pipe = self.pipe(cur, 0, true)?;
                self.depth -= 1;
                // pipe() stopped at the ")".
                end = cur.peek().map_or(cur.end, |t| t.end);
                cur.i += 1;
                OpKind::Sub(Box::new(pipe), Vec::new())
            }
            Tok::RParen => return fail(start, end, "unexpected right paren"),
            Tok::Declare | Tok::Assign => {
                return fail(start, end, format!("unexpected {}; hint: declare variables first: {{{{$x := .Field}}}}", t.tok.describe()));
            }
            tok => return fail(start, end, format!("unexpected {}", tok.describe())),
        };
        while let Some(T { tok: Tok::Field(name), end: field_end, .. }) = cur.peek().cloned() {
            match &mut kind {
                OpKind::Field(chain) | OpKind::Var(_, chain) | OpKind::Sub(_, chain) => chain.push(name),
                _ => return fail(start, field_end, format!("unexpected .{name} after a value that has no fields")),
            }
            end = field_end;
            cur.i += 1;
        }
        Ok(Op { kind, start, end })
    }
}

fn int_value(i: i128) -> Value {
    match i64::try_from(i) {
        Ok(i) => Value::from(i),
        Err(_) => Value::from(i as u64),
    }
}

fn unknown_function(name: &str) -> String {
    if UNSUPPORTED.contains(&name) {
        return format!("function {name:?} is not supported by rde's --format");
    }
    let lower = name.to_lowercase();
    let close = FUNCS.iter().map(|f| f.0).filter(|f| *f == lower || edit_distance(f, &lower) <= 2).min_by_key(|f| edit_distance(f, &lower));
    let hint = match close {
        Some(f) => format!("did you mean {f:?}?"),
        None if name.starts_with(|c: char| c.is_uppercase()) => format!("fields start with a dot: {{{{.{name}}}}}"),
        None => format!("functions are {}", FUNCS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")),
    };
    format!("unknown function {name:?}; hint: {hint}")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------
// Execution

enum Flow {
    Next,
    Break,
    Continue,
}

struct Exec<'a> {
    /// Set while rendering a table's header line: fields give their header text.
    header: Option<&'a dyn Fn(&str) -> String>,
    vars: Vec<(String, Value)>,
    out: String,
    steps: usize,
}

impl Exec<'_> {
    fn tick(&mut self, at: (usize, usize)) -> Result<(), Fail> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return fail(at.0, at.1, "template runs too long (over a million steps)");
        }
        if self.out.len() > MAX_OUTPUT {
            return fail(at.0, at.1, "template output too large (over 16 MiB)");
        }
        Ok(())
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Fail> {
        for node in nodes {
            self.tick(node_span(node))?;
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Print(pipe) => {
                    let value = self.pipe_value(pipe, dot, true)?;
                    if pipe.decl.is_empty() {
                        print_top(&value, &mut self.out);
                    }
                }
                Node::If { pipe, then, els } | Node::With { pipe, then, els } => {
                    let mark = self.vars.len();
                    let value = self.pipe_value(pipe, dot, true)?;
                    let flow = match (truthy(&value), node) {
                        (true, Node::With { .. }) => self.walk(then, &value)?,
                        (true, _) => self.walk(then, dot)?,
                        (false, _) => self.walk(els, dot)?,
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Next) {
                        return Ok(flow);
                    }
                }
                Node::Range { pipe, body, els } => {
                    let flow = self.range(pipe, body, els, dot)?;
                    if !matches!(flow, Flow::Next) {
                        return Ok(flow);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Next)
    }

    /// Runs a `{{range}}`; returns other than `Flow::Next` only for a
    /// `{{break}}`/`{{continue}}` in its `{{else}}` part (an enclosing loop's).
    fn range(&mut self, pipe: &Pipe, body: &[Node], els: &[Node], dot: &Value) -> Result<Flow, Fail> {
        let mark = self.vars.len();
        let value = self.pipe_value(pipe, dot, false)?;
        let span = pipe.cmds.first().map_or((0, 0), |c| (c.start, pipe.cmds.last().map_or(c.end, |l| l.end)));
        let items: Vec<(Value, Value)> = match &value {
            Value::Array(items) => items.iter().enumerate().map(|(i, v)| (Value::from(i), v.clone())).collect(),
            Value::Object(map) => sorted(map).into_iter().map(|(k, v)| (Value::String(k.clone()), v.clone())).collect(),
            Value::Number(n) if n.as_i64().is_some() => {
                let n = n.as_i64().unwrap_or(0).max(0);
                if n as usize > MAX_STEPS {
                    return fail(span.0, span.1, "template runs too long (over a million steps)");
                }
                (0..n).map(|i| (Value::from(i), Value::from(i))).collect()
            }
            Value::Null => Vec::new(),
            Value::String(_) if self.header.is_some() => vec![(Value::from(0), value.clone())],
            other => return fail(span.0, span.1, format!("range can't iterate over {}; hint: range takes an array, an object or an integer", sprint(other))),
        };
        let empty = items.is_empty();
        for (key, item) in items {
            self.tick(span)?;
            self.vars.truncate(mark);
            match pipe.decl.as_slice() {
                [one] => self.vars.push((one.clone(), item.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), item.clone()));
                }
                _ => {}
            }
            if let Flow::Break = self.walk(body, &item)? {
                break;
            }
        }
        self.vars.truncate(mark);
        if empty {
            let flow = self.walk(els, dot)?;
            self.vars.truncate(mark);
            return Ok(flow);
        }
        Ok(Flow::Next)
    }

    /// Evaluates a pipeline (declaring its variables if `declare`); in a header,
    /// a failing pipeline gives an empty string.
    fn pipe_value(&mut self, pipe: &Pipe, dot: &Value, declare: bool) -> Result<Value, Fail> {
        let value = match self.pipe_cmds(pipe, dot) {
            Err(_) if self.header.is_some() => Value::String(String::new()),
            other => other?,
        };
        if let (true, Some(name)) = (declare, pipe.decl.first()) {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn pipe_cmds(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, Fail> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        Ok(value.unwrap_or(Value::Null))
    }

    fn command(&mut self, cmd: &Cmd, dot: &Value, last: Option<Value>) -> Result<Value, Fail> {
        let first = &cmd.ops[0];
        match &first.kind {
            OpKind::Func(f) => self.call(*f, &cmd.ops[1..], last, dot, (cmd.start, cmd.end)),
            OpKind::Label(chain) => {
                let receiver = if chain.is_empty() { dot.clone() } else { self.fields(dot, chain, first)? };
                let key = self.operand(&cmd.ops[1], dot)?;
                let Value::String(key) = key else {
                    return fail(cmd.start, cmd.end, format!("wrong type for value; expected string; got {}", go_type(&key)));
                };
                if self.header.is_some() {
                    return Ok(Value::String(label_header(&key)));
                }
                label_of(&receiver, &key).map(Value::String).or_else(|m| fail(cmd.start, cmd.end, m))
            }
            _ => self.operand(first, dot),
        }
    }

    fn operand(&mut self, op: &Op, dot: &Value) -> Result<Value, Fail> {
        match &op.kind {
            OpKind::Dot => Ok(dot.clone()),
            OpKind::Field(chain) => self.fields(dot, chain, op),
            OpKind::Var(name, chain) => {
                let Some((_, value)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return fail(op.start, op.end, format!("undefined variable {name:?}"));
                };
                let value = value.clone();
                self.fields(&value, chain, op)
            }
            OpKind::Sub(pipe, chain) => {
                let value = self.pipe_cmds(pipe, dot)?;
                self.fields(&value, chain, op)
            }
            OpKind::Func(f) => self.call(*f, &[], None, dot, (op.start, op.end)),
            OpKind::Lit(value) => Ok(value.clone()),
            OpKind::Nil | OpKind::Label(_) => Ok(Value::Null),
        }
    }

    fn fields(&self, receiver: &Value, chain: &[String], op: &Op) -> Result<Value, Fail> {
        if chain.is_empty() {
            return Ok(receiver.clone());
        }
        if let Some(headers) = self.header {
            return Ok(Value::String(headers(&chain.join("."))));
        }
        let mut current = receiver;
        for (i, name) in chain.iter().enumerate() {
            match current {
                Value::Object(map) => match map.get(name) {
                    Some(value) => current = value,
                    None => return Ok(Value::Null),
                },
                Value::Null => return Ok(Value::Null),
                other => {
                    let what = if i == 0 { "it".to_string() } else { format!(".{}", chain[..i].join(".")) };
                    return fail(op.start, op.end, format!("can't evaluate field {name} in type {}; hint: {what} is not an object", go_type(other)));
                }
            }
        }
        Ok(current.clone())
    }

    fn call(&mut self, f: Func, ops: &[Op], last: Option<Value>, dot: &Value, span: (usize, usize)) -> Result<Value, Fail> {
        let count = ops.len() + usize::from(last.is_some());
        check_arity(f, count).or_else(|m| fail(span.0, span.1, m))?;
        if let Func::And | Func::Or = f {
            // Short-circuit: the first falsy (and) or truthy (or) argument, else the last.
            let mut value = Value::Null;
            for op in ops {
                value = self.operand(op, dot)?;
                if truthy(&value) == (f == Func::Or) {
                    return Ok(value);
                }
            }
            return Ok(last.unwrap_or(value));
        }
        let mut args = Vec::with_capacity(count);
        for op in ops {
            args.push(self.operand(op, dot)?);
        }
        args.extend(last);
        self.apply(f, &args).or_else(|m| fail(span.0, span.1, format!("error calling {}: {m}", func_name(f))))
    }

    fn apply(&self, f: Func, args: &[Value]) -> Result<Value, String> {
        if self.header.is_some() {
            match f {
                Func::Json | Func::Split | Func::Join | Func::Title | Func::Lower | Func::Upper | Func::Truncate => return Ok(args[0].clone()),
                Func::Index => {
                    return Ok(match args[1..].iter().rev().find_map(|a| a.as_str()) {
                        Some(key) => Value::String(label_header(key)),
                        None => args[0].clone(),
                    });
                }
                _ => {}
            }
        }
        let text = |i: usize| want_str(&args[i]);
        let int = |i: usize| want_int(&args[i]);
        Ok(match f {
            Func::Json => {
                let mut out = String::new();
                go_json(&args[0], &mut out);
                Value::String(out)
            }
            Func::Split => {
                let (s, sep) = (text(0)?, text(1)?);
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    s.split(sep).map(|p| Value::String(p.to_string())).collect()
                };
                Value::Array(parts)
            }
            Func::Join => Value::String(join(&args[0], text(1)?)?),
            Func::Title => Value::String(title(text(0)?)),
            Func::Lower => Value::String(text(0)?.to_lowercase()),
            Func::Upper => Value::String(text(0)?.to_uppercase()),
            Func::Pad => {
                let (s, before, after) = (text(0)?, int(1)?, int(2)?);
                if s.is_empty() {
                    return Ok(Value::String(String::new()));
                }
                if before < 0 || after < 0 {
                    return Err("strings: negative Repeat count".into());
                }
                if before as u64 + after as u64 > MAX_OUTPUT as u64 {
                    return Err("padding too large".into());
                }
                Value::String(format!("{}{s}{}", " ".repeat(before as usize), " ".repeat(after as usize)))
            }
            Func::Truncate => {
                let (s, n) = (text(0)?, int(1)?);
                if (s.len() as i64) < n {
                    Value::String(s.to_string())
                } else if n < 0 {
                    return Err(format!("slice bounds out of range [:{n}]"));
                } else {
                    Value::String(s[..floor_boundary(s, n as usize)].to_string())
                }
            }
            Func::And | Func::Or => Value::Null,
            Func::Not => Value::Bool(!truthy(&args[0])),
            Func::Len => Value::from(match &args[0] {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                Value::Null => return Err("len of nil pointer".into()),
                other => return Err(format!("len of type {}", go_type(other))),
            }),
            Func::Index => index(&args[0], &args[1..])?,
            Func::Slice => slice(&args[0], &args[1..])?,
            Func::Print => Value::String(go_sprint(args)),
            Func::Println => {
                let mut out = args.iter().map(sprint).collect::<Vec<_>>().join(" ");
                out.push('\n');
                Value::String(out)
            }
            Func::Printf => Value::String(sprintf(text(0)?, &args[1..])),
            Func::Eq => {
                // Like Go, stops at the first match (later arguments are not checked).
                let mut any = false;
                for other in &args[1..] {
                    if equal(&args[0], other)? {
                        any = true;
                        break;
                    }
                }
                Value::Bool(any)
            }
            Func::Ne => Value::Bool(!equal(&args[0], &args[1])?),
            Func::Lt => Value::Bool(compare(&args[0], &args[1])? == Ordering::Less),
            Func::Le => Value::Bool(compare(&args[0], &args[1])? != Ordering::Greater),
            Func::Gt => Value::Bool(compare(&args[0], &args[1])? == Ordering::Greater),
            Func::Ge => Value::Bool(compare(&args[0], &args[1])? != Ordering::Less),
        })
    }
}

fn node_span(node: &Node) -> (usize, usize) {
    let pipe = match node {
        Node::Print(p) => p,
        Node::If { pipe, .. } | Node::With { pipe, .. } | Node::Range { pipe, .. } => pipe,
        _ => return (0, 0),
    };
    pipe.cmds.first().map_or((0, 0), |c| (c.start, pipe.cmds.last().map_or(c.end, |l| l.end)))
}

fn want_str(value: &Value) -> Result<&str, String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Err("invalid value; expected string".into()),
        other => Err(format!("wrong type for value; expected string; got {}", go_type(other))),
    }
}

fn want_int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or(0)),
        Value::Number(n) if n.as_u64().is_some() => Err(format!("value {n} out of range for int")),
        // Go takes integral constants such as `12.0` where an int is expected.
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15) => Ok(n.as_f64().unwrap_or(0.0) as i64),
        Value::Null => Err("invalid value; expected int".into()),
        other => Err(format!("wrong type for value; expected int; got {}", go_type(other))),
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's type name for a value decoded from JSON (integers as rows carry them).
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int",
        Value::Number(n) if n.is_u64() => "uint64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// docker's `SubHeaderContext.Label`: the last dotted part, `-`/`_` as spaces.
fn label_header(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).replace(['-', '_'], " ")
}

/// docker's `.Label "key"`: from the receiver's `Labels` (an object, or docker's
/// `a=b,c=d` string); `""` if absent.
fn label_of(receiver: &Value, key: &str) -> Result<String, String> {
    match receiver {
        Value::Object(map) => Ok(match map.get("Labels") {
            Some(Value::Object(labels)) => labels.get(key).map(sprint),
            Some(Value::String(s)) => s.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == key).then(|| v.to_string())
            }),
            _ => None,
        }
        .unwrap_or_default()),
        Value::Null => Ok(String::new()),
        other => Err(format!("can't evaluate field Label in type {}", go_type(other))),
    }
}

fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() { !(c.is_ascii_alphanumeric() || c == '_') } else { !c.is_alphanumeric() && c.is_whitespace() }
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn join(elems: &Value, sep: &str) -> Result<String, String> {
    Ok(match elems {
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(sprint).collect::<Vec<_>>().join(sep),
        Value::Object(map) => {
            let mut values: Vec<String> = map.values().map(sprint).collect();
            values.sort();
            values.join(sep)
        }
        other => return Err(format!("expected slice, got {}", go_type(other))),
    })
}

fn index(item: &Value, keys: &[Value]) -> Result<Value, String> {
    let mut current = item.clone();
    for key in keys {
        current = match (&current, key) {
            (Value::Null, _) => return Err("index of untyped nil".into()),
            (Value::Array(items), Value::Number(_)) => {
                let i = want_int(key)?;
                match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                    Some(v) => v.clone(),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            (Value::String(s), Value::Number(_)) => {
                let i = want_int(key)?;
                match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => Value::from(*b),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            (Value::Array(_) | Value::String(_), other) => return Err(format!("cannot index slice/array with type {}", go_type(other))),
            (Value::Object(map), Value::String(k)) => map.get(k).cloned().unwrap_or(Value::Null),
            (Value::Object(_), other) => return Err(format!("value has type {}; should be string", go_type(other))),
            (other, _) => return Err(format!("can't index item of type {}", go_type(other))),
        };
    }
    Ok(current)
}

fn slice(item: &Value, bounds: &[Value]) -> Result<Value, String> {
    let len = match item {
        Value::String(s) if bounds.len() <= 2 => s.len(),
        Value::String(_) => return Err("cannot 3-index slice a string".into()),
        Value::Array(a) if bounds.len() <= 3 => a.len(),
        Value::Array(_) => return Err(format!("too many slice indexes: {}", bounds.len())),
        Value::Null => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", go_type(other))),
    };
    let mut idx = Vec::with_capacity(bounds.len());
    for b in bounds {
        let i = want_int(b)?;
        match usize::try_from(i) {
            Ok(i) if i <= len => idx.push(i),
            _ => return Err(format!("index out of range: {i}")),
        }
    }
    let from = idx.first().copied().unwrap_or(0);
    let to = idx.get(1).copied().unwrap_or(len);
    if from > to || idx.get(2).is_some_and(|cap| *cap < to) {
        return Err(format!("invalid slice index: {from} > {to}"));
    }
    Ok(match item {
        Value::String(s) => Value::String(String::from_utf8_lossy(&s.as_bytes()[from..to]).into_owned()),
        Value::Array(a) => Value::Array(a[from..to].to_vec()),
        _ => Value::Null,
    })
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num(n: &Number) -> Num {
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => Num::Int(i as i128),
        (_, Some(u)) => Num::Int(u as i128),
        _ => Num::Float(n.as_f64().unwrap_or(0.0)),
    }
}

fn compare_nums(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => a.cmp(&b),
        (Num::Int(a), Num::Float(b)) => (a as f64).partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(b as f64)).unwrap_or(Ordering::Equal),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Go's `eq` for two values: basic values compare, `nil` equals only `nil`.
fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(a.is_null() && b.is_null()),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => Err("non-comparable type".into()),
        (Value::Number(x), Value::Number(y)) => Ok(compare_nums(num(x), num(y)) == Ordering::Equal),
        (Value::String(x), Value::String(y)) => Ok(x == y),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's `lt` family: numbers with numbers, strings with strings.
fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(compare_nums(num(x), num(y))),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => Err("incompatible types for comparison".into()),
        _ => Err("invalid type for comparison".into()),
    }
}

// ---------------------------------------------------------------------------
// Printing as Go's fmt and encoding/json do

/// What `{{pipeline}}` prints: `<no value>` for nil, else `%v`.
fn print_top(value: &Value, out: &mut String) {
    if value.is_null() {
        out.push_str("<no value>");
    } else {
        sprint_into(value, out);
    }
}

/// Go's `%v`.
fn sprint(value: &Value) -> String {
    let mut out = String::new();
    sprint_into(value, &mut out);
    out
}

fn sprint_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                sprint_into(v, out);
            }
            out.push(']');
        }
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !arg.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        sprint_into(arg, &mut out);
    }
    out
}

fn go_number(n: &Number) -> String {
    match num(n) {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => {
            let body = g_format(f.abs(), None, false);
            if f.is_sign_negative() { format!("-{body}") } else { body }
        }
    }
}

/// Shortest decimal digits of `a` (>= 0) and the exponent of the first digit.
fn shortest_digits(a: f64) -> (String, i32) {
    split_exp(&format!("{a:e}"))
}

/// Splits Rust's `1.2345e6` into `("12345", 6)`.
fn split_exp(s: &str) -> (String, i32) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// Digits as fixed-point notation, `exp` being the exponent of the first digit.
fn fixed(digits: &str, exp: i32) -> String {
    let nd = digits.len() as i32;
    if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= nd {
        format!("{digits}{}", "0".repeat((exp + 1 - nd) as usize))
    } else {
        format!("{}.{}", &digits[..(exp + 1) as usize], &digits[(exp + 1) as usize..])
    }
}

fn exp_form(digits: &str, exp: i32, upper: bool, min_exp_digits: usize) -> String {
    let mut out = digits[..1].to_string();
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:0width$}", exp.abs(), width = min_exp_digits));
    out
}

/// Go's `%g` (and `%v`) for `a >= 0`: shortest digits (or `prec` significant
/// digits), exponent form when the exponent is < -4 or >= the precision (6 for
/// shortest).
fn g_format(a: f64, prec: Option<usize>, upper: bool) -> String {
    let (digits, exp, eprec) = match prec {
        None => {
            let (d, e) = shortest_digits(a);
            (d, e, 6)
        }
        Some(p) => {
            let p = p.max(1);
            let (d, e) = split_exp(&format!("{:.*e}", p - 1, a));
            let d = d.trim_end_matches('0');
            let d = if d.is_empty() { "0".to_string() } else { d.to_string() };
            let nd = d.len() as i32;
            let eprec = if p as i32 > nd && nd > e { nd } else { p as i32 };
            (d, e, eprec)
        }
    };
    if exp < -4 || exp >= eprec { exp_form(&digits, exp, upper, 2) } else { fixed(&digits, exp) }
}

/// Go's `%e` with `prec` digits after the point, for `a >= 0`.
fn e_format(a: f64, prec: usize, upper: bool) -> String {
    let (digits, exp) = split_exp(&format!("{a:.prec$e}"));
    exp_form(&digits, exp, upper, 2)
}

/// Go's `json.Marshal` (HTML escaping off, as docker's `json` function): compact,
/// object keys sorted.
fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match num(n) {
            Num::Int(i) => out.push_str(&i.to_string()),
            Num::Float(f) => {
                let a = f.abs();
                if f.is_sign_negative() {
                    out.push('-');
                }
                if a != 0.0 && !(1e-6..1e21).contains(&a) {
                    let (digits, exp) = shortest_digits(a);
                    out.push_str(&exp_form(&digits, exp, false, 1));
                } else {
                    out.push_str(&a.to_string());
                }
            }
        },
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                go_json(v, out);
            }
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `strconv.Quote` (with `'` for characters).
fn go_quote(s: &str, quote: char) -> String {
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Roughly Go's `unicode.IsPrint`.
fn printable(c: char) -> bool {
    !c.is_control()
        && (c == ' ' || !c.is_whitespace())
        && !matches!(c as u32, 0xAD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0xE000..=0xF8FF)
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs `%v %s %q %d %b %o %O %x %X %c %U %e %E %f %F
/// %g %G %t %%`, flags `-+# 0`, width and precision (digits or `*`). Mistakes print
/// as Go prints them: `%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`.
fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut number = |chars: &mut std::iter::Peekable<std::str::Chars>, star_ok: bool| -> Result<Option<i64>, ()> {
            if star_ok && chars.peek() == Some(&'*') {
                chars.next();
                let arg = args.get(next).and_then(|a| a.as_i64());
                next += 1;
                return match arg {
                    Some(n) if n.unsigned_abs() <= 1_000_000 => Ok(Some(n)),
                    _ => Err(()),
                };
            }
            let mut n: Option<i64> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                chars.next();
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as i64));
            }
            match n {
                Some(n) if n > 1_000_000 => Err(()),
                n => Ok(n),
            }
        };
        match number(&mut chars, true) {
            Ok(Some(w)) if w < 0 => {
                spec.minus = true;
                spec.width = Some(w.unsigned_abs() as usize);
            }
            Ok(w) => spec.width = w.map(|w| w as usize),
            Err(()) => out.push_str("%!(BADWIDTH)"),
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            match number(&mut chars, true) {
                Ok(p) if p.unwrap_or(0) >= 0 => spec.prec = Some(p.unwrap_or(0) as usize),
                _ => out.push_str("%!(BADPREC)"),
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(arg) => out.push_str(&fmt_value(arg, verb, &spec, false)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..].iter().map(|a| if a.is_null() { "<nil>".into() } else { format!("{}={}", go_type(a), sprint(a)) }).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// Go's `%!d(string=x)`: the value printed with `%v` and the same flags.
fn bad_verb(value: &Value, verb: char, spec: &Spec) -> String {
    if value.is_null() { format!("%!{verb}(<nil>)") } else { format!("%!{verb}({}={})", go_type(value), fmt_value(value, 'v', spec, false)) }
}

/// Pads `s` to the width in `spec` (spaces, or zeros when `zero` applies).
fn pad_to(s: String, spec: &Spec, zero: bool) -> String {
    let Some(width) = spec.width else { return s };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if zero && spec.zero {
        // Zeros go after a sign or base prefix.
        let sign_len = s.find(|c: char| !matches!(c, '+' | '-' | ' ')).unwrap_or(0);
        let (head, tail) = s.split_at(sign_len);
        let prefix_len = ["0x", "0X", "0b", "0o"].iter().find(|p| tail.starts_with(*p)).map_or(0, |p| p.len());
        let (prefix, digits) = tail.split_at(prefix_len);
        format!("{head}{prefix}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// One `printf` operand; `nested` inside an array or object (where nil prints `<nil>`).
fn fmt_value(value: &Value, verb: char, spec: &Spec, nested: bool) -> String {
    match value {
        Value::Array(items) => format!("[{}]", items.iter().map(|i| fmt_value(i, verb, spec, true)).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let entries: Vec<String> = sorted(map)
                .into_iter()
                .map(|(k, v)| format!("{}:{}", fmt_value(&Value::String(k.clone()), verb, spec, true), fmt_value(v, verb, spec, true)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
        Value::Null if nested => "<nil>".into(),
        Value::Null if verb == 'v' => pad_to("<nil>".into(), spec, true),
        Value::Bool(b) if verb == 'v' || verb == 't' => pad_to(b.to_string(), spec, true),
        Value::String(s) => match verb {
            'v' | 's' => {
                let s = match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                pad_to(s, spec, true)
            }
            'q' if spec.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) => pad_to(format!("`{s}`"), spec, true),
            'q' => pad_to(go_quote(s, '"'), spec, true),
            'x' | 'X' => {
                let bytes = &s.as_bytes()[..spec.prec.unwrap_or(usize::MAX).min(s.len())];
                let mut hex: String = bytes.iter().map(|b| if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") }).collect();
                if spec.sharp && !hex.is_empty() {
                    hex.insert_str(0, if verb == 'x' { "0x" } else { "0X" });
                }
                pad_to(hex, spec, true)
            }
            _ => bad_verb(value, verb, spec),
        },
        Value::Number(n) => match num(n) {
            Num::Int(i) => fmt_int(i, verb, spec).unwrap_or_else(|| bad_verb(value, verb, spec)),
            Num::Float(f) => fmt_float(f, verb, spec).unwrap_or_else(|| bad_verb(value, verb, spec)),
        },
        _ => bad_verb(value, verb, spec),
    }
}

fn sign(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn fmt_int(i: i128, verb: char, spec: &Spec) -> Option<String> {
    let a = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'd' | 'v' => (a.to_string(), ""),
        'b' => (format!("{a:b}"), "0b"),
        'o' => (format!("{a:o}"), "0"),
        'O' => (format!("{a:o}"), "0o"),
        'x' => (format!("{a:x}"), "0x"),
        'X' => (format!("{a:X}"), "0X"),
        'c' => return Some(pad_to(u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}').to_string(), spec, true)),
        'q' => return Some(pad_to(go_quote(&u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}').to_string(), '\''), spec, true)),
        'U' => return Some(pad_to(format!("U+{a:04X}"), spec, false)),
        _ => return None,
    };
    let digits = match spec.prec {
        Some(0) if a == 0 => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    let prefix = match (spec.sharp, verb) {
        (true, 'o') if digits.starts_with('0') => "",
        (true, _) | (_, 'O') => prefix,
        _ => "",
    };
    Some(pad_to(format!("{}{prefix}{digits}", sign(i < 0, spec)), spec, spec.prec.is_none()))
}

fn fmt_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    let a = f.abs();
    let body = match verb {
        'v' | 'g' | 'G' => g_format(a, spec.prec, verb == 'G'),
        'e' | 'E' => e_format(a, spec.prec.unwrap_or(6), verb == 'E'),
        'f' | 'F' => format!("{a:.prec$}", prec = spec.prec.unwrap_or(6)),
        _ => return None,
    };
    Some(pad_to(format!("{}{body}", sign(f.is_sign_negative(), spec)), spec, true))
}

// ---------------------------------------------------------------------------
// docker's tabwriter: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Aligns tab-terminated cells into columns as Go's `text/tabwriter` (docker's
/// copy, which counts East Asian wide characters as two columns) does with
/// minwidth 10, padding 3, padchar ' ', no flags. `\v` is a tab, `\f` a line break
/// that also ends every column.
fn tabwrite(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for (k, section) in text.split('\x0c').enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let lines: Vec<Vec<(&str, usize)>> =
            section.split('\n').map(|line| line.split(['\t', '\x0b']).map(|cell| (cell, display_width(cell))).collect()).collect();
        let mut rendered = vec![String::new(); lines.len()];
        align(&lines, &mut Vec::new(), 0, lines.len(), &mut rendered);
        out.push_str(&rendered.join("\n"));
    }
    out
}

/// Go's `Writer.format`: lays out column `widths.len()` for the blocks of
/// consecutive lines in `line0..line1` that have a cell in it, recursing right.
fn align(lines: &[Vec<(&str, usize)>], widths: &mut Vec<usize>, line0: usize, line1: usize, rendered: &mut [String]) {
    let column = widths.len();
    let mut line0 = line0;
    let mut this = line0;
    while this < line1 {
        if lines[this].len() <= column + 1 {
            this += 1;
            continue;
        }
        write_lines(lines, widths, line0, this, rendered);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && lines[this].len() > column + 1 {
            width = width.max(lines[this][column].1 + PADDING);
            this += 1;
        }
        widths.push(width);
        align(lines, widths, line0, this, rendered);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, widths, line0, line1, rendered);
}

fn write_lines(lines: &[Vec<(&str, usize)>], widths: &[usize], line0: usize, line1: usize, rendered: &mut [String]) {
    for i in line0..line1 {
        let out = &mut rendered[i];
        for (j, (text, width)) in lines[i].iter().enumerate() {
            out.push_str(text);
            if let Some(cell) = widths.get(j) {
                out.extend(std::iter::repeat_n(' ', cell.saturating_sub(*width)));
            }
        }
    }
}

/// Terminal columns of `s`: 2 for East Asian wide characters, 0 for combining
/// marks and controls, else 1 (roughly go-runewidth).
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0..=0x1f | 0x7f..=0x9f | 0x300..=0x36f | 0x200b..=0x200f | 0xfe00..=0xfe0f => 0,
            0x1100..=0x115f
            | 0x2e80..=0x303e
            | 0x3041..=0x33ff
            | 0x3400..=0x4dbf
            | 0x4e00..=0x9fff
            | 0xa000..=0xa4cf
            | 0xac00..=0xd7a3
            | 0xf900..=0xfaff
            | 0xfe30..=0xfe4f
            | 0xff00..=0xff60
            | 0xffe0..=0xffe6
            | 0x1f300..=0x1f64f
            | 0x1f900..=0x1f9ff
            | 0x20000..=0x3fffd => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Value {
        json!({
            "ID": "3f2a9c1d0e7b",
            "Names": "web",
            "Image": "nginx:1.27",
            "Status": "Up 2 minutes",
            "Labels": "com.docker.compose.project=shop,tier=front",
            "Ports": "0.0.0.0:8080->80/tcp",
            "Size": 12,
            "Ratio": 1.5,
            "Big": 1234567.0,
            "Running": true,
            "Nothing": null,
            "Mounts": ["data", "logs"],
            "Config": {"Image": "nginx", "Env": ["A=1", "B=2"], "Labels": {"tier": "front", "com.example.x": "y"}},
        })
    }

    fn render(template: &str) -> String {
        match Template::parse(template) {
            Ok(t) => t.render(&row()).unwrap_or_else(|e| panic!("{template}: {e}")),
            Err(e) => panic!("{template}: {e}"),
        }
    }

    fn render_err(template: &str) -> String {
        Template::parse(template).unwrap_or_else(|e| panic!("{template}: {e}")).render(&row()).unwrap_err().to_string()
    }

    fn parse_err(template: &str) -> String {
        Template::parse(template).unwrap_err().to_string()
    }

    fn headers(field: &str) -> String {
        match field {
            "ID" => "CONTAINER ID".to_string(),
            "RunningFor" => "CREATED".to_string(),
            _ => default_header(field),
        }
    }

    fn rows_with(format: &str, rows: &[Value]) -> String {
        render_rows(&Format::parse(format).unwrap(), &headers, rows).unwrap().unwrap()
    }

    #[test]
    fn fields_and_printing() {
        assert_eq!(render("{{.Names}}"), "web");
        assert_eq!(render("name: {{ .Names }}!"), "name: web!");
        assert_eq!(render("{{.Config.Image}}"), "nginx");
        assert_eq!(render("{{.Missing}}"), "<no value>");
        assert_eq!(render("{{.Missing.Deeper}}"), "<no value>");
        assert_eq!(render("{{.Nothing}}"), "<no value>");
        assert_eq!(render("{{.Size}}"), "12");
        assert_eq!(render("{{.Ratio}}"), "1.5");
        assert_eq!(render("{{.Big}}"), "1.234567e+06");
        assert_eq!(render("{{.Running}}"), "true");
        assert_eq!(render("{{.Mounts}}"), "[data logs]");
        assert_eq!(render("{{.Config.Labels}}"), "map[com.example.x:y tier:front]");
        assert_eq!(render("{{$.Names}}"), "web");
        assert_eq!(Template::parse("<{{.}}>").unwrap().render(&json!("text")).unwrap(), "<text>");
        assert_eq!(Template::parse("{{.}}").unwrap().render(&json!([1, null, {"b": 2.0, "a": [true]}])).unwrap(), "[1 <nil> map[a:[true] b:2]]");
        assert_eq!(render("plain text"), "plain text");
        assert_eq!(render(""), "");
    }

    #[test]
    fn literals() {
        assert_eq!(render("{{1.5}} {{0x10}} {{-3}} {{1e6}} {{1_000}} {{true}} {{'A'}}"), "1.5 16 -3 1e+06 1000 true 65");
        assert_eq!(render(r#"{{"q\"x\u00e9\x41"}}"#), "q\"xéA");
        assert_eq!(render("{{`raw \\ text`}}"), "raw \\ text");
        assert_eq!(render("{{\"two\nlines\"}}"), "two\nlines");
    }

    #[test]
    fn json_function() {
        assert_eq!(render("{{json .Config.Labels}}"), r#"{"com.example.x":"y","tier":"front"}"#);
        assert_eq!(render("{{json .Names}}"), r#""web""#);
        assert_eq!(render("{{json .Missing}}"), "null");
        assert_eq!(render("{{json .Mounts}}"), r#"["data","logs"]"#);
        let t = Template::parse("{{json .}}").unwrap();
        assert_eq!(
            t.render(&json!({"b": "<&>", "a": 1.0, "c": 1e21, "d": 1e-7, "e": -0.5, "f": "\u{2028}\u{1}\t"})).unwrap(),
            r#"{"a":1,"b":"<&>","c":1e+21,"d":1e-7,"e":-0.5,"f":"\u2028\u0001\t"}"#
        );
    }

    #[test]
    fn docker_functions() {
        assert_eq!(render("{{upper .Names}} {{lower \"ABC\"}} {{title \"hello wOrld-foo_bar x.y\"}}"), "WEB abc Hello WOrld-Foo_bar X.Y");
        assert_eq!(render(r#"{{join .Mounts ", "}}"#), "data, logs");
        assert_eq!(render(r#"{{join (split .Labels ",") ";"}}"#), "com.docker.compose.project=shop;tier=front");
        assert_eq!(render(r#"{{join .Config.Labels "+"}}"#), "front+y");
        assert_eq!(render(r#"{{join .Missing "+"}}"#), "");
        assert_eq!(render(r#"{{split .Ports ":"}}"#), "[0.0.0.0 8080->80/tcp]");
        assert_eq!(render(r#"{{split "ab" ""}}"#), "[a b]");
        assert_eq!(render("{{truncate .ID 4}}|{{truncate .Names 10}}|{{truncate \"héllo\" 2}}"), "3f2a|web|h");
        assert_eq!(render("[{{pad .Names 2 1}}][{{pad \"\" 2 2}}]"), "[  web ][]");
        assert!(render_err("{{pad .Names -1 0}}").contains("negative Repeat count"));
        assert!(render_err("{{join .Names \",\"}}").contains("expected slice, got string"));
    }

    #[test]
    fn go_builtins() {
        assert_eq!(render("{{len .Mounts}} {{len .Names}} {{len .Config.Labels}}"), "2 3 2");
        assert_eq!(render(r#"{{index .Config.Labels "tier"}} {{index .Mounts 1}} {{index .Config "Env" 0}}"#), "front logs A=1");
        assert_eq!(render(r#"{{index .Config.Labels "nope"}}"#), "<no value>");
        assert_eq!(render("{{index .Names 0}}"), "119");
        assert_eq!(render("{{slice .Names 1}} {{slice .Mounts 0 1}} {{slice .Mounts}}"), "eb [data] [data logs]");
        assert_eq!(render(r#"{{print "a" 1 2 "b" .Running 3}}"#), "a1 2btrue 3");
        assert_eq!(render(r#"{{print .Missing}}"#), "<nil>");
        assert_eq!(render("{{println .Names .Size}}"), "web 12\n");
        assert_eq!(render(r#"{{or .Missing "default"}} {{and .Names .Image}} {{or 0 ""}}|{{not .Running}}"#), "default nginx:1.27 |false");
        assert_eq!(
            render(r#"{{eq .Names "db" "web"}} {{ne .Size 12}} {{lt 1 2.5}} {{ge "b" "a"}} {{eq .Missing nil}} {{eq .Nothing "x"}}"#),
            "true false true true true false"
        );
        assert!(render_err("{{lt .Names 1}}").contains("incompatible types for comparison"));
        assert!(render_err("{{eq .Mounts 1}}").contains("non-comparable"));
        assert!(render_err("{{index .Mounts 5}}").contains("index out of range: 5"));
        assert!(render_err("{{index .Missing 0}}").contains("index of untyped nil"));
        assert!(render_err("{{len .Size}}").contains("len of type int"));
        assert!(render_err("{{slice .Names 2 1}}").contains("invalid slice index"));
    }

    #[test]
    fn printf_verbs() {
        let cases = [
            (r#"{{printf "%-6s|%6s|" .Names .Names}}"#, "web   |   web|"),
            (r#"{{printf "%5d|%-4d|%05d|%+d" .Size 7 -42 3}}"#, "   12|7   |-0042|+3"),
            (r#"{{printf "%q %v %v" .Names .Running .Mounts}}"#, r#""web" true [data logs]"#),
            (r#"{{printf "%d" .Names}}"#, "%!d(string=web)"),
            (r#"{{printf "%s"}}"#, "%!s(MISSING)"),
            (r#"{{printf "%s" .Names .Size}}"#, "web%!(EXTRA int=12)"),
            (r#"{{printf "%.2f %e %g %g %G" .Ratio 1234.5678 0.00001 100000.0 1e-7}}"#, "1.50 1.234568e+03 1e-05 100000 1E-07"),
            (r#"{{printf "%08.3f|%6.2v|%.3g" -3.14159 3.14159 1000.0}}"#, "-003.142|   3.1|1e+03"),
            (r#"{{printf "%x %X %#x %o %#o %b %c %U %q" 255 255 255 8 8 5 65 65 65}}"#, "ff FF 0xff 10 010 101 A U+0041 'A'"),
            (r#"{{printf "%x" "hi"}} {{printf "%t" true}} {{printf "%%"}} {{printf "%s" nil}} {{printf "%v" .Missing}}"#, "6869 true % %!s(<nil>) <nil>"),
            (r#"{{printf "%q" "a\tb\"é\u0007"}}"#, r#""a\tb\"é\a""#),
            (r#"{{printf "%*d|%.*s" 4 7 2 "abc"}}"#, "   7|ab"),
            (r#"{{printf "%5.1s|" "xyz"}}"#, "    x|"),
            (r#"{{printf "%d" .Mounts}}"#, "[%!d(string=data) %!d(string=logs)]"),
            (r#"{{printf "%s" .Config.Labels}}"#, "map[com.example.x:y tier:front]"),
            (r#"{{printf "%d" 1.5}} {{printf "%z" 1}} {{printf "abc%"}}"#, "%!d(float64=1.5) %!z(int=1) abc%!(NOVERB)"),
            (r#"{{.Names | printf "%s!"}}"#, "web!"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template), want, "{template}");
        }
    }

    #[test]
    fn pipelines_and_parens() {
        assert_eq!(render("{{.Names | upper}}"), "WEB");
        assert_eq!(render("{{.Names | upper | printf \"<%s>\"}}"), "<WEB>");
        assert_eq!(render(r#"{{"," | join .Mounts}}"#), "data,logs");
        assert_eq!(render("{{(index .Config.Env 1)}} {{(.Config).Image}} {{len (split .Labels \",\")}}"), "B=2 nginx 2");
        assert_eq!(render(r#"{{(index .Config "Labels").tier}}"#), "front");
    }

    #[test]
    fn conditionals() {
        assert_eq!(render("{{if .Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(render("{{if .Missing}}a{{else if .Nothing}}b{{else if .Size}}c{{else}}d{{end}}"), "c");
        assert_eq!(render("{{if and .Running (gt .Size 10)}}big{{end}}"), "big");
        assert_eq!(render("{{if not .Running}}x{{end}}"), "");
        assert_eq!(render("{{if .Mounts}}has{{end}}{{if .Config.Missing}}no{{end}}{{if 0}}zero{{end}}{{if \"\"}}empty{{end}}"), "has");
        assert_eq!(render("{{with .Config}}{{.Image}}{{end}}"), "nginx");
        assert_eq!(render("{{with .Missing}}x{{else with .Size}}{{.}}{{end}}"), "12");
        assert_eq!(render("{{with .Missing}}x{{else}}none{{end}}"), "none");
        assert_eq!(render("{{if $x := .Names}}{{$x}}{{end}}"), "web");
    }

    #[test]
    fn ranges_and_variables() {
        assert_eq!(render("{{range .Mounts}}[{{.}}]{{end}}"), "[data][logs]");
        assert_eq!(render("{{range $i, $m := .Mounts}}{{$i}}={{$m}} {{end}}"), "0=data 1=logs ");
        assert_eq!(render("{{range $m := .Mounts}}{{$m}}{{end}}"), "datalogs");
        assert_eq!(render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}"), "com.example.x:y;tier:front;");
        assert_eq!(render("{{range .Missing}}x{{else}}empty{{end}}"), "empty");
        assert_eq!(render("{{range 3}}{{.}}{{end}}"), "012");
        assert_eq!(render(r#"{{range .Config.Env}}{{if eq . "B=2"}}{{break}}{{end}}{{.}}{{end}}"#), "A=1");
        assert_eq!(render(r#"{{range .Config.Env}}{{if eq . "A=1"}}{{continue}}{{end}}{{.}}{{end}}"#), "B=2");
        assert_eq!(render("{{range .Mounts}}{{range $.Config.Env}}{{break}}{{end}}{{.}}{{end}}"), "datalogs");
        assert_eq!(render("{{range .Mounts}}{{$.Names}}{{end}}"), "webweb");
        assert_eq!(render("{{$n := .Names}}{{$n}}-{{$n | upper}}"), "web-WEB");
        assert_eq!(render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}"), "2");
        assert!(render_err("{{range .Names}}{{end}}").contains("range can't iterate over web"));
    }

    #[test]
    fn docker_label_method() {
        assert_eq!(render(r#"{{.Label "tier"}}|{{.Label "com.docker.compose.project"}}|{{.Label "none"}}"#), "front|shop|");
        assert_eq!(render(r#"{{.Config.Label "com.example.x"}}"#), "y");
        let t = Template::parse(r#"{{.Label "a"}}"#).unwrap();
        assert_eq!(t.render(&json!({"Labels": {"a": "1"}})).unwrap(), "1");
        assert_eq!(t.render(&json!({})).unwrap(), "");
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(render("a  {{- .Names -}}  \n b"), "awebb");
        assert_eq!(render("a {{-  .Names}} b"), "aweb b");
        assert_eq!(render("x {{/* a comment */}} y"), "x  y");
        assert_eq!(render("x {{- /* gone */ -}} y"), "xy");
        assert_eq!(render("{{range .Mounts -}}\n  {{.}}\n{{- end}}"), "datalogs");
    }

    #[test]
    fn escaped_tabs_and_newlines() {
        assert_eq!(render(r"{{.Names}}\t{{.Size}}\n"), "web\t12\n");
        assert_eq!(render(r#"{{join .Mounts "\t"}}"#), "data\tlogs");
        assert_eq!(Template::parse(r"a\tb").unwrap().as_str(), "a\tb");
        assert_eq!(Template::parse(r"a\\tb").unwrap().as_str(), "a\\\tb");
    }

    #[test]
    fn format_parse() {
        assert_eq!(Format::parse("").unwrap(), Format::Table);
        assert_eq!(Format::parse("table").unwrap(), Format::Table);
        assert_eq!(Format::parse("table  ").unwrap(), Format::Table);
        assert_eq!(Format::parse("json").unwrap(), Format::Json);
        let template = |f: &str| match Format::parse(f).unwrap() {
            Format::Template { template, table } => (template.as_str().to_string(), table),
            other => panic!("{other:?}"),
        };
        assert_eq!(template(r"table {{.ID}}\t{{.Names}}"), ("{{.ID}}\t{{.Names}}".to_string(), true));
        assert_eq!(template("table{{.ID}}"), ("{{.ID}}".to_string(), true));
        assert_eq!(template("{{.ID}} "), ("{{.ID}}".to_string(), false));
        assert_eq!(template("   other\n   "), ("other\n".to_string(), false));
        assert_eq!(template(" json"), ("json".to_string(), false));
        assert_eq!(template("yaml"), ("yaml".to_string(), false));
        assert!(matches!("{{.ID}}".parse::<Format>(), Ok(Format::Template { table: false, .. })));
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("{{.Names", "at column 1: unclosed action; hint: close it with \"}}\""),
            ("ab {{foo .Names}}", "at column 6: unknown function \"foo\""),
            ("{{uper .Names}}", "did you mean \"upper\"?"),
            ("{{Names}}", "hint: fields start with a dot: {{.Names}}"),
            ("{{if .X}}a", "unclosed {{if}}; hint: add {{end}}"),
            ("{{range .X}}a{{else}}b", "unclosed {{range}}"),
            ("{{if .X}}{{else}}{{else}}{{end}}", "unexpected {{else}} after {{else}}"),
            ("{{end}}", "unexpected {{end}}"),
            ("{{else}}", "unexpected {{else}}"),
            ("{{.A..B}}", "unexpected \".\" in operand"),
            ("{{.A-B}}", "bad character U+002D '-' after \".A\"; hint: use {{index . \"key-name\"}}"),
            ("{{.A!}}", "bad character U+0021 '!'"),
            ("{{.Names | .Image}}", "non executable command in pipeline stage 2"),
            ("{{.Names .Image}}", "can't give argument to non-function \".Names\""),
            ("{{\"x\" 1}}", "can't give argument to non-function"),
            ("{{upper}}", "wrong number of args for upper: want 1 got 0"),
            ("{{join .Mounts}}", "wrong number of args for join: want 2 got 1"),
            ("{{.X | pad 1}}", "wrong number of args for pad: want 3 got 2"),
            ("{{printf}}", "want at least 1 got 0"),
            ("{{nil}}", "nil is not a command"),
            ("{{}}", "empty action"),
            ("{{ }}", "empty action"),
            ("{{$x}}", "undefined variable \"$x\""),
            ("{{$x = 1}}", "undefined variable \"$x\""),
            ("{{$a, $b := .X}}", "too many declarations"),
            ("{{break}}", "{{break}} outside {{range}}"),
            ("{{range .X}}{{end}}{{continue}}", "{{continue}} outside {{range}}"),
            ("{{define \"x\"}}{{end}}", "{{define}} is not supported"),
            ("{{html .X}}", "function \"html\" is not supported"),
            ("{{\"abc}}", "unterminated quoted string"),
            ("{{\"\\q\"}}", "invalid escape \"\\q\""),
            ("{{(upper .Names}}", "unclosed left paren"),
            ("{{.Names)}}", "unexpected right paren"),
            ("{{-.Names}}", "bad number syntax: \"-.Names\"; hint: a trim marker needs a space"),
            ("{{12ab}}", "bad number syntax: \"12ab\""),
            ("{{.Names}} {{.A}", "unexpected \"}\" in action"),
            ("{{.A {{.B}}", "unexpected \"{\" in action"),
            ("{{/* x }}", "unclosed comment"),
            ("{{/* x */ .A}}", "comment ends before closing delimiter"),
            ("{{\"a\".B}}", "unexpected .B after a value that has no fields"),
            ("{{if}}{{end}}", "missing value for {{if}}"),
            ("{{.A | }}", "missing value for command"),
            ("{{.A := 1}}", "unexpected \":=\""),
            ("{{end 1}}", "unexpected"),
            ("{{with .A}}{{else if .B}}{{end}}", "unexpected \"if\" after else"),
            ("{{99999999999999999999999}}", "number out of range"),
        ];
        for (template, want) in cases {
            let err = parse_err(template);
            assert!(err.contains(want), "{template}: {err}");
            assert!(err.starts_with("template parsing error at "), "{err}");
        }
    }

    #[test]
    fn error_positions() {
        let err = Format::parse(r"table {{.ID}}\t{{foo}}").unwrap_err();
        assert_eq!(err, FormatError::Parse { at: Position { line: 1, column: 18 }, message: unknown_function("foo") });
        let err = Template::parse("a\nb {{.X").unwrap_err();
        assert!(err.to_string().starts_with("template parsing error at line 2, column 3: unclosed action"), "{err}");
        let err = Template::parse(r"\t\t{{.Names.First}}").unwrap().render(&row()).unwrap_err();
        assert_eq!(err.to_string(), "template error at column 7, <.Names.First>: can't evaluate field First in type string; hint: .Names is not an object");
    }

    #[test]
    fn render_errors() {
        assert!(render_err("{{.Size.X}}").contains("can't evaluate field X in type int"));
        assert!(render_err("{{.Mounts.X}}").contains("can't evaluate field X in type []interface {}"));
        assert!(render_err("{{upper .Size}}").contains("error calling upper: wrong type for value; expected string; got int"));
        assert!(render_err("{{upper .Missing}}").contains("invalid value; expected string"));
        assert!(render_err("{{truncate .Names 1.5}}").contains("expected int; got float64"));
        assert_eq!(render("{{truncate .Names 2.0}}"), "we");
        assert!(render_err("{{.Names | join \",\"}}").contains("expected slice, got string"));
        assert_eq!(
            render_err("{{printf \"%s\" (upper 1)}}"),
            "template error at column 16, <upper 1>: error calling upper: wrong type for value; expected string; got int"
        );
        assert!(render_err("{{range 10000000}}{{end}}").contains("too long"));
        assert!(render_err("{{range 1000}}{{range 1000}}{{range 10}}{{end}}{{end}}{{end}}").contains("too long"));
    }

    #[test]
    fn json_rows() {
        let rows = [json!({"Names": "web", "ID": "1", "Labels": {"z": 1, "a": null}}), json!({"Names": "db", "Size": 2.0})];
        assert_eq!(rows_with("json", &rows), "{\"ID\":\"1\",\"Labels\":{\"a\":null,\"z\":1},\"Names\":\"web\"}\n{\"Names\":\"db\",\"Size\":2}\n");
        assert_eq!(rows_with("{{json .}}", &rows[1..]), "{\"Names\":\"db\",\"Size\":2}\n");
        assert_eq!(rows_with("json", &[]), "");
    }

    #[test]
    fn plain_templates_and_default_table() {
        let rows = [json!({"Names": "web"}), json!({"Names": "db"})];
        assert_eq!(rows_with(r"{{.Names}}\t|", &rows), "web\t|\ndb\t|\n");
        assert_eq!(rows_with("{{if eq .Names \"db\"}}{{.Names}}{{end}}", &rows), "\ndb\n");
        assert_eq!(render_rows(&Format::Table, &headers, &rows).unwrap(), None);
    }

    #[test]
    fn tables_match_docker() {
        // docker/cli cli/command/formatter/container_test.go, default `docker ps` table.
        let ps = r"table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
        let row = |id: &str, name: &str| json!({"ID": id, "Image": "ubuntu", "Command": "\"\"", "RunningFor": "24 hours ago", "Status": "", "Ports": "", "Names": name});
        assert_eq!(
            rows_with(ps, &[row("containerID1", "foobar_baz"), row("containerID2", "foobar_bar")]),
            "CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES\n\
             containerID1   ubuntu    \"\"        24 hours ago                       foobar_baz\n\
             containerID2   ubuntu    \"\"        24 hours ago                       foobar_bar\n"
        );
        assert_eq!(rows_with(r"table {{.Image}}\t{{.Size}}", &[]), "IMAGE     SIZE\n");
        assert_eq!(rows_with("table {{.Image}}", &[]), "IMAGE\n");
        assert_eq!(rows_with("table {{.State}}", &[json!({"State": "running"}), json!({"State": "running"})]), "STATE\nrunning\nrunning\n");
    }

    #[test]
    fn table_alignment() {
        let rows =
            [json!({"Names": "a-very-long-name", "Size": 1, "LocalVolumes": "0"}), json!({"Names": "日本語", "Size": 123456789012_i64, "LocalVolumes": "2"})];
        assert_eq!(
            rows_with(r"table {{.Names}}\t{{.Size}}\t{{.LocalVolumes}}", &rows),
            "NAMES              SIZE           LOCAL VOLUMES\n\
             a-very-long-name   1              0\n\
             日本語             123456789012   2\n"
        );
        // A trailing tab pads the last column too; literal text stays in the header.
        assert_eq!(rows_with(r"table x={{.Names}}\t", &rows[..1]), "x=NAMES              \nx=a-very-long-name   \n");
        // A line with fewer cells ends the column block (Go's elastic tabstops).
        assert_eq!(tabwrite("a\tb\nccc\nlonger-than-ten\tc\n"), "a         b\nccc\nlonger-than-ten   c\n");
        assert_eq!(tabwrite("a\tb\x0clonger-than-ten\tc\n"), "a         b\nlonger-than-ten   c\n");
    }

    #[test]
    fn table_headers() {
        let rows = [json!({"Names": "web", "Image": "nginx", "Labels": "com.docker.compose.project=shop", "Size": 5})];
        let out = rows_with(
            r#"table {{upper .Names}}\t{{pad .Image 1 1}}\t{{.Label "com.docker.compose.project"}}\t{{printf "%-8s" "x"}}|{{truncate .Names 1}}"#,
            &rows,
        );
        assert_eq!(out, "NAMES      IMAGE    project   x       |NAMES\nWEB        nginx    shop      x       |w\n");
        let out = rows_with(r#"table {{json .Names}}\t{{index .Config "Labels" "a.b-c"}}\t{{.RunningFor}}\t{{if .Size}}{{.Size}}{{end}}"#, &[]);
        assert!(out.starts_with("NAMES     b c       CREATED   SIZE\n"), "{out}");
        // Errors in the header blank the action instead of failing the command.
        let out = rows_with(r#"table {{len 1}}|{{.Names}}"#, &[]);
        assert_eq!(out, "|NAMES\n");
    }

    #[test]
    fn default_headers() {
        let cases = [("RunningFor", "RUNNING FOR"), ("ID", "ID"), ("CreatedAt", "CREATED AT"), ("LocalVolumes", "LOCAL VOLUMES"), ("HTTPPort", "HTTP PORT")];
        for (field, want) in cases {
            assert_eq!(default_header(field), want);
        }
        assert_eq!(default_header("IPv6"), "IPV6");
        assert_eq!(default_header("Config.Image"), "IMAGE");
        assert_eq!(default_header("host_ip"), "HOST IP");
        assert_eq!(default_header("Ipv6Address"), "IPV6 ADDRESS");
    }

    #[test]
    fn float_formatting() {
        let g = |f: f64| go_number(&Number::from_f64(f).unwrap());
        assert_eq!(g(0.0), "0");
        assert_eq!(g(100000.0), "100000");
        assert_eq!(g(1e6), "1e+06");
        assert_eq!(g(123456789.0), "1.23456789e+08");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(-2.5), "-2.5");
        assert_eq!(g(1e100), "1e+100");
    }

    /// A small linear congruential generator (no rand crate).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize
        }
    }

    #[test]
    fn garbage_never_panics() {
        const PIECES: &[&str] = &[
            "{{",
            "}}",
            "{{- ",
            " -}}",
            "{{-",
            "-}}",
            " ",
            ".",
            ".Names",
            ".Config",
            ".Image",
            ".Mounts",
            ".X",
            "$",
            "$x",
            "$y",
            ":=",
            "=",
            "|",
            "(",
            ")",
            "\"s\"",
            "\"%d%s%v%-5q%*d%.*f%\"",
            "`r`",
            "'c'",
            "'",
            "\"",
            "1",
            "-2",
            "3.5",
            "0x1f",
            "1e3",
            "if ",
            "else ",
            "end",
            "range ",
            "with ",
            "break",
            "continue",
            "upper ",
            "json ",
            "printf ",
            "index ",
            "slice ",
            "len ",
            "pad ",
            "truncate ",
            "split ",
            "join ",
            "eq ",
            "lt ",
            "and ",
            "or ",
            "not ",
            "print ",
            "println ",
            "title ",
            ",",
            "/*",
            "*/",
            "\\t",
            "\\n",
            "\t",
            "\n",
            "é",
            "日",
            "{",
            "}",
            "nil",
            "true",
            "Label ",
            "table ",
            "\\",
            "\x0c",
            "%",
            "define",
        ];
        let mut rng = Lcg(0x5eed);
        let data = row();
        let rows = [data.clone(), json!({"Names": 5, "Mounts": "x"}), Value::Null, json!([1, 2])];
        let mut parsed = 0;
        for round in 0..6000_usize {
            let mut text = String::new();
            let pieces = 1 + rng.next() % 24;
            for _ in 0..pieces {
                if rng.next().is_multiple_of(9) {
                    text.push(char::from_u32((rng.next() % 0x7f) as u32).unwrap_or('?'));
                } else {
                    text.push_str(PIECES[rng.next() % PIECES.len()]);
                }
            }
            if round.is_multiple_of(3) {
                text = format!("{{{{{text}}}}}");
            }
            if let Ok(format) = Format::parse(&text) {
                parsed += 1;
                let _ = render_rows(&format, &headers, &rows);
            }
            let _ = Template::parse(&text).map(|t| t.render(&data));
            let args = [json!(1), json!("s"), json!(-2.5), json!(null), json!([1, "a"]), json!({"k": true})];
            let _ = sprintf(&text, &args[rng.next() % 3..]);
            let _ = tabwrite(&text);
        }
        assert!(parsed > 500, "only {parsed} templates parsed");
    }
}
