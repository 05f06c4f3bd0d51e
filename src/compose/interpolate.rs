//! Variable interpolation with compose's grammar: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`,
//! nested expressions inside the default/alternative, and `$$` for a literal `$`.
//! A `$` that starts none of these (e.g. `$1`, a trailing `$`) is kept as it is, like compose.

use super::error::{ComposeError, Result};
use super::yaml::{Node, Value};

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${...}` with a bad name, an unknown operator or no closing brace.
    Invalid(String),
    /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing.
    Missing { variable: String, reason: String },
}

/// Expands `input`. `lookup` returns a variable's value (None = unset); every variable used
/// bare (`$VAR`, `${VAR}`) that was unset is appended to `unset`.
pub fn substitute(input: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let close = matching_brace(body_and_tail).ok_or_else(|| TemplateError::Invalid(format!("missing closing brace in {input:?}")))?;
            out.push_str(&expand_braced(&body_and_tail[..close], lookup, unset)?);
            rest = &body_and_tail[close + 1..];
        } else {
            let name_len = name_length(after);
            if name_len == 0 {
                out.push('$');
                rest = after;
            } else {
                let name = &after[..name_len];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => unset.push(name.to_string()),
                }
                rest = &after[name_len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length of a variable name (`[_A-Za-z][_A-Za-z0-9]*`) at the start of `s`.
fn name_length(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|b| !(b.is_ascii_alphabetic() || *b == b'_')) {
        return 0;
    }
    bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()
}

/// Index of the `}` closing a `${` whose body starts at `s`, skipping nested `${...}`.
fn matching_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 1;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand_braced(body: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<String, TemplateError> {
    let name_len = name_length(body);
    if name_len == 0 {
        return Err(TemplateError::Invalid(format!("${{{body}}} does not start with a variable name")));
    }
    let name = &body[..name_len];
    let op_and_arg = &body[name_len..];
    let value = lookup(name);
    if op_and_arg.is_empty() {
        if value.is_none() {
            unset.push(name.to_string());
        }
        return Ok(value.unwrap_or_default());
    }
    let (op, arg) = [":-", ":?", ":+", "-", "?", "+"]
        .iter()
        .find_map(|op| op_and_arg.strip_prefix(op).map(|arg| (*op, arg)))
        .ok_or_else(|| TemplateError::Invalid(format!("unsupported operator in ${{{body}}}")))?;
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let mut expand_arg = || substitute(arg, lookup, unset);
    match op {
        ":-" => if non_empty { Ok(value.unwrap()) } else { expand_arg() },
        "-" => if set { Ok(value.unwrap()) } else { expand_arg() },
        ":+" => if non_empty { expand_arg() } else { Ok(String::new()) },
        "+" => if set { expand_arg() } else { Ok(String::new()) },
        _ /* ":?" | "?" */ => {
            let ok = if op == ":?" { non_empty } else { set };
            if ok {
                Ok(value.unwrap())
            } else {
                Err(TemplateError::Missing { variable: name.to_string(), reason: expand_arg()? })
            }
        }
    }
}

/// A variable a template uses, as `config --variables` lists it (compose's `Variable`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// The value after `:-` or `-`.
    pub default_value: Option<String>,
    /// The value after `:+` or `+` (used when the variable is set).
    pub alternate_value: Option<String>,
    /// `${VAR:?message}` or `${VAR?message}`.
    pub required: bool,
}

/// Every variable `input` uses (also inside defaults and alternatives), added to `out` in
/// order of appearance; a variable seen again keeps its first entry. `$$` is skipped.
/// Malformed templates contribute what could be read before them.
pub fn variables(input: &str, out: &mut indexmap::IndexMap<String, Variable>) {
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(close) = matching_brace(body_and_tail) else { return };
            let body = &body_and_tail[..close];
            let name_len = name_length(body);
            if name_len > 0 {
                let mut variable = Variable { name: body[..name_len].to_string(), ..Default::default() };
                let op_and_arg = &body[name_len..];
                let found = [":-", ":?", ":+", "-", "?", "+"].iter().find_map(|op| op_and_arg.strip_prefix(op).map(|arg| (*op, arg)));
                if let Some((op, arg)) = found {
                    match op {
                        ":-" | "-" => variable.default_value = Some(arg.to_string()),
                        ":+" | "+" => variable.alternate_value = Some(arg.to_string()),
                        _ => variable.required = true,
                    }
                }
                out.entry(variable.name.clone()).or_insert(variable);
                if let Some((_, arg)) = found {
                    variables(arg, out);
                }
            }
            rest = &body_and_tail[close + 1..];
        } else {
            let name_len = name_length(after);
            if name_len > 0 {
                let name = after[..name_len].to_string();
                out.entry(name.clone()).or_insert(Variable { name, ..Default::default() });
            }
            rest = &after[name_len..];
        }
    }
}

/// Interpolates every string value of a parsed file (keys are left alone, as compose does).
/// Returns the names of unset variables that defaulted to an empty string.
pub fn interpolate_tree(node: &mut Node, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    let mut unset = Vec::new();
    walk(node, path, lookup, &mut unset)?;
    let mut seen = std::collections::HashSet::new();
    unset.retain(|v| seen.insert(v.clone()));
    Ok(unset)
}

fn walk(node: &mut Node, path: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<()> {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            *s = substitute(s, lookup, unset).map_err(|e| template_error(e, Some(node.pos.clone()), path, s))?;
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), lookup, unset)?;
            }
        }
        Value::Map(map) => {
            for (key, value) in map.iter_mut() {
                let child = if path.is_empty() { key.name.clone() } else { format!("{path}.{}", key.name) };
                walk(value, &child, lookup, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Turns a template error into the user-facing error for `field` at `pos`.
pub fn template_error(e: TemplateError, pos: Option<super::error::Pos>, field: &str, value: &str) -> ComposeError {
    match e {
        TemplateError::Invalid(message) => ComposeError::BadInterpolation { pos, field: field.to_string(), value: value.to_string(), message },
        TemplateError::Missing { variable, reason } => ComposeError::MissingVariable { pos, field: field.to_string(), variable, reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> Result<String, TemplateError> {
        let lookup = |name: &str| match name {
            "SET" => Some("value".to_string()),
            "EMPTY" => Some(String::new()),
            "OTHER" => Some("other".to_string()),
            _ => None,
        };
        substitute(input, &lookup, &mut Vec::new())
    }

    #[test]
    fn operator_table() {
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("$SET", "value"),
            ("${SET}", "value"),
            ("a${SET}b", "avalueb"),
            ("$SET-suffix", "value-suffix"),
            ("$UNSET", ""),
            ("${UNSET}", ""),
            ("${SET:-d}", "value"),
            ("${EMPTY:-d}", "d"),
            ("${UNSET:-d}", "d"),
            ("${SET-d}", "value"),
            ("${EMPTY-d}", ""),
            ("${UNSET-d}", "d"),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${UNSET:+alt}", ""),
            ("${SET+alt}", "alt"),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${SET:?boom}", "value"),
            ("${EMPTY?boom}", ""),
            ("${UNSET:-${OTHER}}", "other"),
            ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
            ("${UNSET:-$OTHER/x}", "other/x"),
            ("${UNSET:-a:b}", "a:b"),
            ("${SET:+${OTHER}-${SET}}", "other-value"),
            ("$$", "$"),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("cost 5$", "cost 5$"),
            ("echo $1", "echo $1"),
            ("${UNSET:-}", ""),
            ("${set}", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(run(input).as_deref(), Ok(*expected), "input {input:?}");
        }
    }

    #[test]
    fn required_variables() {
        assert_eq!(run("${UNSET:?please set UNSET}"), Err(TemplateError::Missing { variable: "UNSET".into(), reason: "please set UNSET".into() }));
        assert_eq!(run("${EMPTY:?}"), Err(TemplateError::Missing { variable: "EMPTY".into(), reason: "".into() }));
        assert_eq!(run("${UNSET?x}"), Err(TemplateError::Missing { variable: "UNSET".into(), reason: "x".into() }));
        assert_eq!(run("${UNSET:?need ${OTHER}}"), Err(TemplateError::Missing { variable: "UNSET".into(), reason: "need other".into() }));
    }

    #[test]
    fn invalid_templates() {
        for input in ["${}", "${1ABC}", "${SET", "${SET/x/y}", "${SET:x}", "${ SET}"] {
            assert!(matches!(run(input), Err(TemplateError::Invalid(_))), "{input:?} should be invalid");
        }
    }

    #[test]
    fn unset_variables_are_reported() {
        let mut unset = Vec::new();
        substitute("$A ${B} ${C:-x} ${D-y}", &|_| None, &mut unset).unwrap();
        assert_eq!(unset, vec!["A", "B"]);
    }

    #[test]
    fn tree_errors_name_position_and_field() {
        let file: std::sync::Arc<str> = std::sync::Arc::from("compose.yaml");
        let mut doc = super::super::yaml::parse("services:\n  web:\n    image: ${TAG:?TAG must be set}\n", &file).unwrap().remove(0);
        let err = interpolate_tree(&mut doc, "", &|_| None).unwrap_err().to_string();
        assert_eq!(err, "compose.yaml:3:12: services.web.image: required variable TAG is missing a value: TAG must be set");
    }

    #[test]
    fn variables_are_listed_with_defaults_and_alternatives() {
        let mut out = indexmap::IndexMap::new();
        variables("$A ${B:-x} ${C:+${D}} $$E ${F:?need} ${G-${H:-h}} ${A:-later}", &mut out);
        let names: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(names, ["A", "B", "C", "D", "F", "G", "H"]);
        assert_eq!(out["A"].default_value, None);
        assert_eq!(out["B"].default_value.as_deref(), Some("x"));
        assert_eq!(out["C"].alternate_value.as_deref(), Some("${D}"));
        assert!(out["F"].required);
        assert_eq!(out["H"].default_value.as_deref(), Some("h"));
    }
}
