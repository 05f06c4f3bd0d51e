//! Tests for `shell_lex`. The two tables are BuildKit's `frontend/dockerfile/shell/envVarTest` and `wordsTest`
//! verbatim (moby/buildkit 73ed6825); the other cases port `lex_test.go` and `parser/line_parsers_test.go`.

use super::*;

/// `PLATFORM|word|expected` (A = all, U = Unix, W = Windows); `error` means the word must fail.
const ENV_VAR_TEST: &str = r#"
A|hello                    |     hello
A|he'll'o                  |     hello
A|he'llo                   |     error
A|he\'llo                  |     he'llo
A|he\\'llo                 |     error
A|abc\tdef                 |     abctdef
A|"abc\tdef"               |     abc\tdef
A|"abc\\tdef"              |     abc\tdef
A|'abc\tdef'               |     abc\tdef
A|hello\                   |     hello
A|hello\\                  |     hello\
A|"hello                   |     error
A|"hello\"                 |     error
A|"hel'lo"                 |     hel'lo
A|'hello                   |     error
A|'hello\'                 |     hello\
A|'hello\there'            |     hello\there
A|'hello\\there'           |     hello\\there
A|"''"                     |     ''
A|$.                       |     $.
A|he$1x                    |     hex
A|he$.x                    |     he$.x
# Next one is different on Windows as $pwd==$PWD
U|he$pwd.                  |     he.
W|he$pwd.                  |     he/home.
A|he$PWD                   |     he/home
A|he\$PWD                  |     he$PWD
A|he\\$PWD                 |     he\/home
A|"he\$PWD"                |     he$PWD
A|"he\\$PWD"               |     he\/home
A|\${}                     |     ${}
A|\${}aaa                  |     ${}aaa
A|he\${}                   |     he${}
A|he\${}xx                 |     he${}xx
A|${}                      |     error
A|${}aaa                   |     error
A|he${}                    |     error
A|he${}xx                  |     error
A|he${hi}                  |     he
A|he${hi}xx                |     hexx
A|he${PWD}                 |     he/home
A|he${.}                   |     error
A|he${XXX:-000}xx          |     he000xx
A|he${PWD:-000}xx          |     he/homexx
A|he${XXX:-$PWD}xx         |     he/homexx
A|he${XXX:-${PWD:-yyy}}xx  |     he/homexx
A|he${XXX:-${YYY:-yyy}}xx  |     heyyyxx
A|he${XXX:YYY}             |     error
A|he${XXX?}                |     error
A|he${XXX:?}               |     error
A|he${PWD?}                |     he/home
A|he${PWD:?}               |     he/home
A|he${NULL?}               |     he
A|he${NULL:?}              |     error
A|he${XXX:+${PWD}}xx       |     hexx
A|he${PWD:+${XXX}}xx       |     hexx
A|he${PWD:+${SHELL}}xx     |     hebashxx
A|he${XXX:+000}xx          |     hexx
A|he${PWD:+000}xx          |     he000xx
A|'he${XX}'                |     he${XX}
A|"he${PWD}"               |     he/home
A|"he'$PWD'"               |     he'/home'
A|"$PWD"                   |     /home
A|'$PWD'                   |     $PWD
A|'\$PWD'                  |     \$PWD
A|'"hello"'                |     "hello"
A|he\$PWD                  |     he$PWD
A|"he\$PWD"                |     he$PWD
A|'he\$PWD'                |     he\$PWD
A|he${PWD                  |     error
A|he${PWD:=000}xx          |     error
A|he${PWD:+${PWD}:}xx      |     he/home:xx
A|he${XXX:-\$PWD:}xx       |     he$PWD:xx
A|he${XXX:-\${PWD}z}xx     |     he${PWDz}xx
A|안녕하세요                 |     안녕하세요
A|안'녕'하세요               |     안녕하세요
A|안'녕하세요                |     error
A|안녕\'하세요               |     안녕'하세요
A|안\\'녕하세요              |     error
A|안녕\t하세요               |     안녕t하세요
A|"안녕\t하세요"             |     안녕\t하세요
A|'안녕\t하세요              |     error
A|안녕하세요\                |     안녕하세요
A|안녕하세요\\               |     안녕하세요\
A|"안녕하세요                |     error
A|"안녕하세요\"              |     error
A|"안녕'하세요"              |     안녕'하세요
A|'안녕하세요                |     error
A|'안녕하세요\'              |     안녕하세요\
A|안녕$1x                    |     안녕x
A|안녕$.x                    |     안녕$.x
# Next one is different on Windows as $pwd==$PWD
U|안녕$pwd.                  |     안녕.
W|안녕$pwd.                  |     안녕/home.
A|안녕$PWD                   |     안녕/home
A|안녕\$PWD                  |     안녕$PWD
A|안녕\\$PWD                 |     안녕\/home
A|안녕\${}                   |     안녕${}
A|안녕\${}xx                 |     안녕${}xx
A|안녕${}                    |     error
A|안녕${}xx                  |     error
A|안녕${hi}                  |     안녕
A|안녕${hi}xx                |     안녕xx
A|안녕${PWD}                 |     안녕/home
A|안녕${.}                   |     error
A|안녕${XXX:-000}xx          |     안녕000xx
A|안녕${PWD:-000}xx          |     안녕/homexx
A|안녕${XXX:-$PWD}xx         |     안녕/homexx
A|안녕${XXX:-${PWD:-yyy}}xx  |     안녕/homexx
A|안녕${XXX:-${YYY:-yyy}}xx  |     안녕yyyxx
A|안녕${XXX:YYY}             |     error
A|안녕${XXX:+${PWD}}xx       |     안녕xx
A|안녕${PWD:+${XXX}}xx       |     안녕xx
A|안녕${PWD:+${SHELL}}xx     |     안녕bashxx
A|안녕${XXX:+000}xx          |     안녕xx
A|안녕${PWD:+000}xx          |     안녕000xx
A|'안녕${XX}'                |     안녕${XX}
A|"안녕${PWD}"               |     안녕/home
A|"안녕'$PWD'"               |     안녕'/home'
A|'"안녕"'                   |     "안녕"
A|안녕\$PWD                  |     안녕$PWD
A|"안녕\$PWD"                |     안녕$PWD
A|'안녕\$PWD'                |     안녕\$PWD
A|안녕${PWD                  |     error
A|안녕${PWD:=000}xx          |     error
A|안녕${PWD:+${PWD}:}xx      |     안녕/home:xx
A|안녕${XXX:-\$PWD:}xx       |     안녕$PWD:xx
A|안녕${XXX:-\${PWD}z}xx     |     안녕${PWDz}xx
A|$KOREAN                    |     한국어
A|안녕$KOREAN                |     안녕한국어
A|${{aaa}                   |     error
A|${aaa}}                   |     }
A|${aaa                     |     error
A|${{aaa:-bbb}              |     error
A|${aaa:-bbb}}              |     bbb}
A|${aaa:-bbb                |     error
A|${aaa:-bbb}               |     bbb
A|${aaa:-${bbb:-ccc}}       |     ccc
A|${aaa:-bbb ${foo}         |     error
A|${aaa:-bbb {foo}          |     bbb {foo
A|${:}                      |     error
A|${:-bbb}                  |     error
A|${:+bbb}                  |     error

# Positional parameters won't be set:
# http://pubs.opengroup.org/onlinepubs/009695399/utilities/xcu_chap02.html#tag_02_05_01
A|$1                        |
A|${1}                      |
A|${1:+bbb}                 |
A|${1:-bbb}                 |     bbb
A|$2                        |
A|${2}                      |
A|${2:+bbb}                 |
A|${2:-bbb}                 |     bbb
A|$3                        |
A|${3}                      |
A|${3:+bbb}                 |
A|${3:-bbb}                 |     bbb
A|$4                        |
A|${4}                      |
A|${4:+bbb}                 |
A|${4:-bbb}                 |     bbb
A|$5                        |
A|${5}                      |
A|${5:+bbb}                 |
A|${5:-bbb}                 |     bbb
A|$6                        |
A|${6}                      |
A|${6:+bbb}                 |
A|${6:-bbb}                 |     bbb
A|$7                        |
A|${7}                      |
A|${7:+bbb}                 |
A|${7:-bbb}                 |     bbb
A|$8                        |
A|${8}                      |
A|${8:+bbb}                 |
A|${8:-bbb}                 |     bbb
A|$9                        |
A|${9}                      |
A|${9:+bbb}                 |
A|${9:-bbb}                 |     bbb
A|$999                      |
A|${999}                    |
A|${999:+bbb}               |
A|${999:-bbb}               |     bbb
A|$999aaa                   |     aaa
A|${999}aaa                 |     aaa
A|${999:+bbb}aaa            |     aaa
A|${999:-bbb}aaa            |     bbbaaa
A|$001                      |
A|${001}                    |
A|${001:+bbb}               |
A|${001:-bbb}               |     bbb
A|$001aaa                   |     aaa
A|${001}aaa                 |     aaa
A|${001:+bbb}aaa            |     aaa
A|${001:-bbb}aaa            |     bbbaaa

# Special parameters won't be set in the Dockerfile:
# http://pubs.opengroup.org/onlinepubs/009695399/utilities/xcu_chap02.html#tag_02_05_02
A|$@                        |
A|${@}                      |
A|${@:+bbb}                 |
A|${@:-bbb}                 |     bbb
A|$@@@                      |     @@
A|$@aaa                     |     aaa
A|${@}aaa                   |     aaa
A|${@:+bbb}aaa              |     aaa
A|${@:-bbb}aaa              |     bbbaaa
A|$*                        |
A|${*}                      |
A|${*:+bbb}                 |
A|${*:-bbb}                 |     bbb
A|$#                        |
A|${#}                      |
A|${#:+bbb}                 |
A|${#:-bbb}                 |     bbb
A|$?                        |
A|${?}                      |
A|${?:+bbb}                 |
A|${?:-bbb}                 |     bbb
A|$-                        |
A|${-}                      |
A|${-:+bbb}                 |
A|${-:-bbb}                 |     bbb
A|$$                        |
A|${$}                      |
A|${$:+bbb}                 |
A|${$:-bbb}                 |     bbb
A|$!                        |
A|${!}                      |
A|${!:+bbb}                 |
A|${!:-bbb}                 |     bbb
A|$0                        |
A|${0}                      |
A|${0:+bbb}                 |
A|${0:-bbb}                 |     bbb
"#;

/// `ENV k=v` lines extend the environment; `word | w1,w2` expects those words from `expand_words`.
/// Some lines end in significant blanks.
const WORDS_TEST: &str = r#"
hello | hello
hello${hi}bye | hellobye
ENV hi=hi
hello${hi}bye | hellohibye
ENV space=abc  def
hello${space}bye | helloabc,defbye
hello"${space}"bye | helloabc  defbye
hello "${space}"bye | hello,abc  defbye
ENV leading=  ab c
hello${leading}def | hello,ab,cdef
hello"${leading}" def | hello  ab c,def
hello"${leading}" | hello  ab c
hello${leading} | hello,ab,c
# next line MUST have 3 trailing spaces, don't erase them!
ENV trailing=ab c   
hello${trailing} | helloab,c
hello${trailing}d | helloab,c,d
hello"${trailing}"d | helloab c   d
# next line MUST have 3 trailing spaces, don't erase them!
hel"lo${trailing}" | helloab c   
hello" there  " | hello there  
hello there     | hello,there
hello\ there | hello there
hello" there | error
hello\" there | hello",there
hello"\\there" | hello\there
hello"\there" | hello\there
hello'\\there' | hello\\there
hello'\there' | hello\there
hello'$there' | hello$there
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The table for another escape character: the tables use `\` only as the escape and never contain a backtick.
fn with_escape(s: &str, escape: char) -> String {
    s.chars().map(|c| if c == '\\' { escape } else { c }).collect()
}

#[test]
fn envvartest_table() {
    let envs = env(&[("PWD", "/home"), ("SHELL", "bash"), ("KOREAN", "한국어"), ("NULL", "")]);
    for escape in ['\\', '`'] {
        let lexer = Lexer::new(escape);
        let mut n = 0;
        for line in ENV_VAR_TEST.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(parts.len(), 3, "bad table line {line:?}");
            if parts[0] == "W" {
                continue;
            }
            let (word, expected) = (with_escape(parts[1], escape), with_escape(parts[2], escape));
            let got = lexer.expand_word(&word, &envs);
            if expected == "error" {
                assert!(got.is_err(), "{word:?} should fail, got {got:?}");
            } else {
                assert_eq!(got.as_deref(), Ok(expected.as_str()), "{word:?}");
            }
            n += 1;
        }
        assert_eq!(n, 228);
    }
}

#[test]
fn wordstest_table() {
    for escape in ['\\', '`'] {
        let lexer = Lexer::new(escape);
        let mut envs: Vec<(String, String)> = Vec::new();
        let mut n = 0;
        for line in WORDS_TEST.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some(kv) = line.strip_prefix("ENV ") {
                let (k, v) = kv.trim_start_matches(' ').split_once('=').unwrap();
                envs.push((k.into(), v.into()));
                continue;
            }
            let (word, expected) = line.split_once('|').unwrap();
            let word = with_escape(word.trim(), escape);
            let expected: Vec<String> = with_escape(expected.trim_start_matches(' '), escape).split(',').map(String::from).collect();
            let got = lexer.expand_words(&word, &envs).unwrap_or_else(|_| vec!["error".into()]);
            assert_eq!(got, expected, "{word:?}");
            n += 1;
        }
        assert_eq!(n, 24);
    }
}

#[test]
fn mandatory_variables() {
    let lexer = Lexer::new('\\');
    let (set_, empty, unset) = (env(&[("VAR", "plain"), ("ARG", "x")]), env(&[("VAR", ""), ("ARG", "x")]), env(&[("ARG", "x")]));
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(lexer.expand_word(no_empty, &set_).unwrap(), "plain");
    for e in [&empty, &unset] {
        let err = lexer.expand_word(no_empty, e).unwrap_err();
        assert_eq!(err.to_string(), r#"failed to process "${VAR:?message here$ARG}": VAR: message herex"#);
    }
    assert_eq!(lexer.expand_word(no_unset, &set_).unwrap(), "plain");
    assert_eq!(lexer.expand_word(no_unset, &empty).unwrap(), "");
    assert!(lexer.expand_word(no_unset, &unset).unwrap_err().to_string().ends_with("VAR: message herex"));
    let msg = |w: &str, e: &Vec<(String, String)>| lexer.expand_word(w, e).unwrap_err().to_string();
    assert!(msg("${VAR?}", &unset).ends_with("VAR: is not allowed to be unset"));
    assert!(msg("${VAR:?}", &empty).ends_with("VAR: is not allowed to be empty"));
}

/// `(input, env, expected or None for an error, used, unset)`: lex_test.go's TestProcessWithMatches.
#[allow(clippy::type_complexity)]
const WITH_MATCHES: &[(&str, &[(&str, &str)], Option<&str>, &[&str], &[&str])] = &[
    ("x", &[("DUMMY", "dummy")], Some("x"), &[], &[]),
    ("x ${UNUSED}", &[("DUMMY", "dummy")], Some("x "), &[], &["UNUSED"]),
    ("x ${FOO}", &[("FOO", "y")], Some("x y"), &["FOO"], &[]),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx  ccc"), &["FOO", "BAR"], &["BAZ"]),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx bbb ccc"), &["FOO", "BAR"], &["BAZ"]),
    ("${FOO:-}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx"), &["FOO"], &[]),
    ("${FOO:-}", &[], Some(""), &[], &["FOO"]),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("aaa bbb "), &["FOO", "BAR"], &["BAZ"]),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("aaa  "), &["FOO", "BAR"], &["BAZ"]),
    ("${FOO?aaa}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx"), &["FOO"], &[]),
    ("${BAR?bbb}", &[("FOO", "xxx"), ("BAR", "")], Some(""), &["BAR"], &[]),
    ("${BAZ?ccc}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${FOO:?aaa}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx"), &["FOO"], &[]),
    ("${BAR:?bbb}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${BAZ:?ccc}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${BAZ:?}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${FOO=aaa}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${FOO=:aaa}", &[("FOO", "xxx"), ("BAR", "")], None, &[], &[]),
    ("${FOO=}", &[], None, &[], &[]),
    (r"${FOO#()[]{\}^$.\*\?|\\}", &[("FOO", r"()[]{}^$.*?|\x")], Some("x"), &["FOO"], &[]),
    (r"${FOO%%\**}", &[("FOO", "xx**")], Some("xx"), &["FOO"], &[]),
    ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y"), &["FOO"], &[]),
    ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], Some("xyy"), &["FOO", "BAR"], &[]),
    ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy"), &["FOO", "BAR"], &[]),
    ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy"), &["FOO"], &[]),
    ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (r"${FOO#?\?}", &[("FOO", "???y")], Some("?y"), &["FOO"], &[]),
    ("${ABC:-.}${FOO%x}${ABC:-.}", &[("FOO", "xxyy")], Some(".xxyy."), &["FOO"], &["ABC"]),
    (r"${FOO%%\**\*}", &[("FOO", "a***yy*")], Some("a"), &["FOO"], &[]),
    ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO%%$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy"), &["FOO", "BAR"], &[]),
    ("${FOO:#}", &[], None, &[], &[]),
    ("${FOO:##}", &[], None, &[], &[]),
    ("${FOO:%}", &[], None, &[], &[]),
    ("${FOO:%%}", &[], None, &[], &[]),
    ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")], Some("/foo.*/*.txt - /foo..*.txt"), &["FOO", "NEEDLE"], &[]),
    ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")], Some("/tmp/bar.txt - /bar.txt"), &["FOO", "NEEDLE"], &[]),
    (
        "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        &[("FOO", "/a/foo/b/c.txt"), ("NEEDLE", "/?/"), ("REPLACEMENT", "/")],
        Some("/foo/b/c.txt - /foo/c.txt"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT}",
        &[("FOO", "http://google.de"), ("NEEDLE", "http://"), ("REPLACEMENT", "https://")],
        Some("https://google.de"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (r"${FOO//\//\/}", &[("FOO", "/tmp/foo.txt")], Some(r"\/tmp\/foo.txt"), &["FOO"], &[]),
    ("${FOO/$BAR/ww}", &[("FOO", "xxyy"), ("BAR", "")], Some("wwxxyy"), &["FOO", "BAR"], &[]),
    ("${FOO//ww}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO//}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO///}", &[], Some(""), &[], &["FOO"]),
];

#[test]
fn usage_tracking_table() {
    let lexer = Lexer::new('\\');
    for (word, pairs, expected, used, unset) in WITH_MATCHES {
        let got = lexer.expand_word_with_usage(word, &env(pairs));
        match expected {
            None => assert!(got.is_err(), "{word:?} should fail, got {got:?}"),
            Some(v) => assert_eq!(got, Ok(Expanded { value: v.to_string(), used: set(used), unset: set(unset) }), "{word:?}"),
        }
    }
}

#[test]
fn usage_counts_unused_default_words_and_platform_names() {
    let lexer = Lexer::new('\\');
    let got = lexer.expand_word_with_usage("${A:-$B}${C:+${D}}$E", &env(&[("A", "a"), ("E", "")])).unwrap();
    assert_eq!(got, Expanded { value: "a".into(), used: set(&["A", "E"]), unset: set(&["B", "C", "D"]) });
    let release = "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux"), ("TARGETARCH", "arm")];
    let mut e = env(&base);
    e.push(("TARGETVARIANT".into(), "v7".into()));
    assert_eq!(lexer.expand_word(release, &e).unwrap(), "something-v1.2.3.linux-arm-v7.tar.gz");
    e.push(("TARGETVARIANT".into(), String::new()));
    assert_eq!(lexer.expand_word(release, &e).unwrap(), "something-v1.2.3.linux-arm.tar.gz");
    assert_eq!(lexer.expand_word(release, &env(&base)).unwrap(), "something-v1.2.3.linux-arm.tar.gz");
}

#[test]
fn env_impls() {
    let lexer = Lexer::new('\\');
    let hm: HashMap<String, String> = [("A".to_string(), "1".to_string())].into();
    let bt: BTreeMap<String, String> = [("A".to_string(), "2".to_string())].into();
    let v = env(&[("A", "3"), ("A", "4")]);
    assert_eq!(lexer.expand_word("$A", &hm).unwrap(), "1");
    assert_eq!(lexer.expand_word("$A", &bt).unwrap(), "2");
    assert_eq!(lexer.expand_word("$A", &v).unwrap(), "4");
    assert_eq!(lexer.expand_word("$A", &v.as_slice()).unwrap(), "4");
}

#[test]
fn patterns_and_reversal() {
    for p in ["*", "?", r"\*", r"(()[]{\}^$.\*\?|\\"] {
        assert!(Matcher::new(p, true, &[]).is_ok(), "{p:?}");
    }
    for p in [r"\", r"\x", r"\\\"] {
        assert!(Matcher::new(p, true, &[]).is_err(), "{p:?}");
    }
    for (p, r) in [(r"a\*c", r"c\*a"), (r"\\\ab", r"b\a\\"), (r"ab\", r"\ba"), (r"👽\🚀🖖", r"🖖\🚀👽"), (r"\\b", r"b\\")] {
        assert_eq!(reverse_pattern(p), r);
    }
    let lexer = Lexer::new('\\');
    let e = env(&[("P", "a.b.c"), ("NL", "a\nb"), ("K", "안녕하세요"), ("D", "$$"), ("Z", "$0-")]);
    let cases = [
        ("${P%.*}", "a.b"),
        ("${P%%.*}", "a"),
        ("${P#*.}", "b.c"),
        ("${P##*.}", "c"),
        ("${P/./-}", "a-b.c"),
        ("${P//./-}", "a-b-c"),
        ("${P//?/x}", "xxxxx"),
        ("${NL#*}", "a\nb"),
        ("${NL##*}", "\nb"),
        ("${NL//?/x}", "x\nx"),
        ("${K#안?}", "하세요"),
        ("${K%%하*}", "안녕"),
        // ${n//p/r} follows Go's regexp template rules: $0 is the match and $$ a dollar; ${n/p/r} does not.
        ("${P//./$D}", "a$b$c"),
        ("${P//./$Z}", "a.-b.-c"),
        ("${P/./$Z}", "a$0-b.c"),
        (r"${P//./[\$0]}", r"a[\.]b[\.]c"),
        (r"${P//./\$1}", r"a\b\c"),
        ("${P//}", "error"),
        ("${P//x/y", "error"),
        (r"${P#\x}", "error"),
    ];
    for (word, expected) in cases {
        match lexer.expand_word(word, &e) {
            Ok(v) => assert_eq!(v, expected, "{word:?}"),
            Err(err) => assert_eq!(expected, "error", "{word:?}: {err}"),
        }
    }
    // Empty matches: Go's ReplaceAllString inserts between characters, not right after a match.
    assert_eq!(lexer.expand_word("${P//*/x}", &e).unwrap(), "x");
    assert_eq!(lexer.expand_word("${P///-}", &e).unwrap(), "-a-.-b-.-c-");
}

