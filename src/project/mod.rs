//! Compose projects at run time: what a project's containers are called and
//! labelled (`names`), in which order services start (`order`), how a service
//! becomes a container (`plan`), and waiting for `depends_on` conditions and
//! `up --wait` (`wait`). The commands that drive them live in `cli/project.rs`.

pub mod names;
pub mod order;
pub mod plan;
pub mod wait;
