//! The Dockerfile front end: the text (parsed by the `parse-dockerfile` crate,
//! which knows directives, continuations, comments and heredocs) as rde's
//! instruction model, each instruction with its line, its flags checked
//! against what BuildKit's dockerfile frontend accepts for it. Nothing is
//! expanded here: variables depend on the stage, see `build::shell_lex`.

use parse_dockerfile as pd;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", hint.as_ref().map(|h| format!("; hint: {h}")).unwrap_or_default())]
pub struct DockerfileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// A parsed Dockerfile: the global `ARG`s before the first `FROM`, then the stages.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The file's name as errors show it.
    pub file: String,
    /// The `escape` parser directive: `\` or `` ` ``.
    pub escape: char,
    pub global_args: Vec<Located<NameValues>>,
    pub stages: Vec<Stage>,
}

/// `NAME[=value]` pairs, as ARG, ENV and LABEL take them (values unexpanded).
pub type NameValues = Vec<(String, Option<String>)>;

/// A value with the line (1-based) of the instruction it came from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub line: usize,
    pub value: T,
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// `AS name`, lowercased as BuildKit compares stage names.
    pub name: Option<String>,
    /// The base, unexpanded (`python:3`, `${BASE}`, `scratch`, a stage name).
    pub base: String,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone)]
pub struct Instruction {
    pub line: usize,
    /// The instruction as written, continuations joined (for progress lines and history).
    pub text: String,
    pub kind: Kind,
}

/// Exec form (a JSON array, never expanded) or shell form (one string for the shell).
#[derive(Debug, Clone, PartialEq)]
pub enum CommandForm {
    Exec(Vec<String>),
    Shell(String),
}

/// A COPY/ADD source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(String),
    /// `COPY <<EOF /dest`: the document becomes a file.
    HereDoc {
        name: String,
        content: String,
        expand: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CopyFlags {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthcheckSpec {
    /// `None` for `HEALTHCHECK NONE`.
    pub command: Option<CommandForm>,
    /// `--interval`, `--timeout`, `--start-period`, `--start-interval`, `--retries`, unparsed.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Run {
        mounts: Vec<String>,
        network: Option<String>,
        security: Option<String>,
        command: CommandForm,
        heredocs: Vec<Heredoc>,
    },
    Copy {
        add: bool,
        flags: CopyFlags,
        sources: Vec<Source>,
        dest: String,
    },
    Env(Vec<(String, Option<String>)>),
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, Option<String>)>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(HealthcheckSpec),
    /// The trigger instruction's text, run when a build starts FROM this image.
    Onbuild(String),
    Maintainer(String),
}

impl Dockerfile {
    /// Parse `text`; `file` names it in errors (`Dockerfile:3:1: unknown instruction FOO`).
    pub fn parse(text: &str, file: &str) -> Result<Dockerfile, DockerfileError> {
        let parsed = pd::parse(text).map_err(|e| {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            let hint = message
                .starts_with("unknown instruction")
                .then(|| "instructions are FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, CMD, ENTRYPOINT, ...".to_string());
            DockerfileError { file: file.to_string(), line: e.line().max(1), column: e.column().max(1), message, hint }
        })?;
        let escape = parsed.parser_directives.escape.as_ref().map_or('\\', |d| d.value.value);
        let lines = LineIndex::new(text);
        let mut out = Dockerfile { file: file.to_string(), escape, global_args: Vec::new(), stages: Vec::new() };
        let conv = Converter { text, file, escape, lines: &lines };
        for instruction in &parsed.instructions {
            let start = instruction_start(instruction);
            let line = lines.line(start);
            match instruction {
                pd::Instruction::From(from) => {
                    let mut platform = None;
                    for flag in &from.options {
                        match flag.name.value.as_ref() {
                            "platform" => platform = flag.value.as_ref().map(|v| v.value.to_string()),
                            other => return Err(conv.error(flag.name.span.start, format!("unknown flag: --{other}"), Some("FROM takes --platform"))),
                        }
                    }
                    out.stages.push(Stage {
                        name: from.as_.as_ref().map(|(_, n)| n.value.to_ascii_lowercase()),
                        base: from.image.value.to_string(),
                        platform,
                        line,
                        instructions: Vec::new(),
                    });
                }
                pd::Instruction::Arg(arg) if out.stages.is_empty() => {
                    out.global_args.push(Located { line, value: conv.name_values(&arg.arguments, false)? });
                }
                other => {
                    let Some(stage) = out.stages.last_mut() else {
                        return Err(conv.error(
                            start,
                            "no FROM before this instruction".into(),
                            Some("a Dockerfile starts with FROM (only ARG may come before it)"),
                        ));
                    };
                    let kind = conv.kind(other)?;
                    stage.instructions.push(Instruction { line, text: conv.display(other), kind });
                }
            }
        }
        if out.stages.is_empty() {
            return Err(DockerfileError {
                file: file.into(),
                line: 1,
                column: 1,
                message: "the Dockerfile has no FROM".into(),
                hint: Some("start it with e.g. `FROM debian:12`".into()),
            });
        }
        Ok(out)
    }

