//! Tests for `.dockerignore` matching: tables ported from moby/patternmatcher (patternmatcher_test.go,
//! ignorefile_test.go at 5a6d842), facts recorded from the real Go implementation, a randomized
//! differential against a reference built like Docker's (glob -> regexp string -> regexp engine),
//! and soundness of `can_skip_dir`.

use super::*;

fn rules(lines: &[&str]) -> IgnoreRules {
    IgnoreRules::parse(&lines.join("\n"), ".dockerignore").unwrap_or_else(|e| panic!("{lines:?}: {e}"))
}

fn kind_name(p: &Pattern) -> &'static str {
    match p.kind {
        Kind::Exact => "exact",
        Kind::Prefix => "prefix",
        Kind::Suffix => "suffix",
        Kind::Nfa(_) => "regexp",
    }
}

/// patternmatcher_test.go TestMatches (single patterns), with `MatchesOrParentMatches`.
#[test]
fn patternmatcher_matches_table() {
    let table: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
        ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
        ("a\\*b", "a*b", true),
        // TestWildcardMatches, TestPatternMatches
        ("*", "fileutils.go", true),
        ("*.go", "fileutils.go", true),
    ];
    for &(pattern, text, want) in table {
        assert_eq!(rules(&[pattern]).is_excluded(text), want, "pattern {pattern:?} text {text:?}");
    }
}

