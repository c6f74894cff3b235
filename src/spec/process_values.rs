//! Process values that would otherwise fail only inside the init, after
//! the namespaces, cgroup and mounts exist, or pass in a form the spec
//! does not mean: an `env` entry that is not KEY=VALUE (spec::env, which
//! `exec --env` shares), an rlimit type listed twice (the second setrlimit
//! would run against the first one's hard limit) or with its soft limit
//! above the hard one, and an `oomScoreAdj` outside the kernel's range.
//! For config.json's process and `exec --process`, before anything forks.

use anyhow::{Result, bail};

use super::Process;

/// The kernel's range of /proc/PID/oom_score_adj (OOM_SCORE_ADJ_MIN/MAX).
const OOM_SCORE_ADJ: std::ops::RangeInclusive<i32> = -1000..=1000;

pub fn check(p: &Process) -> Result<()> {
    user_ids(p)?;
    if let Some(env) = p.env() {
        super::env::check(env)?;
    }
    let rlimits = p.rlimits().as_deref().unwrap_or_default();
    for (i, r) in rlimits.iter().enumerate() {
        let name = serde_json::to_value(r.typ()).unwrap_or_default();
        let name = name.as_str().unwrap_or("?");
        if rlimits[..i].iter().any(|o| o.typ() == r.typ()) {
            bail!("process.rlimits[{i}].type: {name} listed twice");
        }
        if r.soft() > r.hard() {
            bail!(
                "process.rlimits[{i}]: {name} soft limit {} is above its hard limit {}",
                r.soft(),
                r.hard()
            );
        }
    }
    if let Some(adj) = p.oom_score_adj()
        && !OOM_SCORE_ADJ.contains(&adj)
    {
        bail!("process.oomScoreAdj: {adj} is outside -1000..1000");
    }
    Ok(())
}

/// `process.user.additionalGids` for an error about them: a long list
/// is no help in a message, nor in a caller's log.
pub fn gids_in_message(groups: &[u32]) -> String {
    match groups.len() {
        n @ 17.. => format!("process.user.additionalGids ({n} groups)"),
        _ => format!("process.user.additionalGids {groups:?}"),
    }
}

/// (uid_t)-1 is not a user to the kernel but "leave it unchanged":
/// setresuid(-1, -1, -1) succeeds and the process stays root, so
/// `"uid": 4294967295` (what a 32-bit overflow or "nobody" gone wrong
/// gives) ran the container's process as root. Debug builds'
/// `OUTLET_USER_ID_UNCHECKED=1` (a test's control) lets it through.
fn user_ids(p: &Process) -> Result<()> {
    const UNCHANGED: u32 = u32::MAX;
    const NGROUPS_MAX: usize = 65536;
    if crate::fault::control("OUTLET_USER_ID_UNCHECKED") {
        return Ok(());
    }
    let user = p.user();
    for (field, id) in [("uid", user.uid()), ("gid", user.gid())] {
        if id == UNCHANGED {
            bail!(
                "process.user.{field}: {id} is (uid_t)-1, which the kernel reads as \"unchanged\", not an id"
            );
        }
    }
    let groups = user.additional_gids().as_deref().unwrap_or_default();
    if let Some(i) = groups.iter().position(|&g| g == UNCHANGED) {
        bail!("process.user.additionalGids[{i}]: {UNCHANGED} is (gid_t)-1, not a group");
    }
    // setgroups takes at most NGROUPS_MAX; past it the process failed
    // late, in the container, with every gid in its message (70000 gids:
    // a 450 KB error line). Counted once each, as they are set.
    if groups.len() > NGROUPS_MAX {
        let mut distinct = groups.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > NGROUPS_MAX {
            bail!(
                "process.user.additionalGids: {} groups, more than the kernel's NGROUPS_MAX ({NGROUPS_MAX})",
                distinct.len()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn process(extra: serde_json::Value) -> Process {
        let mut v = json!({"user": {"uid": 0, "gid": 0}, "cwd": "/"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let nofile =
            |soft: u64, hard: u64| json!({"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard});
        for (extra, want) in [
            (
                json!({"env": ["A=1", "NOEQUALS"]}),
                "process.env[1] \"NOEQUALS\": invalid environment variable: no '=' between name and value",
            ),
            (
                json!({"env": ["=x"]}),
                "process.env[0] \"=x\": invalid environment variable: the name is empty",
            ),
            (
                json!({"env": ["A=\u{0}"]}),
                "process.env[0] \"A=\\0\": invalid environment variable: it holds a NUL byte",
            ),
            (
                json!({"rlimits": [nofile(10, 10), nofile(11, 11)]}),
                "process.rlimits[1].type: RLIMIT_NOFILE listed twice",
            ),
            (
                json!({"rlimits": [nofile(20, 10)]}),
                "process.rlimits[0]: RLIMIT_NOFILE soft limit 20 is above its hard limit 10",
            ),
            (
                json!({"oomScoreAdj": 1001}),
                "process.oomScoreAdj: 1001 is outside -1000..1000",
            ),
            (
                json!({"oomScoreAdj": -1001}),
                "process.oomScoreAdj: -1001 is outside -1000..1000",
            ),
        ] {
            let err = check(&process(extra.clone())).unwrap_err().to_string();
            assert_eq!(err, want, "{extra}");
        }
        // Control: the edges and ordinary values pass.
        let ok = json!({"env": ["A=", "B=c=d"], "oomScoreAdj": -1000,
            "rlimits": [nofile(10, 10), {"type": "RLIMIT_CORE", "soft": 0, "hard": 5}]});
        check(&process(ok)).unwrap();
        check(&process(json!({"oomScoreAdj": 1000}))).unwrap();
    }
}
