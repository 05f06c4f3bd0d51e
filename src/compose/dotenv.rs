//! `.env` / `env_file` parsing with compose's syntax:
//! `KEY=value`, `export KEY=value`, `# comments`, inline ` # comments` after unquoted values,
//! 'single quotes' (literal), "double quotes" (escapes, may span lines), interpolation of
//! `${VAR}` in unquoted and double-quoted values, and a bare `KEY` taken from the lookup.

use std::path::Path;

use indexmap::IndexMap;

use super::error::{ComposeError, Result};
use super::interpolate::{TemplateError, substitute};

/// Parses `text` (the content of `path`, used in error messages). Variables inside values are
/// looked up first with `lookup` (the process environment), then among earlier keys of the file.
pub fn parse(text: &str, path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<IndexMap<String, String>> {
    let mut vars: IndexMap<String, String> = IndexMap::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    let error = |line: usize, message: String| ComposeError::EnvFile { path: path.to_path_buf(), line, message };

    while i < chars.len() {
        // Skip blank space and comment lines.
        match chars[i] {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start_line = line;
        let mut key = read_while(&chars, &mut i, |c| !c.is_whitespace() && c != '=' && c != ':');
        if key == "export" && i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            skip_blanks(&chars, &mut i);
            key = read_while(&chars, &mut i, |c| !c.is_whitespace() && c != '=' && c != ':');
        }
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            let found = if key.is_empty() {
                chars.get(i).copied().unwrap_or(' ')
            } else {
                key.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c))).unwrap_or(' ')
            };
            return Err(error(start_line, format!("unexpected character {found:?} in variable name {key:?}")));
        }
        skip_blanks(&chars, &mut i);
        if i >= chars.len() || chars[i] == '\n' || chars[i] == '#' {
            // A bare KEY inherits the value from the environment, if any.
            if let Some(value) = lookup(&key) {
                vars.insert(key, value);
            }
            continue;
        }
        if chars[i] != '=' && chars[i] != ':' {
            return Err(error(start_line, format!("expected '=' after {key:?}")));
        }
        i += 1;
        skip_blanks(&chars, &mut i);

        let interpolate = |raw: &str, vars: &IndexMap<String, String>| -> Result<String> {
            let combined = |name: &str| lookup(name).or_else(|| vars.get(name).cloned());
            substitute(raw, &combined, &mut Vec::new()).map_err(|e| match e {
                TemplateError::Invalid(m) => error(start_line, format!("invalid interpolation in value of {key}: {m}")),
                TemplateError::Missing { variable, reason } => error(
                    start_line,
                    format!("required variable {variable} is missing a value{}", if reason.is_empty() { String::new() } else { format!(": {reason}") }),
                ),
            })
        };

        let value = match chars.get(i) {
            Some(&quote @ ('\'' | '"')) => {
                i += 1;
                let mut raw = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(error(start_line, format!("unterminated quoted value for {key}")));
                        }
                        Some(&c) if c == quote => {
                            i += 1;
                            break;
                        }
                        Some('\\') if quote == '"' && i + 1 < chars.len() => {
                            raw.push('\\');
                            raw.push(chars[i + 1]);
                            if chars[i + 1] == '\n' {
                                line += 1;
                            }
                            i += 2;
                        }
                        Some(&c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            raw.push(c);
                            i += 1;
                        }
                    }
                }
                // Only blanks or a comment may follow the closing quote.
                skip_blanks(&chars, &mut i);
                if i < chars.len() && chars[i] != '\n' && chars[i] != '#' {
                    return Err(error(line, format!("unexpected text after the quoted value of {key}")));
                }
                if quote == '"' { interpolate(&unescape(&raw), &vars)? } else { raw }
            }
            _ => {
                let raw = read_while(&chars, &mut i, |c| c != '\n');
                let without_comment = match raw.find(" #").or_else(|| raw.find("\t#")) {
                    Some(at) => &raw[..at],
                    None => &raw,
                };
                interpolate(without_comment.trim(), &vars)?
            }
        };
        while i < chars.len() && chars[i] != '\n' {
            i += 1;
        }
        vars.insert(key, value);
    }
    Ok(vars)
}

/// Reads an env file from disk; see [`parse`].
pub fn read(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<IndexMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| ComposeError::Read { path: path.to_path_buf(), message: format!("cannot read env file: {e}") })?;
    parse(&text, path, lookup)
}

