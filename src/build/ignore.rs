//! `.dockerignore` parsing and matching with Docker's semantics, which are not gitignore's.
//!
//! Spec followed: moby/patternmatcher (`New`, `MatchesOrParentMatches`, the glob-to-regexp
//! translation) and moby/patternmatcher/ignorefile (`ReadAll`) as BuildKit uses them, plus
//! BuildKit's choice of ignore file (`frontend/dockerui`) and fsutil's directory skipping.
//!
//! File format (`ReadAll`): one pattern a line; a UTF-8 BOM is dropped; a line whose first
//! character is `#` is a comment (`  # x` is a pattern); lines are trimmed and empty ones
//! skipped; `!` starts an exception; each pattern is cleaned like Go's `filepath.Clean` and one
//! leading `/` removed, so every pattern is anchored at the context root (`*.md` matches
//! `README.md`, not `docs/x.md`; use `**/*.md` for both).
//!
//! Matching: `*` is any run of characters but `/`, `?` one character but `/`, `**` any number of
//! directories (`**/` also none), `[a-z]`/`[^a-z]` classes (only `^` negates; `[!a]` is `!` or
//! `a`, as in Go), `\` escapes the next character. A pattern matching a path or any of its parent
//! directories matches the path, and the last matching pattern decides. Docker's fast paths are
//! kept, quirks included: `**` followed only by plain text matches by suffix (`**.txt`,
//! `**/foo/bar`; `**file` also matches `myfile`), text followed by `**` by prefix (`dir**`).
//!
//! Docker hands the translated pattern to Go's regexp; where that gives a meaning no glob reader
//! would expect, parsing fails instead of guessing: `\` before a letter, digit or non-ASCII
//! character (`\d` is a digit class there, `\b` a word boundary), `*` or `?` inside `[...]`, and
//! in patterns with wildcards `|` (alternation, unanchored: `*.md|*.txt` matches `a/b.txt` and
//! `x.mdx/y` in Docker) and `{n}` / `{n,m}` (repetition; `*.{js,ts}` stays literal text, as in
//! Docker). What Go's regexp rejects
//! (`[z-a]`, `[[:nope:]]`) fails too, at parse time, where Docker fails on first use while walking
//! (or never, for an exception it never evaluates). POSIX classes (`[[:digit:]]`) work, and `^`
//! outside a class is Go's start-of-text anchor in patterns with wildcards, as in Docker.
//!
//! Checked against the Go code itself: the tests hold facts recorded from patternmatcher on
//! random ignore files, besides its own test tables.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `.dockerignore` line that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// Displays as: file line N: invalid pattern `text`: reason.
    #[error("{file} line {line}: invalid pattern `{pattern}`: {reason}")]
    BadPattern {
        /// The ignore file's name as given to [`IgnoreRules::parse`].
        file: String,
        /// 1-based line number in the file.
        line: usize,
        /// The line as written, trimmed.
        pattern: String,
        /// What is wrong, with a hint where one helps.
        reason: String,
    },
}

/// One pattern line of a `.dockerignore`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The line as written, trimmed, with its `!` if any (e.g. `!docs/README.md`).
    pub text: String,
    /// 1-based line number in the ignore file.
    pub line: usize,
    /// True for `!` lines, which re-include what earlier lines excluded.
    pub exception: bool,
    cleaned: String,
    kind: Kind,
}

/// How a pattern matches, after patternmatcher's `compile`.
#[derive(Debug, Clone)]
enum Kind {
    /// The path equals the cleaned pattern.
    Exact,
    /// The path starts with the pattern minus its trailing `**`.
    Prefix,
    /// The path ends with the pattern minus its leading `**` (or equals it minus `**/`).
    Suffix,
    /// The pattern's regular expression, as an NFA.
    Nfa(Vec<State>),
}