/// patternmatcher_test.go TestMatches (pattern lists) and the small exclusion tests.
#[test]
fn patternmatcher_multi_pattern_table() {
    let whl = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl";
    let table: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (&["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
        (&["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], whl, false),
        (&["**", "!dist/*.whl"], whl, false),
        (&["!fileutils.go", "*.go"], "fileutils.go", true),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["*.go", "!fileutils.go"], "fileutils.go", false),
        (&["*.go"], ".", false),
        (&[], "/any/path/there", false),
    ];
    for &(patterns, text, want) in table {
        assert_eq!(rules(patterns).is_excluded(text), want, "patterns {patterns:?} text {text:?}");
    }
}

/// patternmatcher_test.go matchTests (Go's filepath.Match table) through `Matches`; `None`: ErrBadPattern.
#[test]
fn patternmatcher_filepath_match_table() {
    let table: &[(&str, &str, Option<bool>)] = &[
        ("abc", "abc", Some(true)),
        ("*", "abc", Some(true)),
        ("*c", "abc", Some(true)),
        ("a*", "a", Some(true)),
        ("a*", "abc", Some(true)),
        ("a*", "ab/c", Some(true)),
        ("a*/b", "abc/b", Some(true)),
        ("a*/b", "a/c/b", Some(false)),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
        ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
        ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
        ("ab[c]", "abc", Some(true)),
        ("ab[b-d]", "abc", Some(true)),
        ("ab[e-g]", "abc", Some(false)),
        ("ab[^c]", "abc", Some(false)),
        ("ab[^b-d]", "abc", Some(false)),
        ("ab[^e-g]", "abc", Some(true)),
        ("a\\*b", "a*b", Some(true)),
        ("a\\*b", "ab", Some(false)),
        ("a?b", "a☺b", Some(true)),
        ("a[^a]b", "a☺b", Some(true)),
        ("a???b", "a☺b", Some(false)),
        ("a[^a][^a][^a]b", "a☺b", Some(false)),
        ("[a-ζ]*", "α", Some(true)),
        ("*[a-ζ]", "A", Some(false)),
        ("a?b", "a/b", Some(false)),
        ("a*b", "a/b", Some(false)),
        ("[\\]a]", "]", Some(true)),
        ("[\\-]", "-", Some(true)),
        ("[x\\-]", "x", Some(true)),
        ("[x\\-]", "-", Some(true)),
        ("[x\\-]", "z", Some(false)),
        ("[\\-x]", "x", Some(true)),
        ("[\\-x]", "-", Some(true)),
        ("[\\-x]", "a", Some(false)),
        ("[]a]", "]", None),
        ("[-]", "-", None),
        ("[x-]", "x", None),
        ("[x-]", "-", None),
        ("[x-]", "z", None),
        ("[-x]", "x", None),
        ("[-x]", "-", None),
        ("[-x]", "a", None),
        ("\\", "a", None),
        ("[a-b-c]", "a", None),
        ("[", "a", None),
        ("[^", "a", None),
        ("[^bc", "a", None),
        ("a[", "a", None),
        ("a[", "ab", None),
        ("*x", "xxx", Some(true)),
    ];
    for &(pattern, text, want) in table {
        let got = IgnoreRules::parse(pattern, ".dockerignore").ok().map(|r| r.is_excluded(text));
        assert_eq!(got, want, "pattern {pattern:?} text {text:?}");
    }
}

/// patternmatcher_test.go compileTests: which fast path a pattern takes.
#[test]
fn patternmatcher_compile_kinds() {
    let table = [
        ("*", "regexp"),
        ("file*", "regexp"),
        ("*file", "regexp"),
        ("a*/b", "regexp"),
        ("**", "suffix"),
        ("**/**", "regexp"),
        ("dir/**", "prefix"),
        ("**/dir", "suffix"),
        ("**/dir2/*", "regexp"),
        ("**/dir2/**", "regexp"),
        ("**file", "suffix"),
        ("**/file*txt", "regexp"),
        ("**/**/*.txt", "regexp"),
        ("a[b-d]e", "regexp"),
        (".*", "regexp"),
        ("abc.def", "exact"),
        ("abc?def", "regexp"),
        ("**/foo/bar", "suffix"),
        ("a(b)c/def", "exact"),
        ("a.|)$(}+{bc", "exact"),
        ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact"),
    ];
    for (pattern, want) in table {
        assert_eq!(kind_name(&rules(&[pattern]).patterns()[0]), want, "{pattern}");
    }
    // Fast-path quirks kept from Docker: suffix and prefix compare plain text.
    assert!(rules(&["**file"]).is_excluded("dir/myfile"));
    assert!(rules(&["dir**"]).is_excluded("directory") && rules(&["dir**"]).is_excluded("dir/x"));
    assert!(rules(&["**.txt"]).is_excluded("a/b.txt"));
}

/// ignorefile_test.go TestReadAll, plus the Clean and New steps BuildKit applies next.
#[test]
fn ignorefile_read_all() {
    assert!(IgnoreRules::parse("", "x").unwrap().patterns().is_empty());
    let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n";
    let parsed = IgnoreRules::parse(content, ".dockerignore").unwrap();
    let got: Vec<(String, usize)> = parsed.patterns().iter().map(|p| (format!("{}{}", if p.exception { "!" } else { "" }, p.pattern()), p.line)).collect();
    let want = [("test1", 1), ("test2", 2), ("a/file/here", 3), ("lastfile", 5), ("!inverted/abs/path", 7)];
    assert_eq!(got, want.map(|(p, l)| (p.to_string(), l)));
    assert_eq!(parsed.patterns()[4].text, "! /inverted/abs/path");
    // ReadAll keeps `!` and `! `; patternmatcher.New then rejects them ("illegal exclusion pattern").
    for (text, line) in [(format!("{content}!\n"), 8), (format!("{content}! "), 8), ("a\n!/".to_string(), 2)] {
        let err = IgnoreRules::parse(&text, ".dockerignore").unwrap_err();
        let IgnoreError::BadPattern { line: got, .. } = &err;
        assert_eq!(*got, line, "{text:?}: {err}");
    }
}

#[test]
fn file_format() {
    // BOM, CRLF, comments only in column 1, trimming, Unicode spaces as Go's TrimSpace.
    let r = rules(&["\u{feff}# comment", "  # not a comment\r", "\t*.md \r", "\u{a0}x\u{3000}", "/", "//y//", "./z/../w/."]);
    let pats: Vec<&str> = r.patterns().iter().map(Pattern::pattern).collect();
    assert_eq!(pats, ["# not a comment", "*.md", "x", "/", "y", "w"]);
    assert_eq!(r.patterns()[0].line, 2);
    assert!(r.is_excluded("# not a comment") && r.is_excluded("w/v") && !r.is_excluded("z"));
    // `/ a` loses its space after the `/` (New trims again); `!../..` cleans to `.`, no exception.
    assert_eq!(rules(&["/ a"]).patterns()[0].pattern(), "a");
    let odd = rules(&["!../.."]);
    assert!(!odd.patterns()[0].exception && odd.patterns()[0].pattern() == ".");
    // `!` only negates at the start; `#` after `!` is part of the name.
    assert!(rules(&["!#x"]).patterns()[0].exception);
    assert!(rules(&["a!b"]).is_excluded("a!b"));
}

#[test]
fn clean_like_go() {
    // Facts from Go's path.Clean tests.
    let table = [
        ("", "."),
        ("abc", "abc"),
        ("abc/def", "abc/def"),
        ("a/b/c", "a/b/c"),
        (".", "."),
        ("..", ".."),
        ("../..", "../.."),
        ("../../abc", "../../abc"),
        ("/abc", "/abc"),
        ("/", "/"),
        ("abc/", "abc"),
        ("abc/def/", "abc/def"),
        ("/abc/", "/abc"),
        ("abc//def//ghi", "abc/def/ghi"),
        ("//abc", "/abc"),
        ("///abc", "/abc"),
        ("abc/./def", "abc/def"),
        ("/./abc/def", "/abc/def"),
        ("abc/.", "abc"),
        ("abc/def/ghi/../jkl", "abc/def/jkl"),
        ("abc/def/../ghi/../jkl", "abc/jkl"),
        ("abc/def/..", "abc"),
        ("abc/def/../..", "."),
        ("/abc/def/../..", "/"),
        ("abc/def/../../..", ".."),
        ("/abc/def/../../..", "/"),
        ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
        ("abc/./../def", "def"),
        ("abc//./../def", "def"),
        ("abc/../../././../def", "../../def"),
    ];
    for (input, want) in table {
        assert_eq!(clean(input), want, "{input:?}");
    }
}

#[test]
fn errors_name_file_line_and_pattern() {
    let err = IgnoreRules::parse("*.md\n\n  [abc  \n", "Dockerfile.dockerignore").unwrap_err();
    assert_eq!(err.to_string(), "Dockerfile.dockerignore line 3: invalid pattern `[abc`: unterminated `[`");
    for bad in [
        "[",
        "a[",
        "[^",
        "[]",
        "[a-]",
        "[-a]",
        "a\\",
        "[a\\",
        "!",
        "! /",
        "[z-a]",
        "[[:nope:]]",
        "[[:alpha:]",
        "a*\\d",
        "a*\\b",
        "\\é",
        "[*]",
        "[?]",
        "a*|b",
        "*.{2}",
        "x?{1,3}",
    ] {
        assert!(IgnoreRules::parse(bad, "f").is_err(), "{bad:?} should be rejected");
    }
    // Exact patterns are plain text in Docker, so `|`, `{2}` and `^` are fine there.
    for (ok, path) in [("a|b", "a|b"), ("a{2}", "a{2}"), ("^x", "^x"), ("*.{js,ts}", "x.{js,ts}"), ("a*\\|b", "ax|b"), ("a*\\{2}", "a{2}")] {
        assert!(rules(&[ok]).is_excluded(path), "{ok:?} on {path:?}");
    }
}

#[test]
fn classes_escapes_and_anchor() {
    let cases: &[(&str, &str, bool)] = &[
        ("[!a]", "!", true), // `!` does not negate, as in Go
        ("[!a]", "b", false),
        ("[^a]", "b", true),
        ("[^a]", "/", true), // a negated class matches `/`
        ("a[/]b", "a/b", true),
        ("[[:digit:]]x", "7x", true),
        ("[[:digit:]]x", "ax", false),
        ("[[:^digit:]_]x", "_x", true),
        ("[[:upper:][:digit:]]", "Q", true),
        ("[a-c]*", "b/x", true), // the parent `b` matches
        ("\\[a]", "[a]", true),
        ("\\*", "*", true),
        ("\\*", "x", false),
        ("^*.md", "a.md", true), // `^` is Go's start anchor, true at the start
        ("x^*.md", "x^a.md", false),
        ("**/^a*", "a1", true),
        ("**/^a*", "d/a1", false),
        ("^a", "^a", true), // exact: plain text
        ("**", "a\nb", true),
        ("a/**/b", "a/x\ny/b", false), // Go's `.` stops at a newline
        ("a/*/b", "a/x\ny/b", true),
    ];
    for &(pattern, text, want) in cases {
        assert_eq!(rules(&[pattern]).is_excluded(text), want, "pattern {pattern:?} text {text:?}");
    }
}

#[test]
fn parents_exceptions_and_last_match() {
    let r = rules(&["# deps", "node_modules", "*.md", "!README.md", "docs", "!docs/keep/**", "docs/keep/secret"]);
    let by = |p: &str| r.excluded_by(p).map(|p| p.line);
    assert_eq!(by("node_modules/x/y.js"), Some(2)); // a parent matches
    assert_eq!(by("node_modules"), Some(2));
    assert_eq!(by("node_modulesx"), None);
    assert_eq!(by("CHANGES.md"), Some(3));
    assert_eq!(by("README.md"), None);
    assert_eq!(by("sub/CHANGES.md"), None); // anchored at the root
    assert_eq!(by("docs/README.md"), Some(5));
    assert_eq!(by("docs/keep/a"), None);
    assert_eq!(by("docs/keep"), Some(5)); // `docs/keep/**` needs something below
    assert_eq!(by("docs/keep/secret/x"), Some(7));
    assert_eq!(by(""), None);
    assert_eq!(by("."), None);
    assert_eq!(r.excluded_by("a.md").unwrap().to_string(), "line 3: `*.md`");
    assert!(r.has_exceptions() && !rules(&["a"]).has_exceptions());
    assert_eq!(r.source(), ".dockerignore");
    assert!(!IgnoreRules::empty().is_excluded("x") && IgnoreRules::empty().patterns().is_empty());
    // Last match wins, even against an earlier exception.
    assert!(rules(&["!a", "a"]).is_excluded("a/b"));
    assert!(!rules(&["a", "!a"]).is_excluded("a/b"));
    // MatchesOrParentMatches: a later pattern naming the parent again excludes the child again.
    assert!(rules(&["a", "!a/c", "a"]).is_excluded("a/c"));
}

#[test]
fn can_skip_dir_cases() {
    let r = rules(&["node_modules", "build", "!build/keep.txt", "docs/**", "!docs/*/index.md", "target", "!target", "target"]);
    assert!(r.can_skip_dir("node_modules"));
    assert!(r.can_skip_dir("node_modules/x")); // excluded through its parent
    assert!(!r.can_skip_dir("build")); // build/keep.txt comes back
    assert!(r.can_skip_dir("build/sub"));
    assert!(!r.can_skip_dir("docs/api")); // docs/api/index.md comes back
    assert!(r.can_skip_dir("docs/api/deep"));
    assert!(r.can_skip_dir("target")); // the exception is overridden by the last line
    assert!(!r.can_skip_dir("src") && !r.can_skip_dir("") && !r.can_skip_dir("."));
    assert!(!r.is_excluded("build/keep.txt") && !r.is_excluded("docs/api/index.md"));
    // `!**/LICENSE` may bring back a file under any directory.
    let vendor = rules(&["vendor", "node_modules", "!**/LICENSE"]);
    assert!(!vendor.can_skip_dir("vendor") && !vendor.can_skip_dir("node_modules/x") && !vendor.is_excluded("vendor/m/LICENSE"));
    // An exception before the excluding line cannot bring anything back.
    assert!(rules(&["!cache/keep", "cache"]).can_skip_dir("cache"));
    // Prefix exceptions: `!ab**` can bring back `a/...`? no; `!a/b**` can.
    assert!(rules(&["a", "!ab**"]).can_skip_dir("a"));
    assert!(!rules(&["a", "!a/b**"]).can_skip_dir("a"));
    // Suffix exceptions may match anywhere below.
    assert!(!rules(&["a", "!**.keep"]).can_skip_dir("a"));
}

/// Randomness without a crate: xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PATTERN_PARTS: &[&str] = &["a", "b", "a", "b", "/", "/", "*", "**", "?", "[ab]", "[^a]", "[a-c]", ".", "\\*", "\\.", "^", "x", "**/", "/**", "ab"];
const NAMES: &[&str] = &["a", "b", "ab", "ba", "a.b", ".a", "x", "b.x", "*", "^a", "aa", "bb", "a*b", "xa", "c"];

fn random_lines(rng: &mut Rng) -> Vec<String> {
    (0..1 + rng.below(4))
        .map(|_| {
            let prefix = rng.pick(&["", "", "", "!", "/", "!/"]);
            let body: String = (0..1 + rng.below(5)).map(|_| rng.pick(PATTERN_PARTS)).collect();
            format!("{prefix}{body}")
        })
        .collect()
}

fn random_path(rng: &mut Rng) -> String {
    (0..1 + rng.below(4)).map(|_| rng.pick(NAMES)).collect::<Vec<_>>().join("/")
}

/// The reference: patternmatcher's own route, a regular-expression string run by a small
/// backtracking engine, and its forward `MatchesOrParentMatches` loop.
mod reference {
    pub enum Compiled {
        Exact(String),
        Prefix(String),
        Suffix(String),
        Regex(Vec<Node>),
    }

    pub enum Node {
        Lit(char),
        Dot,
        Class(bool, Vec<(char, char)>),
        Star(Box<Node>),
        Opt(Box<Node>),
        Group(Vec<Node>),
        Bol,
    }

    /// patternmatcher's compile, as strings.
    pub fn compile(p: &str) -> Compiled {
        let chars: Vec<char> = p.chars().collect();
        let (mut re, mut ty, mut i, mut n) = (String::from("^"), "exact", 0, 0);
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if c == '*' && chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if ty == "exact" {
                        ty = "prefix";
                    } else {
                        re += ".*";
                        ty = "regex";
                    }
                } else {
                    re += "(.*/)?";
                    ty = "regex";
                }
                if n == 0 {
                    ty = "suffix";
                }
            } else if c == '*' {
                re += "[^/]*";
                ty = "regex";
            } else if c == '?' {
                re += "[^/]";
                ty = "regex";
            } else if ".+()|{}$".contains(c) {
                re.push('\\');
                re.push(c);
            } else if c == '\\' {
                re.push('\\');
                re.push(chars[i]);
                i += 1;
                ty = "regex";
            } else {
                re.push(c);
                if c == '[' || c == ']' {
                    ty = "regex";
                }
            }
            n += 1;
        }
        match ty {
            "exact" => Compiled::Exact(p.to_string()),
            "prefix" => Compiled::Prefix(p[..p.len() - 2].to_string()),
            "suffix" => Compiled::Suffix(p[2..].to_string()),
            _ => {
                let re: Vec<char> = re.chars().collect();
                Compiled::Regex(parse(&re, &mut 0))
            }
        }
    }

    fn parse(re: &[char], i: &mut usize) -> Vec<Node> {
        let mut seq = Vec::new();
        while *i < re.len() && re[*i] != ')' {
            let c = re[*i];
            *i += 1;
            let atom = match c {
                '(' => {
                    let inner = parse(re, i);
                    *i += 1;
                    Node::Group(inner)
                }
                '.' => Node::Dot,
                '^' => Node::Bol,
                '\\' => {
                    *i += 1;
                    Node::Lit(re[*i - 1])
                }
                '[' => {
                    let negated = re[*i] == '^';
                    *i += usize::from(negated);
                    let mut ranges = Vec::new();
                    while re[*i] != ']' || ranges.is_empty() {
                        let lo = if re[*i] == '\\' { re[*i + 1] } else { re[*i] };
                        *i += if re[*i] == '\\' { 2 } else { 1 };
                        let mut hi = lo;
                        if re[*i] == '-' && re[*i + 1] != ']' {
                            hi = re[*i + 1];
                            *i += 2;
                        }
                        ranges.push((lo, hi));
                    }
                    *i += 1;
                    Node::Class(negated, ranges)
                }
                _ => Node::Lit(c),
            };
            seq.push(match re.get(*i) {
                Some('*') => {
                    *i += 1;
                    Node::Star(Box::new(atom))
                }
                Some('?') => {
                    *i += 1;
                    Node::Opt(Box::new(atom))
                }
                _ => atom,
            });
        }
        seq
    }

    fn run(nodes: &[Node], t: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        let Some((first, rest)) = nodes.split_first() else { return k(pos) };
        let more = pos < t.len();
        match first {
            Node::Lit(c) => more && t[pos] == *c && run(rest, t, pos + 1, k),
            Node::Dot => more && t[pos] != '\n' && run(rest, t, pos + 1, k),
            Node::Class(neg, ranges) => more && ranges.iter().any(|&(lo, hi)| lo <= t[pos] && t[pos] <= hi) != *neg && run(rest, t, pos + 1, k),
            Node::Bol => pos == 0 && run(rest, t, pos, k),
            Node::Group(inner) => run(inner, t, pos, &mut |p| run(rest, t, p, k)),
            Node::Opt(inner) => run(std::slice::from_ref(&**inner), t, pos, &mut |p| run(rest, t, p, k)) || run(rest, t, pos, k),
            Node::Star(inner) => star(inner, rest, t, pos, k),
        }
    }

    fn star(inner: &Node, rest: &[Node], t: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        run(std::slice::from_ref(inner), t, pos, &mut |p| p > pos && star(inner, rest, t, p, k)) || run(rest, t, pos, k)
    }

    pub fn matches(c: &Compiled, path: &str) -> bool {
        match c {
            Compiled::Exact(p) => path == p,
            Compiled::Prefix(p) => path.starts_with(p.as_str()),
            Compiled::Suffix(s) => path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..]),
            Compiled::Regex(nodes) => {
                let t: Vec<char> = path.chars().collect();
                run(nodes, &t, 0, &mut |p| p == t.len())
            }
        }
    }

    /// MatchesOrParentMatches, forward with patternmatcher's skipping.
    pub fn excluded(patterns: &[(bool, Compiled)], path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut matched = false;
        for (exception, c) in patterns {
            if *exception != matched {
                continue;
            }
            let hit = matches(c, path) || (1..parts.len()).any(|n| matches(c, &parts[..n].join("/")));
            if hit {
                matched = !exception;
            }
        }
        matched
    }
}

