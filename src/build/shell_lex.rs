//! Dockerfile variable expansion, as BuildKit's shell lexer does it.
//!
//! Spec followed: moby/buildkit `frontend/dockerfile/shell/lex.go` (`ProcessWord`, `ProcessWords`,
//! `ProcessWordWithMatches`) and, for [`split_name_values`], `frontend/dockerfile/parser/line_parsers.go`
//! (`parseWords`, `parseNameVal`, `parseNameOrNameVal`) plus `instructions/parse.go` (`parseKvps`, `parseArg`).
//! The behaviour is checked against BuildKit's own test tables (`envVarTest`, `wordsTest`, `lex_test.go`).
//!
//! What a word may contain:
//! - `'...'`: literal, no escapes, no expansion; `"..."`: expansion, and the escape character escapes only
//!   `"`, `$` and itself (otherwise it stays literal); outside quotes the escape character makes the next
//!   character literal and a trailing escape character is dropped.
//! - `$name` / `${name}`: a name is letters, digits and `_`; a leading digit run (`$12`) or one special
//!   character of `@*#?-$!0` is a complete (normally unset) name. `$` before anything else stays literal.
//!   Unset variables expand to nothing.
//! - `${n-w}` / `${n:-w}` (default when unset / unset or empty), `${n+w}` / `${n:+w}` (alternative),
//!   `${n?w}` / `${n:?w}` (error `n: w`), `${n#p}` `${n##p}` `${n%p}` `${n%%p}` (shortest/longest prefix or
//!   suffix removal), `${n/p/r}` `${n//p/r}` (first/all replacement). `w`, `p` and `r` are words themselves
//!   (nested expansion, quotes). Patterns know `*`, `?` and `\*` `\?` `\\` (`\}` `\/` for the delimiters);
//!   wildcards do not match a newline. `${n:=w}`, `${n:#p}` and other modifiers are errors.
//!
//! Known BuildKit quirks kept on purpose, so that `rde build` agrees with `docker build`:
//! [`Lexer::expand_words`] forgets the text of the current word that precedes a `${n<op>w}` expansion (BuildKit
//! shares one buffer between nested words: `a${X:-b}c` splits to `["bc"]`), and `${n//p/r}` applies Go's
//! `regexp` template rules to `r` (`$0` is the match, `$$` is `$`, other `$name`s are empty).
//! Deliberate differences: error messages carry the character position, and letters/digits in names are
//! Rust's `is_alphabetic`/`is_numeric`, a superset of Go's `unicode.IsLetter`/`IsDigit` for exotic scripts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

/// Expansion environment: looked up by name. BuildKit's lookup order (build args, ENV, ...) is the caller's concern.
pub trait Env {
    /// The value of `name`, or `None` when it is unset (set-but-empty is `Some("")`).
    fn get(&self, name: &str) -> Option<String>;
}

impl<S: BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// `(name, value)` pairs; the last pair with the name wins, as in a process environment.
impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// A reference to an environment, so that `&&[(String, String)]` can be a `&dyn Env`.
impl<E: Env + ?Sized> Env for &E {
    fn get(&self, name: &str) -> Option<String> {
        (**self).get(name)
    }
}

/// Like the slice: the last pair with the name wins.
impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<String> {
        Env::get(self.as_slice(), name)
    }
}