/// NFA states; state `i` moves to `i + 1` unless said otherwise, `len` accepts.
#[derive(Debug, Clone)]
enum State {
    Char(char),
    /// `?`: one character but `/`.
    NotSlash,
    Class(Box<Class>),
    /// `*`: loops on characters but `/`, or moves on without reading.
    StarNotSlash,
    /// The `.*` of `**`: loops on characters but `\n` (Go's `.`), or moves on.
    StarNotNewline,
    /// `^` outside a class: moves on only at the start of the text.
    Anchor,
    /// Moves on to `i + 1` and to the target without reading (the `?` of `(.*/)?`).
    Split(usize),
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

#[derive(Debug, Clone)]
enum ClassItem {
    Range(char, char),
    /// `[:name:]`, negated for `[:^name:]`.
    Posix(fn(char) -> bool, bool),
}

impl Class {
    fn contains(&self, c: char) -> bool {
        let hit = self.items.iter().any(|item| match *item {
            ClassItem::Range(lo, hi) => lo <= c && c <= hi,
            ClassItem::Posix(test, negated) => test(c) != negated,
        });
        hit != self.negated
    }
}

impl Pattern {
    /// The pattern as matched: cleaned, without `!` or a leading `/`.
    pub fn pattern(&self) -> &str {
        &self.cleaned
    }

    /// Whether `path` itself matches (patternmatcher's `Pattern.match`).
    fn matches(&self, path: &str) -> bool {
        let p = self.cleaned.as_str();
        match &self.kind {
            Kind::Exact => path == p,
            Kind::Prefix => path.starts_with(&p[..p.len() - 2]),
            Kind::Suffix => {
                let suffix = &p[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Nfa(states) => run_nfa(states, path, false),
        }
    }

    /// Whether `path` or one of its parent directories matches (`MatchesOrParentMatches`).
    fn matches_or_parent(&self, path: &str) -> bool {
        self.matches(path) || path.match_indices('/').any(|(i, _)| self.matches(&path[..i]))
    }

    /// Whether some path strictly below `dir` could match; may answer true wrongly, never false.
    fn could_match_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        let p = self.cleaned.as_str();
        match &self.kind {
            Kind::Exact => p.len() > dir_slash.len() && p.starts_with(&dir_slash),
            Kind::Prefix => {
                let prefix = &p[..p.len() - 2];
                prefix.starts_with(&dir_slash) || dir_slash.starts_with(prefix)
            }
            Kind::Suffix => true,
            Kind::Nfa(states) => run_nfa(states, &dir_slash, true),
        }
    }
}

impl fmt::Display for Pattern {
    /// `line N: `text``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: `{}`", self.line, self.text)
    }
}

/// The parsed rules of one ignore file, in file order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
    source: String,
}

