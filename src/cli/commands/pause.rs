//! `rde pause|unpause [SERVICE...]` (compose's) and `rde container pause|unpause CONTAINER...`.

use crate::cli::compose_args::ServicesArgs;
use crate::cli::context::Context;
use crate::runtime::pause;
use crate::runtime::state::{ContainerRecord, Containers};

pub fn containers(ctx: &Context, names: Vec<String>, freeze: bool) -> anyhow::Result<i32> {
    super::each_container(ctx, &names, |containers, record| Ok(apply(containers, record, freeze)?))
}

pub fn services(ctx: &Context, args: ServicesArgs, freeze: bool) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let mut failed = false;
    for r in session.selected(&args.services, false)? {
        // Compose pauses what runs and unpauses what is paused; the others are left alone.
        if freeze != pause::is_paused(&r) && (!freeze || session.containers.observe(&r.id) == crate::runtime::state::Observed::Running) {
            match apply(&session.containers, &r, freeze) {
                Ok(()) => session.printer.step("Container", &r.name, if freeze { "Paused" } else { "Unpaused" }),
                Err(e) => {
                    session.printer.error(e.to_string());
                    failed = true;
                }
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn apply(containers: &Containers, record: &ContainerRecord, freeze: bool) -> Result<(), pause::PauseError> {
    if freeze { pause::pause(containers, record) } else { pause::unpause(containers, record) }
}
