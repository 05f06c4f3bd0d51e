//! `--user` / image `User` resolution through the image's /etc/passwd and
//! /etc/group, as docker does: `name`, `uid`, `name:group`, `uid:gid`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in the image's /etc/passwd")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in the image's /etc/group")]
    NoGroup(String),
}

/// Resolve `spec` (empty means root) against the image's passwd and group files.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = passwd.lines().filter_map(parse_passwd).find(|e| e.name == user_part || user_part.parse::<u32>() == Ok(e.uid));
    let (uid, mut gid, home, name) = match (entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name.to_string())),
        // A numeric uid need not exist in the image.
        (None, Ok(uid)) => (uid, uid, "/".to_string(), None),
        (None, Err(_)) => return Err(UserError::NoUser(user_part.to_string())),
    };
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        gid = match group.lines().filter_map(parse_group).find(|e| e.name == g || g.parse::<u32>() == Ok(e.gid)) {
            Some(e) => e.gid,
            None => g.parse::<u32>().map_err(|_| UserError::NoGroup(g.to_string()))?,
        };
    }
    let mut additional_gids: Vec<u32> = match (&name, group_part) {
        // Supplementary groups come from membership, unless a group was forced.
        (Some(name), None) => group.lines().filter_map(parse_group).filter(|e| e.members.contains(&name.as_str())).map(|e| e.gid).collect(),
        _ => Vec::new(),
    };
    additional_gids.retain(|g| *g != gid);
    additional_gids.dedup();
    Ok(ResolvedUser { uid, gid, additional_gids, home })
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn parse_passwd(line: &str) -> Option<PasswdEntry<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 6 || line.starts_with('#') {
        return None;
    }
    Some(PasswdEntry { name: f[0], uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5] })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_group(line: &str) -> Option<GroupEntry<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 3 || line.starts_with('#') {
        return None;
    }
    let members = f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    Some(GroupEntry { name: f[0], gid: f[2].parse().ok()?, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\npostgres:x:100:102::/var/lib/postgresql:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nssl-cert:x:101:postgres\npostgres:x:102:\napp:x:1000:\nstaff:x:50:app,postgres\n";

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(resolve("", PASSWD, GROUP).unwrap(), ResolvedUser { uid: 0, gid: 0, additional_gids: vec![], home: "/root".into() });
        let pg = resolve("postgres", PASSWD, GROUP).unwrap();
        assert_eq!((pg.uid, pg.gid, pg.home.as_str()), (100, 102, "/var/lib/postgresql"));
        assert_eq!(pg.additional_gids, [101, 50]);
        assert_eq!(resolve("1000", PASSWD, GROUP).unwrap().home, "/home/app");
        let forced = resolve("app:staff", PASSWD, GROUP).unwrap();
        assert_eq!((forced.uid, forced.gid, forced.additional_gids.len()), (1000, 50, 0));
        assert_eq!(resolve("4242:4343", PASSWD, GROUP).unwrap(), ResolvedUser { uid: 4242, gid: 4343, additional_gids: vec![], home: "/".into() });
        assert_eq!(resolve("nobody", PASSWD, GROUP), Err(UserError::NoUser("nobody".into())));
        assert_eq!(resolve("app:wheel", PASSWD, GROUP), Err(UserError::NoGroup("wheel".into())));
    }
}