impl IgnoreRules {
    /// Parses a `.dockerignore` text; `source` names the file in errors.
    ///
    /// Errors: [`IgnoreError::BadPattern`] for the first unusable line (a lone `!`, an
    /// unterminated `[`, a trailing `\`, see the module docs), naming the line and its text.
    pub fn parse(text: &str, source: &str) -> Result<IgnoreRules, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let bad =
                |reason: &str| IgnoreError::BadPattern { file: source.to_string(), line: index + 1, pattern: trimmed.to_string(), reason: reason.to_string() };
            // ignorefile.ReadAll: clean the part after `!`, drop one leading `/`.
            let (invert, body) = match trimmed.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, trimmed),
            };
            let mut body = if body.is_empty() { String::new() } else { clean(body) };
            if body.len() > 1 && body.starts_with('/') {
                body.remove(0);
            }
            // patternmatcher.New trims and cleans again, `!` included: `/ a` is `a`, `!../..` is `.`.
            let joined = if invert { format!("!{body}") } else { body };
            if joined.trim().is_empty() {
                continue;
            }
            let cleaned = clean(joined.trim());
            let (exception, cleaned) = match cleaned.strip_prefix('!') {
                Some("") => return Err(bad("a lone `!` names nothing to re-include")),
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            check_glob_syntax(&cleaned).map_err(bad)?;
            let kind = compile(&cleaned).map_err(|reason| bad(&reason))?;
            patterns.push(Pattern { text: trimmed.to_string(), cleaned, exception, line: index + 1, kind });
        }
        Ok(IgnoreRules { patterns, source: source.to_string() })
    }

    /// No patterns: nothing is excluded.
    pub fn empty() -> IgnoreRules {
        IgnoreRules::default()
    }

    /// The file name given to [`IgnoreRules::parse`] (empty for [`IgnoreRules::empty`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// All patterns in file order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// `path`: slash-separated, relative to the context root, clean, no leading `./`.
    /// `Some(rule)`: excluded, `rule` being the last matching pattern (for messages like
    /// "excluded by .dockerignore line 3: `*.md`"); `None`: included. The root (`""` or `.`) is
    /// never excluded. Allocates nothing unless a pattern is over 255 characters long.
    pub fn excluded_by(&self, path: &str) -> Option<&Pattern> {
        if path.is_empty() || path == "." {
            return None;
        }
        let last = self.patterns.iter().rev().find(|p| p.matches_or_parent(path))?;
        (!last.exception).then_some(last)
    }

    /// Whether `path` is left out of the build context (see [`IgnoreRules::excluded_by`]).
    pub fn is_excluded(&self, path: &str) -> bool {
        self.excluded_by(path).is_some()
    }

    /// While walking: true when `dir` is excluded and no exception can re-include anything
    /// below it, so the walker may skip it entirely. False otherwise, including for included
    /// directories. When an excluded directory cannot be skipped, the walker descends, checks
    /// each entry and, like BuildKit, recreates the parent directories of what it keeps.
    ///
    /// Sound, and sharper than fsutil's test (which never skips once any exception has a
    /// wildcard): only exceptions after the last pattern excluding `dir` count, and those with
    /// wildcards are run against `dir/` to see whether they could match below it.
    pub fn can_skip_dir(&self, dir: &str) -> bool {
        if dir.is_empty() || dir == "." {
            return false;
        }
        match self.patterns.iter().rposition(|p| p.matches_or_parent(dir)) {
            Some(last) if !self.patterns[last].exception => !self.patterns[last + 1..].iter().any(|p| p.exception && p.could_match_below(dir)),
            _ => false,
        }
    }

    /// Whether any `!` exception line exists.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

/// The ignore file BuildKit applies, if any: `<Dockerfile>.dockerignore` beside the Dockerfile
/// (e.g. `Dockerfile.backend.dockerignore`) takes precedence over `<context>/.dockerignore`.
/// A relative `dockerfile` is taken from `context`, as compose does.
pub fn ignore_file_for(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let dockerfile = context.join(dockerfile);
    if let Some(name) = dockerfile.file_name() {
        let mut name = name.to_os_string();
        name.push(".dockerignore");
        let specific = dockerfile.with_file_name(name);
        if specific.is_file() {
            return Some(specific);
        }
    }
    let default = context.join(".dockerignore");
    default.is_file().then_some(default)
}

