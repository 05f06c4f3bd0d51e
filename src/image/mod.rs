//! Images: references, the registry client, the verified content store and the
//! layer writer. The data path reads top to bottom: `reference` -> `registry`
//! (+ `auth`, and `crate::settings`) -> `manifest`/`config` -> `pull` -> `unpack` -> `store`.

pub mod archive;
pub mod auth;
pub mod config;
pub mod digest;
pub mod http;
pub mod layer_tar;
pub mod lookup;
pub mod manifest;
pub mod pins;
pub mod platform;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod remove;
pub mod store;
pub mod tar_split;
pub mod unpack;
