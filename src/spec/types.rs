//! The top of config.json (`Spec`) and its `process` (also the file of
//! `exec --process`), deserialized by outlet rather than by oci-spec.
//!
//! Why not oci-spec's own `Spec` and `Process`: their derive validates
//! `process.execCPUAffinity` with a regular expression, and that one call
//! links the whole `regex` engine (about 600 KiB, a fifth of the binary)
//! into a runtime whose every start maps and faults in its image. Every
//! other part of the document (root, mounts, hooks, linux, and the pieces
//! of process) is still oci-spec's type, so the field names, defaults and
//! errors stay the crate's.
//!
//! The accessors mirror oci-spec's so that callers read either alike.

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::{
    Box as ConsoleSize, Hooks, Linux, LinuxCapabilities, LinuxIOPriority, Mount, PosixRlimit, Root,
    User,
};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default, rename = "ociVersion")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<Linux>,
}

impl Spec {
    pub fn version(&self) -> &String {
        &self.version
    }
    pub fn root(&self) -> &Option<Root> {
        &self.root
    }
    pub fn mounts(&self) -> &Option<Vec<Mount>> {
        &self.mounts
    }
    pub fn process(&self) -> &Option<Process> {
        &self.process
    }
    pub fn hostname(&self) -> &Option<String> {
        &self.hostname
    }
    pub fn domainname(&self) -> &Option<String> {
        &self.domainname
    }
    pub fn hooks(&self) -> &Option<Hooks> {
        &self.hooks
    }
    pub fn annotations(&self) -> &Option<HashMap<String, String>> {
        &self.annotations
    }
    pub fn linux(&self) -> &Option<Linux> {
        &self.linux
    }
}

/// `user` and `cwd` are required, as in the runtime-spec (and oci-spec).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    pub user: User,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    pub cwd: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<LinuxCapabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimits: Option<Vec<PosixRlimit>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_new_privileges: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<LinuxIOPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    #[serde(
        default,
        rename = "execCPUAffinity",
        skip_serializing_if = "Option::is_none"
    )]
    pub exec_cpu_affinity: Option<ExecCpuAffinity>,
}

/// The process of an `exec` into a container that has no config to start
/// from: root in `/` with the usual PATH, like oci-spec's default minus
/// the command.
impl Default for Process {
    fn default() -> Self {
        Process {
            terminal: None,
            console_size: None,
            user: User::default(),
            args: None,
            env: Some(vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ]),
            cwd: "/".into(),
            capabilities: None,
            rlimits: None,
            no_new_privileges: None,
            apparmor_profile: None,
            oom_score_adj: None,
            selinux_label: None,
            io_priority: None,
            scheduler: None,
            exec_cpu_affinity: None,
        }
    }
}

impl Process {
    pub fn terminal(&self) -> Option<bool> {
        self.terminal
    }
    pub fn console_size(&self) -> Option<ConsoleSize> {
        self.console_size
    }
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn args(&self) -> &Option<Vec<String>> {
        &self.args
    }
    pub fn env(&self) -> &Option<Vec<String>> {
        &self.env
    }
    pub fn cwd(&self) -> &PathBuf {
        &self.cwd
    }
    pub fn capabilities(&self) -> &Option<LinuxCapabilities> {
        &self.capabilities
    }
    pub fn rlimits(&self) -> &Option<Vec<PosixRlimit>> {
        &self.rlimits
    }
    pub fn no_new_privileges(&self) -> Option<bool> {
        self.no_new_privileges
    }
    pub fn apparmor_profile(&self) -> &Option<String> {
        &self.apparmor_profile
    }
    pub fn oom_score_adj(&self) -> Option<i32> {
        self.oom_score_adj
    }
    pub fn selinux_label(&self) -> &Option<String> {
        &self.selinux_label
    }
    pub fn io_priority(&self) -> &Option<LinuxIOPriority> {
        &self.io_priority
    }
    pub fn scheduler(&self) -> &Option<Scheduler> {
        &self.scheduler
    }
}

/// `process.scheduler`, with the policy and flags as the spec spells them.
/// Not oci-spec's type: its flag enum reads `SCHED_RESET_ON_FORK` and
/// `SCHED_FLAG_D_L_OVERRUN` where the spec (and runc) say
/// `SCHED_FLAG_RESET_ON_FORK` and `SCHED_FLAG_DL_OVERRUN`. The names are
/// checked by `spec::process_fields`, where the error can name the field.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Scheduler {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// `process.execCPUAffinity`: CPU lists such as `0-3,7`, checked when read
/// (as oci-spec does) so a malformed list fails `create`, not a later exec.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExecCpuAffinity {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cpu_list"
    )]
    pub initial: Option<String>,
    #[serde(
        default,
        rename = "final",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cpu_list"
    )]
    pub cpu_affinity_final: Option<String>,
}

fn cpu_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if let Some(s) = &value
        && !is_cpu_list(s)
    {
        return Err(serde::de::Error::custom(format!(
            "invalid execCPUAffinity {s:?}: expected CPU numbers and ranges such as 0-3,7"
        )));
    }
    Ok(value)
}

/// `N` or `N-M`, comma separated, nothing else (not even spaces).
fn is_cpu_list(s: &str) -> bool {
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    s.split(',').all(|item| match item.split_once('-') {
        Some((a, b)) => number(a) && number(b),
        None => number(item),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        for good in ["0", "0-3", "0-3,7", "1,2,3", "10-20,30"] {
            assert!(is_cpu_list(good), "{good}");
        }
        for bad in [
            "", ",", "0,", "-1", "1-", "1-2-3", "a", "0 - 3", "0;1", "1,,2",
        ] {
            assert!(!is_cpu_list(bad), "{bad}");
        }
    }

    #[test]
    fn bad_affinity_is_refused_when_read() {
        let p = serde_json::json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/",
            "execCPUAffinity": {"initial": "0-1", "final": "x"}
        });
        let err = serde_json::from_value::<Process>(p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid execCPUAffinity \"x\""), "{err}");
    }

    /// The types here must read every field oci-spec's do: a config that
    /// round-trips through oci-spec's Spec reads the same through ours.
    #[test]
    fn reads_what_oci_spec_reads() {
        let text = serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {
                "terminal": true, "consoleSize": {"height": 24, "width": 80},
                "user": {"uid": 1, "gid": 2, "umask": 18, "additionalGids": [3]},
                "args": ["sh", "-c", "true"], "env": ["A=b"], "cwd": "/tmp",
                "capabilities": {"bounding": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}],
                "noNewPrivileges": true, "apparmorProfile": "p", "oomScoreAdj": 5,
                "selinuxLabel": "l", "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 3},
                "scheduler": {"policy": "SCHED_OTHER", "nice": 1},
                "execCPUAffinity": {"initial": "0", "final": "0-1"}
            },
            "root": {"path": "rootfs", "readonly": true},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "hostname": "h", "domainname": "d",
            "hooks": {"poststop": [{"path": "/bin/true"}]},
            "annotations": {"k": "v"},
            "linux": {"namespaces": [{"type": "pid"}]}
        });
        let ours: Spec = serde_json::from_value(text.clone()).unwrap();
        let theirs: oci_spec::runtime::Spec = serde_json::from_value(text).unwrap();
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            serde_json::to_value(&theirs).unwrap()
        );
    }
}
