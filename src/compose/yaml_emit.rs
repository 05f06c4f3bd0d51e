//! A small YAML writer that formats like docker compose's (go-yaml v3, indent 2): block
//! style, sequences indented under their key, strings quoted only when they would read back
//! as something else, multi-line strings as literal blocks.

use serde_json::Value;

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            out.push_str(&inline(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent + 2));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first entry shares the dash's line; the rest align under it.
                let mut nested = String::new();
                write_map(&mut nested, map, indent + 2);
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                write_seq(&mut nested, inner, indent + 2);
                out.push_str(&nested[indent + 2..]);
            }
            other => {
                out.push_str(&inline(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// A value on one line (or a literal block whose lines are indented by `indent`).
fn inline(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\n') && literal_allowed(s) {
                literal(s, indent)
            } else {
                scalar(s)
            }
        }
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

fn literal_allowed(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.starts_with('\n')
        && s.lines().all(|line| !line.ends_with(' ') && !line.ends_with('\t'))
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
}

fn literal(s: &str, indent: usize) -> String {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let header = match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let pad = " ".repeat(indent);
    let mut out = header.to_string();
    let mut lines: Vec<&str> = body.split('\n').collect();
    if trailing > 1 {
        lines.extend(std::iter::repeat_n("", trailing - 1));
    }
    for line in lines {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// A string scalar: plain when it would read back as the same string, single-quoted when
/// it contains YAML indicators, double-quoted when it looks like another type or has
/// control characters.
pub fn scalar(s: &str) -> String {
    if s.is_empty() || looks_typed(s) {
        return double_quoted(s);
    }
    if s.chars().any(|c| c.is_control()) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// Strings go-yaml would resolve to null, bool, number (or old YAML 1.1 booleans).
fn looks_typed(s: &str) -> bool {
    if !matches!(super::yaml::resolve_plain(s), super::yaml::Value::Str(_)) {
        return true;
    }
    const OLD_BOOLS: [&str; 16] = ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];
    if OLD_BOOLS.contains(&s) {
        return true;
    }
    // go-yaml also reads 1_000, 0b101 and base-60 numbers like 1:30 as numbers.
    let without_underscores = s.replace('_', "");
    if without_underscores != s && !without_underscores.is_empty() && without_underscores.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    if s.strip_prefix("0b").is_some_and(|b| !b.is_empty() && b.bytes().all(|c| c == b'0' || c == b'1')) {
        return true;
    }
    is_base60(s)
}

fn is_base60(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = body.split(':');
    let Some(first) = parts.next() else {
        return false;
    };
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_') || !first.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return false;
    }
    rest.iter().enumerate().all(|(i, part)| {
        let (digits, fraction) = match part.split_once('.') {
            Some((d, f)) if i == rest.len() - 1 => (d, Some(f)),
            Some(_) => return false,
            None => (*part, None),
        };
        let digits_ok =
            !digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit()) && (digits.len() == 1 || digits.as_bytes()[0] <= b'5');
        digits_ok && fraction.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
    })
}

/// libyaml's rules for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    let last = *chars.last().unwrap();
    if first.is_whitespace() || last.is_whitespace() {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| c.is_whitespace());
    match first {
        '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => return false,
        '?' | ':' | '-' if followed_by_space(0) => return false,
        _ => {}
    }
    for (i, c) in chars.iter().enumerate() {
        match c {
            ':' if followed_by_space(i) => return false,
            '#' if i > 0 && chars[i - 1].is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_rules() {
        let cases = [
            ("nginx", "nginx"),
            ("8000", "\"8000\""),
            ("True", "\"True\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("1.5", "\"1.5\""),
            ("", "\"\""),
            ("0:8000", "0:8000"),
            ("1:30", "\"1:30\""),
            ("--encoding=UTF-8", "--encoding=UTF-8"),
            ("- x", "'- x'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("*star", "'*star'"),
            ("it's", "it's"),
            (" lead", "' lead'"),
            ("python manage.py runserver 0:8000", "python manage.py runserver 0:8000"),
            ("host=1.2.3.4", "host=1.2.3.4"),
        ];
        for (input, expected) in cases {
            assert_eq!(scalar(input), expected, "{input:?}");
        }
    }

    #[test]
    fn block_layout() {
        let value = json!({
            "name": "p",
            "services": {"web": {"command": ["bash", "-c", "a\nb\n"], "ports": [{"mode": "ingress", "target": 80}], "empty": {}}},
        });
        let expected = "name: p\nservices:\n  web:\n    command:\n      - bash\n      - -c\n      - |\n        a\n        b\n    ports:\n      - mode: ingress\n        target: 80\n    empty: {}\n";
        assert_eq!(to_yaml(&value), expected);
    }
}
