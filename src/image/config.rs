//! The image configuration blob: what a container of the image runs by default.

use super::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest image config rde reads. Configs are kilobytes (history entries
/// included); this bounds what a registry can make rde hold in memory.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A config that cannot describe the image its manifest lists.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("rootfs.type is {0:?}, not \"layers\"")]
    RootfsType(String),
    #[error("the manifest lists {layers} layer(s) but its rootfs.diff_ids has {diff_ids}")]
    LayerCount { diff_ids: usize, layers: usize },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
}

/// Docker's capitalised field names, as both Docker and OCI configs use them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Nanoseconds, as Docker stores them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

/// The docker-only fields of `config` that the OCI image spec leaves out.
#[derive(Default, Deserialize)]
struct DockerExtension {
    #[serde(default)]
    config: Option<DockerRunExtension>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerRunExtension {
    #[serde(default)]
    healthcheck: Option<Healthcheck>,
}

impl ImageConfig {
    /// Read a config blob: the OCI image spec's fields through oci-spec's
    /// `image::ImageConfiguration`, docker's `Healthcheck` beside them.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
        // The spec requires architecture and os; images without them exist and still run.
        if let Some(object) = value.as_object_mut() {
            for field in ["architecture", "os"] {
                object.entry(field).or_insert_with(|| serde_json::json!(""));
            }
        }
        let docker: DockerExtension = serde_json::from_value(value.clone())?;
        let spec: oci_spec::image::ImageConfiguration = serde_json::from_value(value)?;
        let set = |v: &Option<Vec<String>>| v.as_ref().map(|keys| keys.iter().map(|k| (k.clone(), serde_json::json!({}))).collect::<BTreeMap<_, _>>());
        let config = spec.config().as_ref().map(|c| RunConfig {
            user: c.user().clone(),
            env: c.env().clone(),
            entrypoint: c.entrypoint().clone(),
            cmd: c.cmd().clone(),
            working_dir: c.working_dir().clone(),
            exposed_ports: set(c.exposed_ports()),
            volumes: set(c.volumes()),
            labels: c.labels().as_ref().map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            stop_signal: c.stop_signal().clone(),
            healthcheck: docker.config.and_then(|d| d.healthcheck),
        });
        let diff_ids = spec
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse::<Digest>().map_err(|_| <serde_json::Error as serde::de::Error>::custom(format!("rootfs.diff_ids: {d:?} is not a sha256 digest"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ImageConfig {
            architecture: spec.architecture().to_string(),
            os: spec.os().to_string(),
            variant: spec.variant().clone(),
            created: spec.created().clone(),
            config: config.unwrap_or_default(),
            rootfs: RootFs { kind: spec.rootfs().typ().clone(), diff_ids },
        })
    }

    /// Check the config against a manifest with `layers` layers, before any layer
    /// is fetched: `rootfs.type` must be `layers` and there must be one diff id per
    /// layer (OCI image spec, config `rootfs`; docker refuses a mismatch too).
    pub fn check_layers(&self, layers: usize) -> Result<(), ConfigError> {
        if self.rootfs.kind != "layers" {
            return Err(ConfigError::RootfsType(self.rootfs.kind.clone()));
        }
        if self.rootfs.diff_ids.len() != layers {
            return Err(ConfigError::LayerCount { diff_ids: self.rootfs.diff_ids.len(), layers });
        }
        Ok(())
    }

    pub fn platform(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_docker_config() {
        let json = r#"{"architecture":"amd64","os":"linux","created":"2024-05-01T10:00:00.5Z",
            "config":{"Env":["PATH=/usr/bin","PGDATA=/var/lib/postgresql/data"],"Entrypoint":["docker-entrypoint.sh"],
              "Cmd":["postgres"],"ExposedPorts":{"5432/tcp":{}},"Volumes":{"/var/lib/postgresql/data":{}},
              "StopSignal":"SIGINT","Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Retries":3}},
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
            "history":[]}"#;
        let c = ImageConfig::parse(json.as_bytes()).unwrap();
        assert_eq!(c.config.cmd.as_deref(), Some(&["postgres".to_string()][..]));
        assert_eq!(c.config.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.config.healthcheck.as_ref().unwrap().retries, Some(3));
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.platform(), "linux/amd64");
        assert_eq!(c.check_layers(1), Ok(()));
    }

    #[test]
    fn refuses_configs_that_do_not_fit_the_manifest() {
        let config = |kind: &str, ids: usize| {
            let ids = vec![format!("\"sha256:{}\"", "e".repeat(64)); ids].join(",");
            ImageConfig::parse(format!(r#"{{"rootfs":{{"type":"{kind}","diff_ids":[{ids}]}}}}"#).as_bytes()).unwrap()
        };
        assert_eq!(config("layers", 2).check_layers(3), Err(ConfigError::LayerCount { diff_ids: 2, layers: 3 }));
        assert_eq!(config("layers", 3).check_layers(2), Err(ConfigError::LayerCount { diff_ids: 3, layers: 2 }));
        assert_eq!(config("layers", 0).check_layers(0), Ok(()));
        let err = config("layers+base", 1).check_layers(1).unwrap_err();
        assert_eq!(err.to_string(), r#"rootfs.type is "layers+base", not "layers""#);
        assert!(ImageConfig::parse(br#"{"architecture":"amd64"}"#).is_err(), "a config without rootfs is refused");
    }
}
