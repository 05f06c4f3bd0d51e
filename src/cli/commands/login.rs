use crate::cli::args::LoginArgs;
use crate::cli::context::Context;
use crate::image::auth::{Credentials, DockerConfig};
use std::io::{BufRead, IsTerminal, Write};

pub fn run(ctx: &Context, args: LoginArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let registry = crate::image::auth::registry_host(args.server.as_deref());
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username: ")?,
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        printer.warn("using --password on the command line is insecure; use --password-stdin");
        p
    } else {
        prompt("Password: ")?
    };
    anyhow::ensure!(!username.is_empty() && !password.is_empty(), "username and password are required");
    let creds = Credentials::basic(username, password);
    ctx.registry()?.verify_login(&registry, &creds)?;
    let mut config = DockerConfig::load()?;
    config.store(&registry, &creds)?;
    printer.result("Login Succeeded");
    Ok(0)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    anyhow::ensure!(std::io::stdin().is_terminal(), "no terminal to ask on; hint: pass --username and --password-stdin");
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
