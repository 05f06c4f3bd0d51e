//! What a build takes from outside its context, found without building: the
//! images it starts from or copies out of (FROM, COPY --from, RUN --mount
//! from=, named contexts `docker-image://REF`) and the URLs ADD downloads.
//! `rde lock` pins these. Variables are expanded as the build would: global
//! ARGs for FROM; the stage's ARGs and ENVs for the rest (a base image's ENV is
//! not known here, so a URL built from one is left as written).

use super::dockerfile::{Dockerfile, Kind, Source};
use super::shell_lex::Lexer;
use super::{BuildError, BuildOptions, DockerfileSource, global_args, mounts, needed_stages};
use std::collections::{BTreeSet, HashMap};

/// A build's outside inputs, as written after expansion (`python:3`,
/// `https://host/file`), sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildInputs {
    pub images: BTreeSet<String>,
    pub urls: BTreeSet<String>,
}

/// The outside inputs of the build `opts` describes (its target's stages only).
/// Errors: the Dockerfile cannot be read or parsed, or the target is unknown.
pub fn inputs(opts: &BuildOptions) -> Result<BuildInputs, BuildError> {
    let (text, file) = match &opts.dockerfile {
        DockerfileSource::Path(p) => {
            (std::fs::read_to_string(p).map_err(|source| BuildError::ReadDockerfile { path: p.clone(), source })?, p.display().to_string())
        }
        DockerfileSource::Text(t) => (t.clone(), "Dockerfile".to_string()),
    };
    let dockerfile = Dockerfile::parse(&text, &file)?;
    let lexer = Lexer::new(dockerfile.escape);
    let (global, _) = global_args(&dockerfile, &lexer, &opts.build_args)?;
    let global: HashMap<String, String> = global.into_iter().collect();
    let target = match &opts.target {
        Some(t) => dockerfile.stage_index(t, dockerfile.stages.len()).ok_or_else(|| BuildError::UnknownTarget(t.clone()))?,
        None => dockerfile.stages.len() - 1,
    };
    let mut out = BuildInputs::default();
    // An image, a stage or a named context, as FROM/--from name them.
    let take = |name: &str, stage: usize, out: &mut BuildInputs| {
        if name.eq_ignore_ascii_case("scratch") || dockerfile.stage_index(name, stage).is_some() || name.parse::<usize>().is_ok() {
            return;
        }
        match opts.named_contexts.get(name) {
            Some(value) => {
                if let Some(image) = value.strip_prefix("docker-image://") {
                    out.images.insert(image.to_string());
                }
            }
            None => {
                out.images.insert(name.to_string());
            }
        }
    };
    for i in needed_stages(&dockerfile, &lexer, &global, target) {
        let stage = &dockerfile.stages[i];
        take(&lexer.expand_word(&stage.base, &global).unwrap_or_else(|_| stage.base.clone()), i, &mut out);
        let mut env: HashMap<String, String> = HashMap::new();
        let expand = |env: &HashMap<String, String>, w: &str| lexer.expand_word(w, env).unwrap_or_else(|_| w.to_string());
        for ins in &stage.instructions {
            match &ins.kind {
                Kind::Arg(pairs) => {
                    for (name, default) in pairs {
                        let value =
                            opts.build_args.get(name).cloned().or_else(|| default.as_deref().map(|d| expand(&env, d))).or_else(|| global.get(name).cloned());
                        if let Some(v) = value {
                            env.insert(name.clone(), v);
                        }
                    }
                }
                Kind::Env(pairs) => {
                    for (name, value) in pairs {
                        let v = expand(&env, value.as_deref().unwrap_or(""));
                        env.insert(name.clone(), v);
                    }
                }
                Kind::Copy { add, flags, sources, .. } => match &flags.from {
                    Some(from) => take(&expand(&env, from), i, &mut out),
                    None if *add => {
                        for source in sources {
                            if let Source::Path(p) = source {
                                let p = expand(&env, p);
                                if p.starts_with("http://") || p.starts_with("https://") {
                                    out.urls.insert(p);
                                }
                            }
                        }
                    }
                    None => {}
                },
                Kind::Run { mounts: list, .. } => {
                    for from in list.iter().filter_map(|m| mounts::from_option(m)) {
                        take(&expand(&env, &from), i, &mut out);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(dockerfile: &str, args: &[(&str, &str)], target: Option<&str>) -> BuildInputs {
        let opts = BuildOptions {
            dockerfile: DockerfileSource::Text(dockerfile.to_string()),
            build_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            target: target.map(str::to_string),
            ..Default::default()
        };
        inputs(&opts).unwrap()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bases_copy_from_images_and_add_urls_are_found_stages_and_scratch_are_not() {
        let found = of(
            "ARG PY=3.12\nFROM python:${PY}-slim AS base\nARG FILE=w.sh\nENV HOST=files.example\nADD https://${HOST}/${FILE} /\nADD local.txt /\n\
             FROM base AS app\nCOPY --from=busybox:1 /bin/sh /sh\nCOPY --from=base /x /x\nRUN --mount=type=bind,from=alpine:3,target=/a true\n\
             FROM scratch\nCOPY --from=app / /\n",
            &[("FILE", "other.sh")],
            None,
        );
        assert_eq!(found.images, set(&["alpine:3", "busybox:1", "python:3.12-slim"]));
        assert_eq!(found.urls, set(&["https://files.example/other.sh"]));
    }

    #[test]
    fn only_the_targets_stages_count_and_build_args_choose_the_base() {
        let text = "ARG BASE=debian:12\nFROM ${BASE} AS one\nFROM node:20 AS two\n";
        assert_eq!(of(text, &[], Some("one")).images, set(&["debian:12"]));
        assert_eq!(of(text, &[("BASE", "ubuntu:24.04")], Some("one")).images, set(&["ubuntu:24.04"]));
        assert_eq!(of(text, &[], None).images, set(&["node:20"]));
    }

    #[test]
    fn named_contexts_stand_for_what_they_name() {
        let mut opts = BuildOptions { dockerfile: DockerfileSource::Text("FROM base\nCOPY --from=files / /\n".into()), ..Default::default() };
        opts.named_contexts.insert("base".into(), "docker-image://alpine:3.20".into());
        opts.named_contexts.insert("files".into(), "/some/dir".into());
        assert_eq!(inputs(&opts).unwrap().images, set(&["alpine:3.20"]));
    }
}
