//! Compose projects at run time: a loaded, locked project (`session`), its
//! services' image builds (`build`), the pins of `rde.lock` (`lock`) and `up`'s
//! converge step (`converge`), with their errors (`error`); what a project's
//! containers are called and labelled (`names`), in which order services start
//! (`order`), how a service becomes a container (`plan`), and waiting for
//! `depends_on` conditions and `up --wait` (`wait`). The commands in `cli/` parse
//! flags, call these and print.

pub mod build;
pub mod converge;
pub mod error;
pub mod lock;
pub mod names;
pub mod order;
pub mod parallel;
pub mod plan;
pub mod session;
pub mod wait;

pub use build::{BuildFlags, BuildPolicy};
pub use converge::Converge;
pub use error::ProjectError;
pub use session::{PullPolicy, Session};