/// Why a word (or an ENV/LABEL/ARG argument list) cannot be processed. `col` is the 1-based character
/// position in `word` of the quote or `$` that opened the faulty construct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A `'` or `"` without its closing quote.
    #[error("failed to process {word:?}: unexpected end of statement while looking for matching {} opened at character {col}", quote_name(*.quote))]
    UnterminatedQuote { word: String, quote: char, col: usize },
    /// A `${` without its `}` (also reported for any error inside it that runs into the end of the word).
    #[error("failed to process {word:?}: syntax error: missing '}}' for the '${{' at character {col}")]
    MissingBrace { word: String, col: usize },
    /// `${name/pattern` without the `/` that starts the replacement.
    #[error("failed to process {word:?}: syntax error: missing '/' in the '${{' at character {col}")]
    MissingSlash { word: String, col: usize },
    /// `${}`, `${{...` or `${:...`.
    #[error("failed to process {word:?}: syntax error: bad substitution at character {col}")]
    BadSubstitution { word: String, col: usize },
    /// `${name` followed by anything but `}`, `-`, `+`, `?`, `#`, `%`, `/` or `:-`, `:+`, `:?` (e.g. `${a:=b}`).
    #[error("failed to process {word:?}: unsupported modifier ({modifier}) in substitution at character {col}")]
    UnsupportedModifier { word: String, modifier: String, col: usize },
    /// A `#`/`%`/`/` pattern with a `\` before something other than `*`, `?`, `\`, `}` or `/`.
    #[error("failed to process {word:?}: invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern { word: String, pattern: String, reason: String },
    /// `${name?message}` / `${name:?message}` on an unset (or empty) variable.
    #[error("failed to process {word:?}: {name}: {message}")]
    Required { word: String, name: String, message: String },
    /// [`split_name_values`] got no words.
    #[error("requires at least one argument")]
    NoArguments,
    /// ENV/LABEL legacy form with a name and no value (`ENV foo`).
    #[error("{name:?} has no value: use NAME=VALUE (or the legacy NAME VALUE form)")]
    MissingValue { name: String },
    /// ENV/LABEL `NAME=VALUE` form with a word lacking `=`.
    #[error("syntax error - can't find = in {word:?}; must be of the form: name=value")]
    MissingEquals { word: String },
    /// A word starting with `=`.
    #[error("names can not be blank: {word:?}")]
    BlankName { word: String },
}

fn quote_name(quote: char) -> &'static str {
    if quote == '"' { "double-quote" } else { "single-quote" }
}

/// A word after expansion, with the variables it looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    /// The expanded word.
    pub value: String,
    /// Referenced names that were set (BuildKit's `Matched`: these make build args "used").
    pub used: BTreeSet<String>,
    /// Referenced names that were unset (BuildKit's `Unmatched`).
    pub unset: BTreeSet<String>,
}

/// BuildKit's `shell.Lex`: expands words with a given escape character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    /// Keep the quote characters in the output (BuildKit's `RawQuotes`).
    pub raw_quotes: bool,
    /// Keep the escape characters in the output (BuildKit's `RawEscapes`).
    pub raw_escapes: bool,
}

impl Lexer {
    /// A lexer for the `escape` parser directive: `'\\'` (the default) or `` '`' ``.
    pub fn new(escape: char) -> Lexer {
        Lexer { escape, raw_quotes: false, raw_escapes: false }
    }

    /// The escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// One word, as COPY/ADD/WORKDIR/USER/FROM/... arguments and ENV/LABEL/ARG keys and values are processed
    /// (`ProcessWord`): quotes removed, escapes processed, variables expanded, whitespace kept.
    pub fn expand_word(&self, word: &str, env: &dyn Env) -> Result<String, LexError> {
        Ok(self.expand_word_with_usage(word, env)?.value)
    }

    /// [`Lexer::expand_word`] that also reports which variables were looked up (`ProcessWordWithMatches`).
    /// Every variable reference counts, also those in a default word that ends up unused (`${A:-$B}`).
    pub fn expand_word_with_usage(&self, word: &str, env: &dyn Env) -> Result<Expanded, LexError> {
        let mut s = Scan::new(self, word, env);
        let (value, _) = s.top()?;
        Ok(Expanded { value, used: s.used, unset: s.unset })
    }

    /// The text split into words on unquoted, unescaped whitespace, also whitespace coming from variable values
    /// (`ProcessWords`, used for EXPOSE). Quotes do not make empty words: `"" a` is `["a"]`.
    pub fn expand_words(&self, text: &str, env: &dyn Env) -> Result<Vec<String>, LexError> {
        Ok(Scan::new(self, text, env).top()?.1)
    }
}

/// One expansion run over one word: BuildKit's `shellWord`.
struct Scan<'a> {
    lexer: &'a Lexer,
    word: &'a str,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Env,
    raw_escapes: bool,
    used: BTreeSet<String>,
    unset: BTreeSet<String>,
    /// The word being split; shared by nested words like BuildKit's `wordsBuffer` (see the module doc).
    buf: String,
}