    /// The index of the stage `name` (an `AS` name, or a number) refers to, among the first `before` stages.
    pub fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self.stages[..before].iter().position(|s| s.name.as_deref() == Some(lower.as_str())) {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|&i| i < before)
    }
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }
    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
    fn column(&self, offset: usize) -> usize {
        offset - self.starts[self.line(offset) - 1] + 1
    }
}

fn instruction_start(i: &pd::Instruction) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

struct Converter<'a> {
    text: &'a str,
    file: &'a str,
    escape: char,
    lines: &'a LineIndex,
}

impl Converter<'_> {
    fn error(&self, offset: usize, message: String, hint: Option<&str>) -> DockerfileError {
        DockerfileError {
            file: self.file.to_string(),
            line: self.lines.line(offset),
            column: self.lines.column(offset),
            message,
            hint: hint.map(str::to_string),
        }
    }

    /// The instruction's source, continuations joined, for display.
    fn display(&self, i: &pd::Instruction) -> String {
        let start = instruction_start(i);
        // From the keyword to the end of its logical line (heredoc bodies left out).
        let mut end = start;
        let bytes = self.text.as_bytes();
        loop {
            let nl = self.text[end..].find('\n').map_or(self.text.len(), |n| end + n);
            let body = self.text[end..nl].trim_end();
            end = nl;
            if body.ends_with(self.escape) && nl < bytes.len() {
                end += 1;
                continue;
            }
            break;
        }
        join_continuations(&self.text[start..end], self.escape)
    }

    fn command(&self, c: &pd::Command) -> CommandForm {
        match c {
            pd::Command::Exec(args) => CommandForm::Exec(args.value.iter().map(|a| a.value.to_string()).collect()),
            pd::Command::Shell(s) => CommandForm::Shell(join_continuations(s.value, self.escape)),
            _ => CommandForm::Shell(String::new()),
        }
    }

    fn name_values(&self, s: &pd::UnescapedString, legacy: bool) -> Result<Vec<(String, Option<String>)>, DockerfileError> {
        super::shell_lex::split_name_values(&s.value, self.escape, legacy).map_err(|e| self.error(s.span.start, e.to_string(), None))
    }

    fn check_flags(&self, flags: &[pd::Flag], allowed: &[&str], instruction: &str) -> Result<(), DockerfileError> {
        for flag in flags {
            let name = flag.name.value.as_ref();
            if !allowed.contains(&name) {
                let hint = if allowed.is_empty() { format!("{instruction} takes no flags") } else { format!("{instruction} takes --{}", allowed.join(", --")) };
                return Err(self.error(flag.name.span.start, format!("unknown flag: --{name}"), Some(&hint)));
            }
        }
        Ok(())
    }

    fn kind(&self, i: &pd::Instruction) -> Result<Kind, DockerfileError> {
        use pd::Instruction as I;
        let value = |f: &pd::Flag| f.value.as_ref().map(|v| v.value.to_string()).unwrap_or_default();
        Ok(match i {
            I::Run(run) => {
                self.check_flags(&run.options, &["mount", "network", "security"], "RUN")?;
                let mut mounts = Vec::new();
                let (mut network, mut security) = (None, None);
                for flag in &run.options {
                    match flag.name.value.as_ref() {
                        "mount" => mounts.push(value(flag)),
                        "network" => network = Some(value(flag)),
                        _ => security = Some(value(flag)),
                    }
                }
                let heredocs: Vec<Heredoc> = run
                    .here_docs
                    .iter()
                    .map(|h| Heredoc { name: heredoc_name(self.text, h.span.start), content: h.value.to_string(), expand: h.expand })
                    .collect();
                let command = if heredocs.is_empty() {
                    self.command(&run.arguments)
                } else {
                    // The shell gets the whole text, heredocs included, unless the
                    // command is a lone heredoc (then it is the script: `build::run`).
                    CommandForm::Shell(self.heredoc_command(run))
                };
                Kind::Run { mounts, network, security, command, heredocs }
            }
            I::Copy(copy) => {
                self.check_flags(&copy.options, &["from", "chown", "chmod", "link", "parents", "exclude"], "COPY")?;
                Kind::Copy { add: false, flags: self.copy_flags(&copy.options), sources: self.sources(&copy.src), dest: copy.dest.value.to_string() }
            }
            I::Add(add) => {
                self.check_flags(&add.options, &["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"], "ADD")?;
                Kind::Copy { add: true, flags: self.copy_flags(&add.options), sources: self.sources(&add.src), dest: add.dest.value.to_string() }
            }
            I::Env(env) => {
                let pairs = self.name_values(&env.arguments, true)?;
                if let Some((name, _)) = pairs.iter().find(|(_, v)| v.is_none()) {
                    return Err(self.error(env.arguments.span.start, format!("ENV {name} has no value"), Some("write ENV NAME=VALUE")));
                }
                Kind::Env(pairs)
            }
            I::Arg(arg) => Kind::Arg(self.name_values(&arg.arguments, false)?),
            I::Label(label) => Kind::Label(self.name_values(&label.arguments, true)?),
            I::Expose(e) => Kind::Expose(e.arguments.iter().map(|a| a.value.to_string()).collect()),
            I::Volume(v) => Kind::Volume(match &v.arguments {
                pd::JsonOrStringArray::Json(a) => a.value.iter().map(|s| s.value.to_string()).collect(),
                pd::JsonOrStringArray::String(a) => a.iter().map(|s| s.value.to_string()).collect(),
            }),
            I::User(u) => Kind::User(u.arguments.value.to_string()),
            I::Workdir(w) => Kind::Workdir(w.arguments.value.to_string()),
            I::Cmd(c) => Kind::Cmd(self.command(&c.arguments)),
            I::Entrypoint(e) => Kind::Entrypoint(self.command(&e.arguments)),
            I::Shell(s) => Kind::Shell(s.arguments.iter().map(|a| a.value.to_string()).collect()),
            I::Stopsignal(s) => Kind::StopSignal(s.arguments.value.to_string()),
            I::Healthcheck(h) => {
                self.check_flags(&h.options, &["interval", "timeout", "start-period", "start-interval", "retries"], "HEALTHCHECK")?;
                let options = h.options.iter().map(|f| (f.name.value.to_string(), value(f))).collect();
                let command = match &h.arguments {
                    pd::HealthcheckArguments::Cmd { arguments, .. } => Some(self.command(arguments)),
                    _ => None,
                };
                Kind::Healthcheck(HealthcheckSpec { command, options })
            }
            I::Onbuild(o) => Kind::Onbuild(self.display(&o.instruction).trim().to_string()),
            I::Maintainer(m) => Kind::Maintainer(m.name.value.to_string()),
            _ => return Err(self.error(instruction_start(i), "unsupported instruction".into(), None)),
        })
    }

    fn copy_flags(&self, flags: &[pd::Flag]) -> CopyFlags {
        let mut out = CopyFlags::default();
        for f in flags {
            let v = f.value.as_ref().map(|v| v.value.to_string());
            let on = v.as_deref().is_none_or(|v| v != "false");
            match f.name.value.as_ref() {
                "from" => out.from = v,
                "chown" => out.chown = v,
                "chmod" => out.chmod = v,
                "link" => out.link = on,
                "parents" => out.parents = on,
                "checksum" => out.checksum = v,
                "keep-git-dir" => out.keep_git_dir = on,
                "exclude" => out.exclude.extend(v),
                _ => {}
            }
        }
        out
    }

    fn sources(&self, src: &[pd::Source]) -> Vec<Source> {
        src.iter()
            .map(|s| match s {
                pd::Source::Path(p) => Source::Path(p.value.to_string()),
                pd::Source::HereDoc(h) => Source::HereDoc { name: heredoc_name(self.text, h.span.start), content: h.value.to_string(), expand: h.expand },
                _ => Source::Path(String::new()),
            })
            .collect()
    }

    /// A RUN with heredocs as one shell text: the instruction's line after the
    /// flags, then each document and its terminator, as a shell reads them.
    fn heredoc_command(&self, run: &pd::RunInstruction) -> String {
        let pd::Command::Shell(first) = &run.arguments else { return String::new() };
        // The line holding `<<EOF` starts at the earliest heredoc marker or the shell text.
        let line_start = run.options.last().map_or(run.run.span.end, |f| f.span().end);
        let line_end = self.text[line_start..].find('\n').map_or(self.text.len(), |n| line_start + n);
        let mut out = self.text[line_start..line_end].trim().to_string();
        let _ = first;
        for h in &run.here_docs {
            out.push('\n');
            out.push_str(&h.value);
            out.push_str(&heredoc_name(self.text, h.span.start));
        }
        out
    }
}

