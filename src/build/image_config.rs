//! The image config a build edits, kept as JSON so that every field of the
//! base image's config survives (docker's `Shell`, `OnBuild`, `ArgsEscaped`,
//! fields rde does not know). Field names are the OCI image spec's and
//! docker's (`config.Env`, `config.Cmd`, ..., `history`, `rootfs.diff_ids`).

use crate::image::digest::Digest;
use serde_json::{Map, Value, json};

/// An image config under construction.
#[derive(Clone, Debug)]
pub struct ImageConfigJson(pub Value);

impl ImageConfigJson {
    /// The config of `FROM scratch` for this host's platform.
    pub fn scratch() -> ImageConfigJson {
        let (os, arch) = ("linux", crate::image::platform::Platform::host().architecture);
        ImageConfigJson(json!({
            "architecture": arch,
            "os": os,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": []
        }))
    }

    pub fn parse(bytes: &[u8]) -> Result<ImageConfigJson, serde_json::Error> {
        let value: Value = serde_json::from_slice(bytes)?;
        Ok(ImageConfigJson(value))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("config serialises")
    }

    fn config_mut(&mut self) -> &mut Map<String, Value> {
        let root = self.0.as_object_mut().expect("config is an object");
        let c = root.entry("config").or_insert_with(|| json!({}));
        if !c.is_object() {
            *c = json!({});
        }
        c.as_object_mut().expect("object")
    }

    fn config(&self) -> Option<&Map<String, Value>> {
        self.0.get("config").and_then(Value::as_object)
    }

    /// `config.<field>` as a string list (Env, Cmd, Entrypoint, Shell, OnBuild).
    pub fn list(&self, field: &str) -> Option<Vec<String>> {
        let v = self.config()?.get(field)?.as_array()?;
        Some(v.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
    }

    pub fn set_list(&mut self, field: &str, value: Option<Vec<String>>) {
        match value {
            Some(v) => {
                self.config_mut().insert(field.into(), json!(v));
            }
            None => {
                self.config_mut().remove(field);
            }
        }
    }

    pub fn string(&self, field: &str) -> Option<String> {
        self.config()?.get(field)?.as_str().map(str::to_string)
    }

    pub fn set_string(&mut self, field: &str, value: &str) {
        self.config_mut().insert(field.into(), json!(value));
    }

    /// Add keys to a `{"key": {}}` set (ExposedPorts, Volumes).
    pub fn add_to_set(&mut self, field: &str, keys: &[String]) {
        let set = self.config_mut().entry(field).or_insert_with(|| json!({}));
        if !set.is_object() {
            *set = json!({});
        }
        for k in keys {
            set.as_object_mut().expect("object").insert(k.clone(), json!({}));
        }
    }

    pub fn set_label(&mut self, key: &str, value: &str) {
        let labels = self.config_mut().entry("Labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        labels.as_object_mut().expect("object").insert(key.into(), json!(value));
    }

    pub fn set_value(&mut self, field: &str, value: Option<Value>) {
        match value {
            Some(v) => {
                self.config_mut().insert(field.into(), v);
            }
            None => {
                self.config_mut().remove(field);
            }
        }
    }

    /// The environment as (name, value) pairs, in order.
    pub fn env(&self) -> Vec<(String, String)> {
        self.list("Env").unwrap_or_default().iter().map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into()))).collect()
    }

    /// Set one variable: replaced in place when present, else appended (docker's order).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let mut env = self.list("Env").unwrap_or_default();
        let line = format!("{name}={value}");
        match env.iter_mut().find(|l| l.split_once('=').map_or(l.as_str(), |(k, _)| k) == name) {
            Some(l) => *l = line,
            None => env.push(line),
        }
        self.set_list("Env", Some(env));
    }

    pub fn created(&self) -> Option<String> {
        self.0.get("created").and_then(Value::as_str).map(str::to_string)
    }

    pub fn set_created(&mut self, created: &str) {
        self.0.as_object_mut().expect("object").insert("created".into(), json!(created));
    }

    /// Append a history entry (OCI image spec `history`): `empty_layer` for a step that adds no layer.
    pub fn push_history(&mut self, created_by: &str, empty_layer: bool) {
        let created = self.created();
        let root = self.0.as_object_mut().expect("object");
        let history = root.entry("history").or_insert_with(|| json!([]));
        if !history.is_array() {
            *history = json!([]);
        }
        let mut entry = json!({"created_by": created_by, "comment": "rde.dockerfile.v0"});
        if let Some(c) = created {
            entry["created"] = json!(c);
        }
        if empty_layer {
            entry["empty_layer"] = json!(true);
        }
        history.as_array_mut().expect("array").push(entry);
    }

    pub fn push_diff_id(&mut self, diff_id: &Digest) {
        let root = self.0.as_object_mut().expect("object");
        let rootfs = root.entry("rootfs").or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        if let Some(ids) = rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            ids.push(json!(diff_id.to_string()));
        } else {
            rootfs["diff_ids"] = json!([diff_id.to_string()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_and_env_keeps_its_order() {
        let mut c = ImageConfigJson::parse(br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","LANG=C"],"ArgsEscaped":true},"rootfs":{"type":"layers","diff_ids":[]},"x-vendor":1}"#).unwrap();
        c.set_env("PATH", "/usr/bin");
        c.set_env("NEW", "1");
        assert_eq!(c.list("Env").unwrap(), vec!["PATH=/usr/bin", "LANG=C", "NEW=1"]);
        c.push_history("RUN true", false);
        c.push_diff_id(&Digest::of(b"x"));
        let v = &c.0;
        assert_eq!(v["x-vendor"], 1);
        assert_eq!(v["config"]["ArgsEscaped"], true);
        assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
        assert_eq!(v["history"][0]["created_by"], "RUN true");
    }
}