impl<'a> Scan<'a> {
    fn new(lexer: &'a Lexer, word: &'a str, env: &'a dyn Env) -> Scan<'a> {
        // Go's text/scanner skips a byte order mark at the very start.
        let chars = word.strip_prefix('\u{feff}').unwrap_or(word).chars().collect();
        Scan { lexer, word, chars, pos: 0, env, raw_escapes: lexer.raw_escapes, used: BTreeSet::new(), unset: BTreeSet::new(), buf: String::new() }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn at_eof(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn word(&self) -> String {
        self.word.to_string()
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        let v = self.env.get(name);
        let set = if v.is_some() { &mut self.used } else { &mut self.unset };
        set.insert(name.to_string());
        v
    }

    fn top(&mut self) -> Result<(String, Vec<String>), LexError> {
        let raw = self.raw_escapes;
        self.words_until(None, raw, 0)
    }

    /// Push a character of expanded text to the word splitter: whitespace ends the current word.
    fn split_char(&mut self, words: &mut Vec<String>, c: char) {
        if !c.is_whitespace() {
            self.buf.push(c);
        } else if !self.buf.is_empty() {
            words.push(std::mem::take(&mut self.buf));
        }
    }

    /// BuildKit's `processStopOn`: the text up to `stop` (consumed) or the end, expanded, and split into words.
    /// `open` is the index of the `$` whose `${` needs the stop character, for errors.
    fn words_until(&mut self, stop: Option<char>, raw_escapes: bool, open: usize) -> Result<(String, Vec<String>), LexError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let r = self.words_until_inner(stop, open);
        self.raw_escapes = saved;
        r
    }

    fn words_until_inner(&mut self, stop: Option<char>, open: usize) -> Result<(String, Vec<String>), LexError> {
        let mut out = String::new();
        let mut words = Vec::new();
        self.buf.clear();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((out, self.finish(words)));
            }
            match c {
                '$' => {
                    let v = self.dollar()?;
                    v.chars().for_each(|c| self.split_char(&mut words, c));
                    out.push_str(&v);
                }
                '<' | '\'' | '"' => {
                    let v = match c {
                        '<' => self.maybe_heredoc(),
                        '\'' => self.single_quoted()?,
                        _ => self.double_quoted()?,
                    };
                    self.buf.push_str(&v);
                    out.push_str(&v);
                }
                _ => {
                    self.pos += 1;
                    if c != self.lexer.escape {
                        self.split_char(&mut words, c);
                        out.push(c);
                        continue;
                    }
                    if self.raw_escapes {
                        self.buf.push(c);
                        out.push(c);
                    }
                    let Some(c) = self.next() else { break };
                    self.buf.push(c);
                    out.push(c);
                }
            }
        }
        match stop {
            Some('/') => Err(LexError::MissingSlash { word: self.word(), col: open + 1 }),
            Some(_) => Err(LexError::MissingBrace { word: self.word(), col: open + 1 }),
            None => Ok((out, self.finish(words))),
        }
    }

    fn finish(&mut self, mut words: Vec<String>) -> Vec<String> {
        if !self.buf.is_empty() {
            words.push(std::mem::take(&mut self.buf));
        }
        words
    }