/// The delimiter of the heredoc whose body starts at `body_start`: the last
/// `<<[-]["']NAME["']` on the line that introduced it.
fn heredoc_name(text: &str, body_start: usize) -> String {
    let before = &text[..body_start.min(text.len())];
    let line_start = before.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
    let intro = &before[line_start..];
    let mut names = Vec::new();
    let mut rest = intro;
    while let Some(i) = rest.find("<<") {
        let tail = rest[i + 2..].trim_start_matches('-');
        let name: String = tail.trim_start_matches(['"', '\'']).chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.').collect();
        if !name.is_empty() {
            names.push(name);
        }
        rest = &rest[i + 2..];
    }
    names.into_iter().next().unwrap_or_else(|| "EOF".into())
}

/// Join a shell-form text's physical lines as BuildKit does: an escape at the
/// end of a line (trailing blanks allowed) continues it, and comment or blank
/// lines inside the continuation are dropped.
pub fn join_continuations(text: &str, escape: char) -> String {
    let mut out = String::new();
    let mut continuing = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 && continuing {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        let trimmed = line.trim_end_matches([' ', '\t', '\r']);
        if let Some(body) = trimmed.strip_suffix(escape) {
            out.push_str(body);
            continuing = true;
        } else {
            out.push_str(line.trim_end_matches('\r'));
            continuing = false;
            out.push('\n');
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Dockerfile {
        Dockerfile::parse(text, "Dockerfile").unwrap()
    }

    #[test]
    fn stages_global_args_and_lines() {
        let d = parse("# syntax=docker/dockerfile:1\nARG BASE=python:3\nFROM ${BASE} AS Build\nRUN echo hi\n\nFROM build\nCMD [\"python\"]\n");
        assert_eq!(d.global_args.len(), 1);
        assert_eq!(d.global_args[0].value, vec![("BASE".to_string(), Some("python:3".to_string()))]);
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stages[0].name.as_deref(), Some("build"));
        assert_eq!(d.stages[0].line, 3);
        assert_eq!(d.stages[0].instructions[0].line, 4);
        assert_eq!(d.stages[0].instructions[0].text, "RUN echo hi");
        assert_eq!(d.stage_index("BUILD", 1), Some(0));
        assert_eq!(d.stage_index("0", 1), Some(0));
        assert_eq!(d.stage_index("build", 0), None);
        assert_eq!(d.stages[1].instructions[0].kind, Kind::Cmd(CommandForm::Exec(vec!["python".into()])));
    }

    #[test]
    fn continuations_join_and_drop_comment_lines() {
        let d = parse("FROM x\nRUN apt-get update && \\\n# a comment\n    apt-get -y install \\\n    libpq-dev\n");
        let Kind::Run { command, .. } = &d.stages[0].instructions[0].kind else { panic!() };
        assert_eq!(command, &CommandForm::Shell("apt-get update &&     apt-get -y install     libpq-dev".into()));
        let d = parse("# escape=`\nFROM x\nRUN a `\n  b\n");
        assert_eq!(d.escape, '`');
        let Kind::Run { command, .. } = &d.stages[0].instructions[0].kind else { panic!() };
        assert_eq!(command, &CommandForm::Shell("a   b".into()));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = Dockerfile::parse("FROM x\nFOO bar\n", "app/Dockerfile").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.to_string().starts_with("app/Dockerfile:2:1: unknown instruction"), "{e}");
        let e = Dockerfile::parse("FROM x\nCOPY --bogus=1 a b\n", "Dockerfile").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("unknown flag: --bogus"), "{e}");
        let e = Dockerfile::parse("RUN true\n", "Dockerfile").unwrap_err();
        assert!(e.to_string().starts_with("Dockerfile:1:1: expected FROM"), "{e}");
        let e = Dockerfile::parse("FROM x\nENV A\n", "Dockerfile").unwrap_err();
        assert!(e.to_string().starts_with("Dockerfile:2:5: \"A\" has no value"), "{e}");
    }

    #[test]
    fn heredocs_flags_and_copy_sources() {
        let d = parse(
            "FROM x\nRUN <<EOT bash\necho hi $A\nEOT\nCOPY --chown=app:app --chmod=755 a b /app/\nCOPY <<EOF /etc/x\nhello\nEOF\nRUN --mount=type=cache,target=/c --network=none true\n",
        );
        let i = &d.stages[0].instructions;
        let Kind::Run { command, heredocs, .. } = &i[0].kind else { panic!() };
        assert_eq!(command, &CommandForm::Shell("bash\necho hi $A\nEOT".replace("bash", "<<EOT bash")));
        assert_eq!(heredocs[0].name, "EOT");
        let Kind::Copy { add, flags, sources, dest } = &i[1].kind else { panic!() };
        assert!(!add);
        assert_eq!(flags.chown.as_deref(), Some("app:app"));
        assert_eq!(flags.chmod.as_deref(), Some("755"));
        assert_eq!(sources, &vec![Source::Path("a".into()), Source::Path("b".into())]);
        assert_eq!(dest, "/app/");
        let Kind::Copy { sources, dest, .. } = &i[2].kind else { panic!() };
        assert_eq!(sources, &vec![Source::HereDoc { name: "EOF".into(), content: "hello\n".into(), expand: true }]);
        assert_eq!(dest, "/etc/x");
        let Kind::Run { mounts, network, .. } = &i[3].kind else { panic!() };
        assert_eq!(mounts, &vec!["type=cache,target=/c".to_string()]);
        assert_eq!(network.as_deref(), Some("none"));
    }
}