/// Parses an `env_file` with `format: raw`: each non-blank line not starting with `#` is
/// `KEY=VALUE`, the value taken literally (no quotes, escapes, comments or interpolation); a
/// line without `=` is a key with an empty value. Errors name the file and line.
pub fn parse_raw(text: &str, path: &Path) -> Result<IndexMap<String, String>> {
    let mut vars = IndexMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let key = key.trim();
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(ComposeError::EnvFile { path: path.to_path_buf(), line: n + 1, message: format!("invalid variable name {key:?}") });
        }
        vars.insert(key.to_string(), value.to_string());
    }
    Ok(vars)
}

/// Reads an env file from disk in `format` (`None`: compose's syntax, see [`parse`];
/// `Some("raw")`: see [`parse_raw`]).
pub fn read_format(path: &Path, format: Option<&str>, lookup: &dyn Fn(&str) -> Option<String>) -> Result<IndexMap<String, String>> {
    match format {
        None => read(path, lookup),
        Some(_) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| ComposeError::Read { path: path.to_path_buf(), message: format!("cannot read env file: {e}") })?;
            parse_raw(&text, path)
        }
    }
}

fn read_while(chars: &[char], i: &mut usize, keep: impl Fn(char) -> bool) -> String {
    let start = *i;
    while *i < chars.len() && keep(chars[*i]) {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

fn skip_blanks(chars: &[char], i: &mut usize) {
    while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t' || chars[*i] == '\r') {
        *i += 1;
    }
}

/// Shell-style escapes in double-quoted values: `\n`, `\t`, `\r`, `\"`, `\\`; any other
/// escaped character stands for itself.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<IndexMap<String, String>> {
        let lookup = |name: &str| (name == "HOST_VAR").then(|| "from-host".to_string());
        parse(text, Path::new(".env"), &lookup)
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_str(text).unwrap().into_iter().collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn basic_syntax() {
        let text = "# comment\nA=1\n  B = two words  \nexport C=3\nD=\nE=x # trailing comment\nF=x#not-a-comment\nG: colon\n\n";
        assert_eq!(pairs(text), vec![p("A", "1"), p("B", "two words"), p("C", "3"), p("D", ""), p("E", "x"), p("F", "x#not-a-comment"), p("G", "colon")]);
    }

    #[test]
    fn quotes() {
        let text = "A='single $HOST_VAR # kept'\nB=\"double $HOST_VAR\"\nC=\"line1\nline2\"\nD=\"tab\\tnew\\nquote\\\"\"\nE='multi\nline' # comment\nF=\"\"\n";
        assert_eq!(
            pairs(text),
            vec![
                p("A", "single $HOST_VAR # kept"),
                p("B", "double from-host"),
                p("C", "line1\nline2"),
                p("D", "tab\tnew\nquote\""),
                p("E", "multi\nline"),
                p("F", ""),
            ]
        );
    }

    #[test]
    fn interpolation_uses_host_then_earlier_keys() {
        let text = "BASE=/srv\nDATA=${BASE}/data\nHOST=${HOST_VAR}\nDEF=${MISSING:-fallback}\nHOST_VAR=ignored-for-lookup\nAGAIN=$HOST_VAR\n";
        assert_eq!(
            pairs(text),
            vec![
                p("BASE", "/srv"),
                p("DATA", "/srv/data"),
                p("HOST", "from-host"),
                p("DEF", "fallback"),
                p("HOST_VAR", "ignored-for-lookup"),
                p("AGAIN", "from-host"),
            ]
        );
    }

    #[test]
    fn bare_keys_inherit_from_the_environment() {
        assert_eq!(pairs("HOST_VAR\nNOT_SET\n"), vec![p("HOST_VAR", "from-host")]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_str("A=1\nB=\"open\n").unwrap_err().to_string();
        assert_eq!(err, ".env:2: unterminated quoted value for B");
        let err = parse_str("A=1\n\nB C=2\n").unwrap_err().to_string();
        assert_eq!(err, ".env:3: expected '=' after \"B\"");
        let err = parse_str("R=${NEED:?set NEED}\n").unwrap_err().to_string();
        assert_eq!(err, ".env:1: required variable NEED is missing a value: set NEED");
    }

    #[test]
    fn raw_format_is_literal() {
        let vars = parse_raw("# c\nA=\"q\" # not a comment\nB=${X}\n\nC\n", Path::new("f")).unwrap();
        assert_eq!(vars["A"], "\"q\" # not a comment");
        assert_eq!(vars["B"], "${X}");
        assert_eq!(vars["C"], "");
        let err = parse_raw("OK=1\nBAD KEY=2\n", Path::new("f")).unwrap_err().to_string();
        assert!(err.contains(":2"), "{err}");
    }
}