    /// `<<` and the blanks after it stay glued to the next word (a heredoc marker); a lone `<` is plain text.
    fn maybe_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut s = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    fn single_quoted(&mut self) -> Result<String, LexError> {
        let open = self.pos;
        self.pos += 1;
        let mut s = String::new();
        if self.lexer.raw_quotes {
            s.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(LexError::UnterminatedQuote { word: self.word(), quote: '\'', col: open + 1 }),
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        s.push('\'');
                    }
                    return Ok(s);
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, LexError> {
        let open = self.pos;
        self.pos += 1;
        let mut s = String::new();
        if self.lexer.raw_quotes {
            s.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(LexError::UnterminatedQuote { word: self.word(), quote: '"', col: open + 1 }),
                Some('"') => {
                    self.pos += 1;
                    if self.lexer.raw_quotes {
                        s.push('"');
                    }
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(mut c) => {
                    self.pos += 1;
                    if c == self.lexer.escape {
                        if self.raw_escapes {
                            s.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lexer.escape => {
                                c = n;
                                self.pos += 1;
                            }
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// A variable name after `$` or `${`; empty when none follows.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.peek().filter(|d| is_digit(*d)) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphabetic() || is_digit(c) || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// BuildKit's `processDollar`, at a `$`.
    fn dollar(&mut self) -> Result<String, LexError> {
        let open = self.pos;
        let col = open + 1;
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(LexError::MissingBrace { word: self.word(), col }),
            Some('{' | '}' | ':') => return Err(LexError::BadSubstitution { word: self.word(), col }),
            Some(_) => {}
        }
        let name = self.name();
        let unsupported = |s: &Self, modifier: String| LexError::UnsupportedModifier { word: s.word(), modifier, col };
        let op = match self.next() {
            None => return Err(LexError::MissingBrace { word: self.word(), col }),
            Some('}') => return Ok(self.lookup(&name).unwrap_or_default()),
            Some('/') => return self.replace(&name, open),
            Some(c @ (':' | '+' | '-' | '?' | '#' | '%')) => c,
            Some(c) => return Err(unsupported(self, c.to_string())),
        };
        let (null_is_unset, op, modifier) = match op {
            ':' => {
                let c = self.next();
                (true, c, format!(":{}", c.map(String::from).unwrap_or_default()))
            }
            c => (false, Some(c), c.to_string()),
        };
        let pattern = matches!(op, Some('#' | '%'));
        if null_is_unset && pattern {
            return Err(unsupported(self, modifier));
        }
        let word = self.nested(Some('}'), pattern, open)?;
        let value = self.lookup(&name);
        let empty = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match op {
            Some('-') => Ok(if empty { word } else { value.unwrap_or_default() }),
            Some('+') => Ok(if empty { String::new() } else { word }),
            Some('?') if empty => {
                let dflt = if value.is_none() { "is not allowed to be unset" } else { "is not allowed to be empty" };
                let message = if word.is_empty() { dflt.to_string() } else { word };
                Err(LexError::Required { word: self.word(), name, message })
            }
            Some('?') => Ok(value.unwrap_or_default()),
            Some(c @ ('#' | '%')) => {
                let (longest, pat) = match word.strip_prefix(c) {
                    Some(rest) => (true, rest.to_string()),
                    None => (false, word),
                };
                let value = value.unwrap_or_default();
                let r = if c == '#' { trim_prefix(&pat, &value, longest) } else { trim_suffix(&pat, &value, longest) };
                r.map_err(|reason| LexError::InvalidPattern { word: self.word(), pattern: pat, reason })
            }
            _ => Err(unsupported(self, modifier)),
        }
    }

    /// A nested word up to `stop`; an error hit at the end of the text becomes "missing `stop`", as in BuildKit.
    fn nested(&mut self, stop: Option<char>, raw_escapes: bool, open: usize) -> Result<String, LexError> {
        match self.words_until(stop, raw_escapes, open) {
            Ok((s, _)) => Ok(s),
            Err(_) if self.at_eof() && stop == Some('/') => Err(LexError::MissingSlash { word: self.word(), col: open + 1 }),
            Err(_) if self.at_eof() => Err(LexError::MissingBrace { word: self.word(), col: open + 1 }),
            Err(e) => Err(e),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`, after the first `/`.
    fn replace(&mut self, name: &str, open: usize) -> Result<String, LexError> {
        let all = self.peek() == Some('/');
        self.pos += usize::from(all);
        let pattern = self.nested(Some('/'), true, open)?;
        let repl = self.nested(Some('}'), true, open)?;
        let value: Vec<char> = self.lookup(name).unwrap_or_default().chars().collect();
        let bad = |reason| LexError::InvalidPattern { word: self.word(), pattern: pattern.clone(), reason };
        let mut m = Matcher::new(&pattern, true, &value).map_err(bad)?;
        let text = |a: usize, b: usize| value[a..b].iter().collect::<String>();
        if !all {
            return Ok(match m.find(0, false) {
                Some((a, b)) => text(0, a) + &repl + &text(b, value.len()),
                None => text(0, value.len()),
            });
        }
        // Go's Regexp.ReplaceAllString: empty matches right after a match are skipped.
        let (mut out, mut last, mut from) = (String::new(), 0, 0);
        while from <= value.len() {
            let Some((a, b)) = m.find(from, false) else { break };
            out += &text(last, a);
            if b > last || a == 0 {
                out += &go_template(&repl, &text(a, b));
            }
            last = b;
            from = if b == from { from + 1 } else { b };
        }
        Ok(out + &text(last, value.len()))
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// Go's `Regexp.Expand` for a pattern whose only group is the whole match: `$0`/`${0}` is the match, `$$` a
/// `$`, any other well-formed `$name`/`${name}` nothing, and a malformed one stays a literal `$`.
fn go_template(template: &str, matched: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out += &rest[..i];
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body.chars().take_while(|c| c.is_alphabetic() || is_digit(*c) || *c == '_').map(char::len_utf8).sum();
        if len == 0 || (brace && !body[len..].starts_with('}')) {
            out.push('$');
            continue;
        }
        if &body[..len] == "0" {
            out += matched;
        }
        rest = &body[len + usize::from(brace)..];
    }
    out + rest
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character other than a newline.
    One,
    /// `*`: any run of characters without a newline.
    Many,
}

/// A shell pattern compiled for one subject, matched with Perl/Go leftmost-first priority.
struct Matcher<'t> {
    toks: Vec<Tok>,
    text: &'t [char],
    greedy: bool,
    /// `failed[p * (len + 1) + t]`: token `p` cannot match from text position `t`.
    failed: Vec<bool>,
}

impl<'t> Matcher<'t> {
    /// Parses `pattern` (BuildKit's `convertShellPatternToRegex`: `\` escapes only `*`, `?` and `\`, and is
    /// dropped before `}` and `/`).
    fn new(pattern: &str, greedy: bool, text: &'t [char]) -> Result<Matcher<'t>, String> {
        let mut toks = Vec::new();
        let mut it = pattern.chars().peekable();
        while let Some(c) = it.next() {
            toks.push(match c {
                '*' => Tok::Many,
                '?' => Tok::One,
                '\\' if matches!(it.peek(), Some('}' | '/')) => continue,
                '\\' => match it.next() {
                    Some(e @ ('*' | '?' | '\\')) => Tok::Lit(e),
                    Some(e) => return Err(format!("invalid escape '\\{e}'")),
                    None => return Err("invalid escape '\\' at the end".into()),
                },
                c => Tok::Lit(c),
            });
        }
        let failed = vec![false; (toks.len() + 1) * (text.len() + 1)];
        Ok(Matcher { toks, text, greedy, failed })
    }

    /// The first match starting at or after `from` (only at `from` when `anchored`), as `(start, end)`.
    fn find(&mut self, from: usize, anchored: bool) -> Option<(usize, usize)> {
        let last = if anchored { from } else { self.text.len() };
        (from..=last).find_map(|s| self.match_at(0, s).map(|e| (s, e)))
    }

    fn match_at(&mut self, p: usize, t: usize) -> Option<usize> {
        let Some(&tok) = self.toks.get(p) else { return Some(t) };
        let key = p * (self.text.len() + 1) + t;
        if self.failed[key] {
            return None;
        }
        let next = self.text.get(t).copied();
        let r = match tok {
            Tok::Lit(c) if next == Some(c) => self.match_at(p + 1, t + 1),
            Tok::One if next.is_some_and(|c| c != '\n') => self.match_at(p + 1, t + 1),
            Tok::Many => {
                let max = t + self.text[t..].iter().take_while(|c| **c != '\n').count();
                if self.greedy { (t..=max).rev().find_map(|k| self.match_at(p + 1, k)) } else { (t..=max).find_map(|k| self.match_at(p + 1, k)) }
            }
            _ => None,
        };
        self.failed[key] = r.is_none();
        r
    }
}

/// `${v#p}` / `${v##p}`: `value` without the shortest (longest) prefix matching `pattern`.
fn trim_prefix(pattern: &str, value: &str, longest: bool) -> Result<String, String> {
    let text: Vec<char> = value.chars().collect();
    let end = Matcher::new(pattern, longest, &text)?.find(0, true).map_or(0, |(_, e)| e);
    Ok(text[end..].iter().collect())
}

/// `${v%p}` / `${v%%p}`: BuildKit reverses pattern and value and trims a prefix.
fn trim_suffix(pattern: &str, value: &str, longest: bool) -> Result<String, String> {
    let rev: String = value.chars().rev().collect();
    Ok(trim_prefix(&reverse_pattern(pattern), &rev, longest)?.chars().rev().collect())
}

/// The pattern reversed, keeping each `\x` pair in order (`a\*c` becomes `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut units: Vec<&[char]> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let n = if p[i] == '\\' && i + 1 < p.len() { 2 } else { 1 };
        units.push(&p[i..i + n]);
        i += n;
    }
    units.iter().rev().flat_map(|u| u.iter()).collect()
}

/// Splits the arguments of ENV/LABEL (`legacy_allowed = true`, BuildKit's `parseNameVal`) or ARG
/// (`legacy_allowed = false`, `parseNameOrNameVal` + `parseArg`) into `(name, value)` pairs, before expansion:
/// names and values keep their quotes and escapes; BuildKit then expands both with [`Lexer::expand_word`].
///
/// `text` is what follows the instruction (and its `--flags`). Words are split on unquoted whitespace and the
/// first `=` of a word splits it. For ENV/LABEL, a first word without `=` selects the legacy form
/// `NAME VALUE WITH SPACES` (one pair, the value being the raw rest of the line); otherwise every word needs a
/// `=`. For ARG a word without `=` is a bare name (`None`). Values are always `Some` for ENV/LABEL.
///
/// Errors: [`LexError::NoArguments`] for an empty text, [`LexError::MissingValue`] for a lone legacy name,
/// [`LexError::MissingEquals`] and [`LexError::BlankName`] (`=value`).
pub fn split_name_values(text: &str, escape: char, legacy_allowed: bool) -> Result<Vec<(String, Option<String>)>, LexError> {
    let text = text.trim();
    let words = raw_words(text, escape);
    let Some(first) = words.first() else { return Err(LexError::NoArguments) };
    if legacy_allowed && !first.contains('=') {
        // BuildKit splits the raw line on the first run of [\t\v\f\r ].
        let blank = |c: char| matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ');
        let Some((name, value)) = text.split_once(blank) else { return Err(LexError::MissingValue { name: text.to_string() }) };
        return Ok(vec![(name.to_string(), Some(value.trim_start_matches(blank).to_string()))]);
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(LexError::BlankName { word }),
            Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
            None if legacy_allowed => Err(LexError::MissingEquals { word }),
            None => Ok((word, None)),
        })
        .collect()
}

/// BuildKit's `parseWords`: whitespace-separated words, quotes and escapes kept; an escape character escapes
/// anything but inside single quotes, and a trailing one is dropped.
fn raw_words(text: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let (mut words, mut buf) = (Vec::new(), String::new());
    let (mut quote, mut started, mut blank_ok) = (None, false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match quote {
            None if c.is_whitespace() => {
                if started && (blank_ok || !buf.is_empty()) {
                    words.push(std::mem::take(&mut buf));
                }
                (started, blank_ok) = (false, false);
                buf.clear();
                continue;
            }
            None if c == '\'' || c == '"' => (quote, blank_ok) = (Some(c), true),
            Some(q) if c == q => quote = None,
            _ => {}
        }
        started = true;
        if c == escape && quote != Some('\'') {
            if i == chars.len() {
                quote = None;
                continue;
            }
            buf.push(c);
            buf.push(chars[i]);
            i += 1;
        } else {
            buf.push(c);
        }
    }
    if started && (blank_ok || !buf.is_empty()) {
        words.push(buf);
    }
    words
}

#[cfg(test)]
#[path = "shell_lex/tests.rs"]
mod tests;