/// Go's `filepath.Clean` for `/`: collapse `//`, drop `.`, resolve `..` lexically, no trailing
/// `/`; `.` for nothing.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The syntax check patternmatcher gets from Go's `filepath.Match(pattern, ".")`.
fn check_glob_syntax(pattern: &str) -> Result<(), &'static str> {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return Err("trailing `\\` escapes nothing"),
            '[' => {
                chars.next_if_eq(&'^');
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chars.next_if_eq(&']').is_some() {
                        break;
                    }
                    // Each range is `c` or `lo-hi`, where `-` and `]` must be escaped.
                    for end in 0..2 {
                        match chars.next() {
                            None => return Err("unterminated `[`"),
                            Some('-' | ']') => return Err("`-` or `]` where a character was expected in `[...]`; escape it with `\\`"),
                            Some('\\') if chars.next().is_none() => return Err("unterminated `[`"),
                            Some(_) => {}
                        }
                        if chars.peek().is_none() {
                            return Err("unterminated `[`");
                        }
                        if end == 1 || chars.next_if_eq(&'-').is_none() {
                            break;
                        }
                    }
                    ranges += 1;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// patternmatcher's `compile`: picks the match kind and translates the pattern as Go's regexp
/// would read the regular expression patternmatcher builds.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum Type {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut kind = Type::Exact;
    let mut states = Vec::new();
    let mut first = true;
    // Go's regexp reads these two unescaped; they only matter once the pattern is a regexp.
    let mut regexp_only = None;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i < chars.len() {
                    // `(.*/)?`
                    states.push(State::Split(states.len() + 3));
                    states.extend([State::StarNotNewline, State::Char('/')]);
                    kind = Type::Regex;
                } else if kind == Type::Exact {
                    kind = Type::Prefix;
                } else {
                    states.push(State::StarNotNewline);
                    kind = Type::Regex;
                }
                if first {
                    kind = Type::Suffix;
                }
            }
            '*' | '?' => {
                states.push(if c == '*' { State::StarNotSlash } else { State::NotSlash });
                kind = Type::Regex;
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    states.push(State::Char(escaped(next)?));
                    kind = Type::Regex;
                }
                None => states.push(State::Char('\\')),
            },
            '[' => {
                states.push(State::Class(Box::new(parse_class(&chars, &mut i)?)));
                kind = Type::Regex;
            }
            ']' => {
                states.push(State::Char(']'));
                kind = Type::Regex;
            }
            '^' => states.push(State::Anchor),
            '|' => {
                regexp_only.get_or_insert("`|` is regular-expression alternation in Docker once a pattern has wildcards; write `\\|`");
                states.push(State::Char(c));
            }
            '{' if is_repetition(&chars[i..]) => {
                regexp_only.get_or_insert("`{n}` / `{n,m}` is regular-expression repetition in Docker once a pattern has wildcards; write `\\{`");
                states.push(State::Char(c));
            }
            _ => states.push(State::Char(c)),
        }
        first = false;
    }
    if let (Type::Regex, Some(reason)) = (&kind, regexp_only) {
        return Err(reason.to_string());
    }
    Ok(match kind {
        Type::Exact => Kind::Exact,
        Type::Prefix => Kind::Prefix,
        Type::Suffix => Kind::Suffix,
        Type::Regex => Kind::Nfa(states),
    })
}

/// Whether `rest` (after a `{`) reads as Go's `n}`, `n,}` or `n,m}`.
fn is_repetition(rest: &[char]) -> bool {
    let digits = |s: &[char]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let min = digits(rest);
    let after = &rest[min..];
    match after {
        _ if min == 0 => false,
        ['}', ..] | [',', '}', ..] => true,
        [',', tail @ ..] => {
            let max = digits(tail);
            max > 0 && tail.get(max) == Some(&'}')
        }
        _ => false,
    }
}

/// The character `\c` stands for in Go's regexp, where only punctuation escapes to itself.
fn escaped(c: char) -> Result<char, String> {
    if c.is_ascii() && !c.is_ascii_alphanumeric() {
        Ok(c)
    } else {
        Err(format!("`\\{c}` is a regular-expression escape in Docker, not a literal `{c}`; drop the `\\`"))
    }
}

/// A class after its `[`, read as Go's regexp reads it; `i` ends after the closing `]`.
fn parse_class(chars: &[char], i: &mut usize) -> Result<Class, String> {
    let unterminated = || "unterminated `[`".to_string();
    let negated = chars.get(*i) == Some(&'^');
    *i += usize::from(negated);
    let mut items = Vec::new();
    loop {
        match chars.get(*i) {
            None => return Err(unterminated()),
            Some(']') if !items.is_empty() => {
                *i += 1;
                return Ok(Class { negated, items });
            }
            Some('[') if chars.get(*i + 1) == Some(&':') => {
                // Go looks for the closing `:]` anywhere further on.
                let rest = &chars[*i + 2..];
                if let Some(len) = rest.windows(2).position(|w| w == [':', ']']) {
                    let name: String = rest[..len].iter().collect();
                    let (negate, bare) = match name.strip_prefix('^') {
                        Some(bare) => (true, bare),
                        None => (false, name.as_str()),
                    };
                    let test = posix_class(bare).ok_or_else(|| format!("unknown character class `[:{name}:]`"))?;
                    items.push(ClassItem::Posix(test, negate));
                    *i += len + 4;
                    continue;
                }
            }
            _ => {}
        }
        let lo = class_char(chars, i)?;
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') && chars.get(*i + 1).is_some_and(|&c| c != ']') {
            *i += 1;
            hi = class_char(chars, i)?;
            if hi < lo {
                return Err(format!("range `{lo}-{hi}` runs backwards"));
            }
        }
        items.push(ClassItem::Range(lo, hi));
    }
}