#[test]
fn quotes_escapes_and_raw_modes() {
    let e = env(&[("X", "x y")]);
    let lexer = Lexer::new('`');
    assert_eq!(lexer.expand_word(r"C:\path\$X`$X", &e).unwrap(), r"C:\path\x y$X");
    assert_eq!(lexer.expand_word(r#""a`"b``c`d\e""#, &e).unwrap(), r#"a"b`c`d\e"#);
    let mut raw = Lexer::new('\\');
    raw.raw_quotes = true;
    raw.raw_escapes = true;
    assert_eq!(raw.expand_word(r#"'a b'"$X\""\c"#, &e).unwrap(), r#"'a b'"x y\""\c"#);
    let lexer = Lexer::new('\\');
    assert_eq!(lexer.expand_words(r#"a "" '' b\ c "$X" $X"#, &e).unwrap(), ["a", "b c", "x y", "x", "y"]);
    assert_eq!(lexer.expand_words("cat <<  EOF >x", &e).unwrap(), ["cat", "<<  EOF", ">x"]);
    assert_eq!(lexer.expand_word("\u{feff}$X", &e).unwrap(), "x y");
    // BuildKit's shared word buffer drops what precedes a ${n<op>w} in the same word.
    assert_eq!(lexer.expand_words("abc${N:-y}def g", &e).unwrap(), ["ydef", "g"]);
    assert_eq!(lexer.expand_word("abc${N:-y}def g", &e).unwrap(), "abcydef g");
}

#[test]
fn error_messages() {
    let lexer = Lexer::new('\\');
    let e = env(&[]);
    let msg = |w: &str| lexer.expand_word(w, &e).unwrap_err().to_string();
    assert_eq!(msg(r#"ab"cd"#), r#"failed to process "ab\"cd": unexpected end of statement while looking for matching double-quote opened at character 3"#);
    assert_eq!(msg("a'b"), r#"failed to process "a'b": unexpected end of statement while looking for matching single-quote opened at character 2"#);
    assert_eq!(msg("x${A:-${B}"), r#"failed to process "x${A:-${B}": syntax error: missing '}' for the '${' at character 2"#);
    assert_eq!(msg("${A"), r#"failed to process "${A": syntax error: missing '}' for the '${' at character 1"#);
    assert_eq!(msg("${A/b"), r#"failed to process "${A/b": syntax error: missing '/' in the '${' at character 1"#);
    assert_eq!(msg("a${}"), r#"failed to process "a${}": syntax error: bad substitution at character 2"#);
    assert_eq!(msg("${A:=b}"), r#"failed to process "${A:=b}": unsupported modifier (:=) in substitution at character 1"#);
    assert_eq!(msg("${A.b}"), r#"failed to process "${A.b}": unsupported modifier (.) in substitution at character 1"#);
    assert_eq!(msg(r"${A#\q}"), r#"failed to process "${A#\\q}": invalid pattern (\q) in substitution: invalid escape '\q'"#);
    assert_eq!(msg("${A:?}"), r#"failed to process "${A:?}": A: is not allowed to be unset"#);
}

#[test]
fn split_env_label_arguments() {
    let s = |t: &str| split_name_values(t, '\\', true);
    let pairs = |v: &[(&str, &str)]| Ok(v.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect::<Vec<_>>());
    assert_eq!(s("foo bar"), pairs(&[("foo", "bar")]));
    assert_eq!(s("foo=bar thing=star"), pairs(&[("foo", "bar"), ("thing", "star")]));
    assert_eq!(s("foo"), Err(LexError::MissingValue { name: "foo".into() }));
    assert_eq!(s("  foo \t bar  baz \"q x\"  "), pairs(&[("foo", "bar  baz \"q x\"")]));
    assert_eq!(s(r#"a="b c" d=e\ f g='h i'"j" k= "l=m""#), pairs(&[("a", r#""b c""#), ("d", r"e\ f"), ("g", r#"'h i'"j""#), ("k", ""), ("\"l", "m\"")]));
    assert_eq!(s(r"a=b\"), pairs(&[("a", "b")]));
    assert_eq!(s(r#"a="b \" c" d='\'"#), pairs(&[("a", r#""b \" c""#), ("d", r"'\'")]));
    assert_eq!(split_name_values("a=`\"b c` d", '`', true), Err(LexError::MissingEquals { word: "c` d".into() }));
    assert_eq!(split_name_values("a=\"b c`\" d\"", '`', true), pairs(&[("a", "\"b c`\" d\"")]));
    assert_eq!(s("a=b c"), Err(LexError::MissingEquals { word: "c".into() }));
    assert_eq!(s("a=b =c"), Err(LexError::BlankName { word: "=c".into() }));
    assert_eq!(s("  "), Err(LexError::NoArguments));
    assert_eq!(s("a\u{a0}b"), Err(LexError::MissingValue { name: "a\u{a0}b".into() }));
}

#[test]
fn split_arg_arguments() {
    let s = |t: &str| split_name_values(t, '\\', false);
    let got = s(r#"A B= C="" D=d=e "E"=f G"#).unwrap();
    let want: Vec<(String, Option<String>)> = [("A", None), ("B", Some("")), ("C", Some("\"\"")), ("D", Some("d=e")), ("\"E\"", Some("f")), ("G", None)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(String::from)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(s("A =b"), Err(LexError::BlankName { word: "=b".into() }));
    assert_eq!(s(""), Err(LexError::NoArguments));
    assert!(LexError::MissingEquals { word: "c".into() }.to_string().contains("\"c\""));
}