#[test]
fn randomized_differential_against_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut compared, mut excluded) = (0, 0);
    for _ in 0..3000 {
        let lines = random_lines(&mut rng);
        let Ok(parsed) = IgnoreRules::parse(&lines.join("\n"), "f") else { continue };
        let compiled: Vec<(bool, reference::Compiled)> = parsed.patterns().iter().map(|p| (p.exception, reference::compile(p.pattern()))).collect();
        for _ in 0..12 {
            let path = random_path(&mut rng);
            let want = reference::excluded(&compiled, &path);
            assert_eq!(parsed.is_excluded(&path), want, "lines {lines:?} path {path:?}");
            compared += 1;
            excluded += usize::from(want);
        }
    }
    assert!(compared > 30_000 && excluded > compared / 10, "{compared} {excluded}");
}

#[test]
fn randomized_can_skip_dir_is_sound() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut skipped = 0;
    for _ in 0..3000 {
        let mut lines = random_lines(&mut rng);
        lines.insert(0, random_path(&mut rng));
        let Ok(parsed) = IgnoreRules::parse(&lines.join("\n"), "f") else { continue };
        for _ in 0..6 {
            let dir = random_path(&mut rng);
            if !parsed.can_skip_dir(&dir) {
                continue;
            }
            skipped += 1;
            assert!(parsed.is_excluded(&dir), "lines {lines:?} dir {dir:?}");
            for _ in 0..40 {
                let below = format!("{dir}/{}", random_path(&mut rng));
                assert!(parsed.is_excluded(&below), "lines {lines:?}: skipping {dir:?} loses {below:?}");
            }
        }
    }
    assert!(skipped > 500, "{skipped}");
}