fn class_char(chars: &[char], i: &mut usize) -> Result<char, String> {
    let c = *chars.get(*i).ok_or("unterminated `[`")?;
    *i += 1;
    match c {
        '*' | '?' => Err(format!("`{c}` inside `[...]` breaks Docker's translation of the pattern; move it out of the class")),
        '\\' => {
            let next = *chars.get(*i).ok_or("unterminated `[`")?;
            *i += 1;
            escaped(next)
        }
        _ => Ok(c),
    }
}

/// Go's POSIX classes, ASCII only.
fn posix_class(name: &str) -> Option<fn(char) -> bool> {
    Some(match name {
        "alnum" => |c: char| c.is_ascii_alphanumeric(),
        "alpha" => |c: char| c.is_ascii_alphabetic(),
        "ascii" => |c: char| c.is_ascii(),
        "blank" => |c: char| c == ' ' || c == '\t',
        "cntrl" => |c: char| c.is_ascii_control(),
        "digit" => |c: char| c.is_ascii_digit(),
        "graph" => |c: char| c.is_ascii_graphic(),
        "lower" => |c: char| c.is_ascii_lowercase(),
        "print" => |c: char| c.is_ascii_graphic() || c == ' ',
        "punct" => |c: char| c.is_ascii_punctuation(),
        "space" => |c: char| matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' '),
        "upper" => |c: char| c.is_ascii_uppercase(),
        "word" => |c: char| c.is_ascii_alphanumeric() || c == '_',
        "xdigit" => |c: char| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// Runs the NFA over all of `text`. `partial`: true when some state is still alive at the end,
/// i.e. some continuation of `text` might match (anchors and empty classes aside).
fn run_nfa(states: &[State], text: &str, partial: bool) -> bool {
    let words = (states.len() + 1).div_ceil(64);
    let mut inline = [0u64; 8];
    let mut heap = Vec::new();
    let (mut current, mut next) = if words <= 4 {
        let (a, b) = inline.split_at_mut(4);
        (&mut a[..words], &mut b[..words])
    } else {
        heap.resize(2 * words, 0);
        heap.split_at_mut(words)
    };
    current[0] = 1;
    close(states, current, true);
    for c in text.chars() {
        next.fill(0);
        let mut alive = false;
        for (w, &word) in current.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let s = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                alive = true;
                let target = match states.get(s) {
                    Some(State::Char(want)) if *want == c => s + 1,
                    Some(State::NotSlash) if c != '/' => s + 1,
                    Some(State::Class(class)) if class.contains(c) => s + 1,
                    Some(State::StarNotSlash) if c != '/' => s,
                    Some(State::StarNotNewline) if c != '\n' => s,
                    _ => continue,
                };
                next[target / 64] |= 1 << (target % 64);
            }
        }
        if !alive {
            return false;
        }
        close(states, next, false);
        std::mem::swap(&mut current, &mut next);
    }
    let accept = states.len();
    if partial { current.iter().any(|&w| w != 0) } else { current[accept / 64] & (1 << (accept % 64)) != 0 }
}

/// Adds the states reachable without reading; every such move goes forward.
fn close(states: &[State], set: &mut [u64], at_start: bool) {
    let add = |set: &mut [u64], s: usize| set[s / 64] |= 1 << (s % 64);
    for (s, state) in states.iter().enumerate() {
        if set[s / 64] & (1 << (s % 64)) == 0 {
            continue;
        }
        match state {
            State::StarNotSlash | State::StarNotNewline => add(set, s + 1),
            State::Anchor if at_start => add(set, s + 1),
            State::Split(target) => {
                add(set, s + 1);
                add(set, *target);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "ignore/tests.rs"]
mod tests;
