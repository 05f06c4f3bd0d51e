//! Container events (`rde events`), as docker's: one JSON object per line in
//! `<root>/events-v1.jsonl`, appended by whoever causes them (the CLI: create, kill, stop,
//! destroy, pause, unpause; the shim: start, die, restart, health_status). A write is one
//! `O_APPEND` write of one line; past 4 MiB the file becomes `events-v1.jsonl.1` (one kept).

use super::state::{ContainerRecord, Containers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};

const ROTATE_AT: u64 = 4 << 20;

/// docker's event message (`docker events --format json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    /// image, name, the container's labels, and what the action adds (exitCode, signal).
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// docker's text line: `2026-12-01T18:00:00.123456789Z container start ID (image=busybox, name=web)`.
    pub fn line(&self) -> String {
        let attributes: Vec<String> = self.attributes_in_docker_order().iter().map(|(k, v)| format!("{k}={v}")).collect();
        let time = crate::time::format_rfc3339(self.time, (self.time_nano % 1_000_000_000) as u32);
        format!("{time} {} {} {} ({})", self.kind, self.action, self.actor.id, attributes.join(", "))
    }

    fn attributes_in_docker_order(&self) -> Vec<(&String, &String)> {
        let mut list: Vec<(&String, &String)> = self.actor.attributes.iter().collect();
        list.sort_by_key(|(k, _)| (k.as_str() != "image", k.as_str() != "name", k.as_str() != "exitCode", *k));
        list
    }
}

/// The journal's path.
pub fn journal(containers: &Containers) -> PathBuf {
    containers.data_dir().join("events-v1.jsonl")
}

/// Appends `action` for `record` (with `extra` attributes); failures are ignored: events
/// are a view, never a reason for an operation to fail.
pub fn record(containers: &Containers, record: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
    let mut attributes: BTreeMap<String, String> = record.labels.clone().into_iter().collect();
    attributes.insert("image".into(), record.image.clone());
    attributes.insert("name".into(), record.name.clone());
    attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    append_event(containers, &record.id, action, attributes);
}

fn append_event(containers: &Containers, id: &str, action: &str, attributes: BTreeMap<String, String>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let event = Event {
        kind: "container".into(),
        action: action.into(),
        actor: Actor { id: id.to_string(), attributes },
        scope: "local".into(),
        time: now.as_secs() as i64,
        time_nano: now.as_nanos() as i64,
    };
    let _ = append(&journal(containers), &event);
}

fn append(path: &Path, event: &Event) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let _ = std::fs::rename(path, path.with_extension("jsonl.1"));
    }
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path)?;
    file.write_all(&line)
}

/// Reads the journal from a point on, following it (rotations included).
pub struct EventReader {
    path: PathBuf,
    file: Option<std::io::BufReader<std::fs::File>>,
    inode: u64,
    partial: String,
}

impl EventReader {
    /// From the end (only new events), or with `history`, from the oldest kept.
    pub fn open(containers: &Containers, history: bool) -> EventReader {
        let path = journal(containers);
        let mut reader = EventReader { path, file: None, inode: 0, partial: String::new() };
        reader.reopen(!history);
        reader
    }

    /// Events kept in the rotated file (older than the current file's).
    pub fn rotated(&self) -> Vec<Event> {
        let Ok(file) = std::fs::File::open(self.path.with_extension("jsonl.1")) else { return Vec::new() };
        std::io::BufReader::new(file).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect()
    }

    fn reopen(&mut self, at_end: bool) {
        use std::os::unix::fs::MetadataExt;
        self.file = std::fs::File::open(&self.path).ok().map(|mut f| {
            self.inode = f.metadata().map(|m| m.ino()).unwrap_or(0);
            if at_end {
                let _ = f.seek(std::io::SeekFrom::End(0));
            }
            std::io::BufReader::new(f)
        });
        self.partial.clear();
    }

    /// What was appended since the last call.
    pub fn read_available(&mut self) -> Vec<Event> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        while let Some(file) = &mut self.file {
            let mut line = String::new();
            match file.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    self.partial.push_str(&line);
                    if self.partial.ends_with('\n') {
                        if let Ok(event) = serde_json::from_str(self.partial.trim_end()) {
                            out.push(event);
                        }
                        self.partial.clear();
                    }
                }
            }
        }
        // Rotated (or made) since: the new file from its start.
        let current = std::fs::metadata(&self.path).map(|m| m.ino()).unwrap_or(0);
        if current != 0 && current != self.inode {
            self.reopen(false);
            out.extend(self.read_available());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_appended_read_back_and_followed_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let id = "a".repeat(64);
        let attributes = |extra: &[(&str, &str)]| {
            let mut a = BTreeMap::from([("image".to_string(), "busybox".to_string()), ("name".to_string(), "web".to_string())]);
            a.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            a
        };
        let mut follower = EventReader::open(&containers, false);
        append_event(&containers, &id, "create", attributes(&[]));
        append_event(&containers, &id, "start", attributes(&[]));
        let got: Vec<String> = follower.read_available().iter().map(|e| e.action.clone()).collect();
        assert_eq!(got, ["create", "start"]);
        // Rotated: the follower goes on in the new file.
        std::fs::rename(journal(&containers), journal(&containers).with_extension("jsonl.1")).unwrap();
        append_event(&containers, &id, "die", attributes(&[("exitCode", "3")]));
        let die = follower.read_available();
        assert_eq!(die.len(), 1);
        assert!(die[0].line().ends_with(&format!("container die {id} (image=busybox, name=web, exitCode=3)")), "{}", die[0].line());
        assert_eq!(EventReader::open(&containers, true).rotated().len(), 2);
    }
}