#[test]
fn go_oracle_facts() {
    for &(lines, want) in GO_ORACLE {
        let parsed = IgnoreRules::parse(&lines.join("\n"), "f");
        match (want, parsed) {
            (None, Err(_)) => {}
            (None, Ok(_)) => panic!("{lines:?} should be rejected"),
            (Some(_), Err(e)) => panic!("{lines:?}: {e}"),
            (Some(cases), Ok(rules)) => {
                for &(path, excluded) in cases {
                    assert_eq!(rules.is_excluded(path), excluded, "lines {lines:?} path {path:?}");
                }
            }
        }
    }
}

#[test]
fn long_patterns_and_many_stars() {
    // More NFA states than the inline bitsets hold; and a pattern that makes backtracking blow up.
    let long = format!("{}*", "a/".repeat(200));
    assert!(rules(&[&long]).is_excluded(&format!("{}x/y", "a/".repeat(200))));
    assert!(!rules(&[&long]).is_excluded(&"a/".repeat(199)));
    let stars = "*a*a*a*a*a*a*a*a*a*a*a*b";
    assert!(!rules(&[stars]).is_excluded(&"a".repeat(5000)));
    assert!(rules(&[stars]).is_excluded(&format!("{}b", "a".repeat(5000))));
}

#[test]
fn picks_the_ignore_file_like_buildkit() {
    let dir = std::env::temp_dir().join(format!("rde-ignore-test-{}", std::process::id()));
    let context = dir.join("ctx");
    std::fs::create_dir_all(context.join("docker")).unwrap();
    assert_eq!(ignore_file_for(&context, Path::new("Dockerfile")), None);
    std::fs::write(context.join(".dockerignore"), "x").unwrap();
    assert_eq!(ignore_file_for(&context, Path::new("docker/Dockerfile.backend")), Some(context.join(".dockerignore")));
    std::fs::write(context.join("docker/Dockerfile.backend.dockerignore"), "y").unwrap();
    assert_eq!(ignore_file_for(&context, Path::new("docker/Dockerfile.backend")), Some(context.join("docker/Dockerfile.backend.dockerignore")));
    assert_eq!(ignore_file_for(&context, Path::new("Dockerfile")), Some(context.join(".dockerignore")));
    // An absolute Dockerfile outside the context.
    std::fs::write(dir.join("Dockerfile.dockerignore"), "z").unwrap();
    assert_eq!(ignore_file_for(&context, &dir.join("Dockerfile")), Some(dir.join("Dockerfile.dockerignore")));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Generated by running moby/patternmatcher (ignorefile.ReadAll, New, MatchesOrParentMatches) with
// Go's current whole-pattern syntax check on random ignore files; `None`: Docker rejects the file.
/// Ignore-file lines, then `(path, excluded)` facts or `None` when Docker rejects the file.
type OracleCase = (&'static [&'static str], Option<&'static [(&'static str, bool)]>);

const GO_ORACLE: &[OracleCase] = &[
    (
        &[".?", "**/^[^a]/", "[ab]b[^a]**/x*"],
        Some(&[(".a", true), ("9/xa/b.x", true), ("a*b/aa", false), ("a^", false), ("a^/[a]/aa/a b", false), ("b/a*b", true)]),
    ),
    (&["# {.a ", "[^/]", " \\\\*", "!//x+"], Some(&[(".a/aa", false), ("9/a{2}/a*b/a9", true), ("[a]", false), ("a^", false), ("x", true)])),
    (&["  ", " x"], Some(&[("[a]/a{2}/x", false), ("[a]/a|b/a9", false), ("ba/9", false), ("x/a.b", true)])),
    (&[".*.xx**", "**/^/**", "/[ab]?"], Some(&[("a*b/xa", false), ("a.b", false), ("aa/^a", true), ("ba", true), ("ba/b.x/b.x/^a", true), ("x", false)])),
    (&["/^*[ab][ab]", "a[^a]a", "# ^", "!?\\*[ab]x**"], Some(&[("[a]", false), ("aa/ab/x", true), ("a|b", false), ("a|b/^a/aa", false)])),
    (&[" **/**x?"], Some(&[("9/^a", false), ("9/ba/xa", true), ("ba", false), ("ba/b.x/a b/*", false)])),
    (
        &["!*[ab][ab]**/", "!/\\***/*//**[ab]", " **/**/**/^", " b**/"],
        Some(&[("a^", false), ("a|b/a9/b.x/9", false), ("bb", true), ("bb/*/*/xa", true), ("xa", false)]),
    ),
    (
        &["/[^a]**", "*?[^a]aa", "[ab]\\*b?"],
        Some(&[("9/a.b/b.x/a*b", true), ("a b", false), ("a/a^/^a", false), ("a/b.x", false), ("b.x/a9/ba", true), ("xa/ab/9/a{2}", true)]),
    ),
    (&["/x^[\\]a]\\* ", "!/]", "/b/"], Some(&[("a b/9/aa", false), ("b", true), ("b.x/bb/a|b/aa", false), ("b/a9", true), ("x/x", false)])),
    (&["/b**/a/**/?"], Some(&[("a.b/9/a*b", false), ("a9/*/9", false), ("a9/.a/aa/b", false), ("ba/a9/a*b/a", true), ("ba/a|b/a/a.b", true)])),
    (&["**/**[^a][^a]"], Some(&[("9/aa", false), ("a{2}/a/^a/a b", false), ("a{2}/a9/a.b", false), ("bb", true)])),
    (&["a**/**"], Some(&[("a.b/a.b/a/9", true), ("aa/[a]/^a/aa", true), ("ab/ba/ba/ba", true), ("ba/a9/a*b", false), ("ba/x/b.x", false), ("xa", false)])),
    (&["[^a]"], Some(&[("*/bb", true), ("ab/[a]", false), ("x/.a/ba/*", true), ("x/[a]/b", true), ("xa/9/a.b/ba", false), ("xa/x/a|b", false)])),
    (&["\\*", "# ba**..", "# **xx**\\*"], Some(&[("*/a9", true), ("9/a.b", false), ("^a/a/a b/[a]", false), ("a9/[a]", false)])),
    (&["/[^a]*^x", "*^[^a]**/[^a]*"], Some(&[("9/bb/a b/a", true), ("a/9/x/bb", false), ("a^/ab", false), ("b.x", true), ("xa", false), ("xa/9/^a", true)])),
    (
        &["/?", "*[ab]", "!*x/", " b.a****/"],
        Some(&[("[a]/a9/a^/aa", false), ("a.b", true), ("a9/xa/a^", false), ("a^/bb", false), ("a|b/a b/a|b", true), ("a|b/bb/a{2}", true)]),
    ),
    (&["[ab]", "# a**/"], Some(&[("9", false), ("a/.a/aa", true), ("a9/ba/*", false), ("a{2}/a|b", false), ("b/b", true)])),
    (
        &["?[[:alpha:]]", "# |b[^a]", "!/|"],
        Some(&[(".a/*", true), ("9/aa", false), ("[a]/b/a^", false), ("^a", true), ("aa/xa/[a]", true), ("b.x/aa/aa/^a", false)]),
    ),
    (&["!?", "[^/]"], Some(&[("*/a|b/a|b/^a", true), ("b.x/a/a/xa", false), ("b/a*b/^a/a*b", true), ("bb", false), ("bb/^a/ab", false), ("x/b.x/b.x", true)])),
    (&["..**-[^[:alpha:]][0-9])", "?"], Some(&[("a9", false), ("ba/a b", false), ("x/a9/a|b/b", true), ("xa/ba", false)])),
    (&[" ??[ab]"], Some(&[("9/aa", false), ("[a]/a|b/[a]", false), ("a b", true), ("xa", false)])),
    (&["**/[ab]*", "!/{2}\tb"], Some(&[("9", false), ("[a]", false), ("a", true), ("a b/^a/a|b", true), ("bb", true), ("xa", false)])),
    (
        &["a[^/]**/[ab]*[ab]", "[[:alpha:]]"],
        Some(&[(".a/a{2}/a.b", false), ("[a]/.a", false), ("ab/a/a.b", true), ("a{2}/aa", true), ("b.x", false), ("b/*", true)]),
    ),
    (&["[[0-9]"], Some(&[("9", true), ("b.x/a b", false), ("b.x/a9/x/a9", false), ("b.x/bb/xa", false)])),
    (&["# **/", "b[^a]$", "[^a]+#", "/\\.*"], Some(&[(".a/x", true), ("a/9/.a", false), ("a/b", false), ("ab", false)])),
    (&[" a"], Some(&[("*/[a]/b.x", false), ("a.b", false), ("a/ab", true), ("xa/ab", false)])),
    (&["/***/[^a]"], Some(&[(".a", false), (".a/aa/a.b/x", true), ("[a]/a^/9", true), ("a9/9", true), ("ba/a{2}/^a/a{2}", false), ("xa/bb", false)])),
    (&["**//?[^a]b*", ".**", " ?"], Some(&[(".a/bb/^a", true), ("9", true), ("9/xa", true), ("a9/a^", false), ("a^", false), ("aa", false)])),
    (&["**/b/"], Some(&[("^a/^a/xa/a.b", false), ("a^", false), ("bb/b/[a]/bb", true), ("x/a{2}/^a", false)])),
    (&["# ^x* \\.(", "/$\t[!a]}", "[ab]b", "/**\\.^?b[\\]a]"], Some(&[("^a", false), ("a.b/a b/x/9", false), ("ab/ba", true), ("a|b", false)])),
    (&["**^*", "!/**?"], Some(&[("[a]/ab", true), ("[a]/b.x/*/a9", false), ("a", false), ("a.b/xa/^a", true), ("a9", true), ("x/9/b.x", false)])),
    (&["!/a/", "****", "[ab]*x", "!/*/****x"], Some(&[(".a", true), ("a.b/xa/x/a{2}", false), ("a{2}/9", true), ("bb/a^/*", true)])),
    (
        &[" [^/]${*+", "[^a]", "[!a]**/[ab]*", "..[a-c]?**"],
        Some(&[("a", false), ("a*b", false), ("a|b", false), ("b/a/*", true), ("x/ab", true), ("x/bb/a/.a", true)]),
    ),
    (&[" ?"], Some(&[("*/ab/*", true), ("9/a|b/ba", true), ("9/xa", true), ("[a]/^a", false), ("aa", false), ("b.x/aa", false)])),
    (
        &["x", "([[:^alpha:]x][^[:alpha:]]", "# \\[/\\|\\[", "!\\[/[\\]a]{*"],
        Some(&[("^a/[a]/a b/a.b", false), ("aa", false), ("b/a|b/ab", false), ("x/a9", true), ("x/ab/a/a", true)]),
    ),
    (&["[^a][ab][^a]/*/", "!/\\*", "!/**/*xx"], Some(&[("9", false), ("[a]/b/a9", true), ("a*b/a/a9", false), ("a|b/ba", false)])),
    (&[" \tb\t"], Some(&[("a*b/x", false), ("ab", false), ("b/a|b/a^/a b", true), ("x/a{2}/xa", false)])),
    (
        &["//**/**^/", "# ^[^a][^a]*a/", "/****[^a]**/"],
        Some(&[("a^/aa/a|b", false), ("ab/a", false), ("a|b", false), ("a|b/bb/b.x/b", true), ("b.x/b/^a", true), ("ba/xa", true)]),
    ),
    (&["[ab]", "\\.[\\]a][!a]a\\.", " a\\[[!a]bb\\[", " \t]"], Some(&[("[a]/a9/a|b", false), ("^a", false), ("a", true), ("bb/a b/xa", false)])),
    (&["\\**[^a]", "!**/\\*[^a]x", "?"], Some(&[("[a]/a^", false), ("a{2}", false), ("x/b.x/^a/aa", true), ("xa/a b", false)])),
    (&["# [^/]-[!a]", "?", "!/.**^[[:alpha:]]", "!/(..]"], Some(&[("a b", false), ("a*b/aa/bb", false), ("a/a9/xa/bb", true), ("b/a*b", true), ("ba", false)])),
    (&["x"], Some(&[("9/b", false), ("a9/xa", false), ("x/[a]", true), ("xa/a|b", false)])),
    (
        &["!..[^[:alpha:]]a?x[\\]a]", "[b[[:digit:]][^[:alpha:]]", "b[[:alpha:]]", "/[^/][!a]/){\\."],
        Some(&[("a/*", false), ("a^/bb", false), ("a{2}/a/a|b/a^", false), ("ba/a9/9/x", true), ("ba/aa/.a/ab", true)]),
    ),
    (&["***.\\*", "./ab", "****//**b/", "# /x[ab]bb\\*"], Some(&[(".a", false), ("^a/a9/.a/a.b", false), ("a{2}/a^/b/b", true), ("x", false)])),
    (
        &[" /**[^/]", "!/[!a]  [[:^alpha:]x]", "/[\\]a]", "# x([^/]+[a-c]{1,}"],
        Some(&[("[a]/^a", false), ("a.b/a/xa", true), ("a9/x/a|b", true), ("a9/xa", false), ("aa", false), ("x/a9/bb/ab", true)]),
    ),
    (&["^[ab].**", "!/[^a]"], Some(&[("[a]", false), ("a.b/^a/b.x", true), ("ab", false), ("a|b", false)])),
    (&["]}/[^a]", "/.[\\]a]"], Some(&[("*/ba/a b", false), (".a/bb/aa/a9", true), ("^a", false), ("x/a^/a|b/a", false)])),
    (
        &["!\\[!**//([^a]", "[\\]a]**", "|b$ ", "!/*)!a"],
        Some(&[("*/9", false), ("a/aa", true), ("a^/9", true), ("ab", true), ("b.x/[a]", false), ("x/a{2}/ba/x", false)]),
    ),
    (&["!"], None),
    (&["^", "!/[!a]-[\\*", "*\\|[^/]", "# \t*\\*[a-c]"], None),
    (&["#{1,}-[0-9]x", "/\t[[:^alpha:]x][a-c]", "!/[{2}"], None),
    (&["!", "!/[ab]{1,}[^a][[!a]\\|", "/{1,}\\.)**/[ab]*"], None),
    (&["[!a][a-c]|-#\\*", "/[^a]\\"], None),
    (&["# \\.[[:alpha:]]}[0-9][a-c]\\.", "/[\\]a]#\\*^!", "![**/a\t^{2}"], None),
    (&["[-", "/[^[:alpha:]][ab]"], None),
    (&[" ^\t{", "**/**[\\]a]\\.^)", "/[^a]\\(", "!/#[\t\\.**/"], None),
    (&["[[:^alpha:]x]bbx*[\\]a]", "# \\**/[ab]*.^[[:digit:]]", "\\[[[:^alpha:]x]/**[9"], None),
    (&["/**?.]+", "!}^[ab][[:alpha:]]\\"], None),
    (&["[a-c]*{1,}[^/])"], None),
    (&["!"], None),
];
