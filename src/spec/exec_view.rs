//! What `exec` reads of a container's stored config: the process and four
//! fields of `linux`, nothing else.
//!
//! The stored config was parsed and checked in full by `create` (the state
//! dir is outlet's, 0700), so exec needs only the types of the fields it
//! uses. Deserializing the whole `Spec` there ran oci-spec's visitors for
//! every mount, hook and `linux` key, whose code each exec faulted in and
//! ran for nothing: serde skips the keys this view does not name without
//! building them. Being a type of its own, the view is also the list of
//! what exec may read: a field exec starts to need fails to compile until
//! it is added here.

use oci_spec::runtime::{LinuxMemoryPolicy, LinuxNamespace, LinuxPersonality, LinuxSeccomp};
use serde::Deserialize;

use super::Process;

/// The stored config as `exec` sees it.
#[derive(Debug, Default, Deserialize)]
pub struct ExecSpec {
    #[serde(default)]
    process: Option<Process>,
    #[serde(default)]
    linux: Option<ExecLinux>,
}

/// The container's `linux` keys that an exec'd process takes: the
/// namespaces to join, the seccomp profile, and what every process of the
/// container inherits (personality, memory policy), as in runc's exec.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecLinux {
    #[serde(default)]
    namespaces: Option<Vec<LinuxNamespace>>,
    #[serde(default)]
    seccomp: Option<LinuxSeccomp>,
    #[serde(default)]
    memory_policy: Option<LinuxMemoryPolicy>,
    #[serde(default)]
    personality: Option<LinuxPersonality>,
}

/// A config without `linux` has none of its keys.
static NO_LINUX: ExecLinux = ExecLinux {
    namespaces: None,
    seccomp: None,
    memory_policy: None,
    personality: None,
};

impl ExecSpec {
    pub fn process(&self) -> &Option<Process> {
        &self.process
    }
    pub fn linux(&self) -> &ExecLinux {
        self.linux.as_ref().unwrap_or(&NO_LINUX)
    }
}

impl ExecLinux {
    pub fn namespaces(&self) -> &[LinuxNamespace] {
        self.namespaces.as_deref().unwrap_or_default()
    }
    pub fn seccomp(&self) -> Option<&LinuxSeccomp> {
        self.seccomp.as_ref()
    }
    pub fn memory_policy(&self) -> Option<&LinuxMemoryPolicy> {
        self.memory_policy.as_ref()
    }
    pub fn personality(&self) -> Option<&LinuxPersonality> {
        self.personality.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// exec's view reads every field it has exactly as the full parse
    /// does, whatever else the config holds: the template, a config with
    /// every key exec reads set, one without `linux`, one without either.
    #[test]
    fn the_view_reads_what_the_full_parse_reads() {
        let mut rich = crate::spec::template(false);
        rich["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]}));
        rich["hooks"] =
            json!({"createRuntime": [{"path": "/bin/true", "args": ["true"], "timeout": 3}]});
        rich["annotations"] = json!({"a": "b"});
        rich["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]);
        rich["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 3});
        rich["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0-1"});
        let linux = &mut rich["linux"];
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "network", "path": "/proc/1/ns/net"}));
        linux["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
        linux["personality"] = json!({"domain": "LINUX32"});
        linux["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
        linux["resources"] =
            json!({"pids": {"limit": 10}, "devices": [{"allow": false, "access": "rwm"}]});
        linux["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        let mut bare = rich.clone();
        bare.as_object_mut().unwrap().remove("linux");
        let mut empty = bare.clone();
        empty.as_object_mut().unwrap().remove("process");
        let configs = [
            rich,
            crate::spec::template(false),
            crate::spec::template(true),
            bare,
            empty,
        ];
        for (i, c) in configs.into_iter().enumerate() {
            let text = serde_json::to_vec(&c).unwrap();
            let full = crate::spec::from_validated(&text).unwrap();
            let view = super::super::exec_view(&text).unwrap();
            let fl = full.linux().as_ref();
            let vl = view.linux();
            let pairs: [(Value, Value); 5] = [
                (process(full.process()), process(view.process())),
                (
                    to(&fl.and_then(|l| l.namespaces().clone()).unwrap_or_default()),
                    to(&vl.namespaces()),
                ),
                (
                    to(&fl.and_then(|l| l.seccomp().as_ref())),
                    to(&vl.seccomp()),
                ),
                (
                    to(&fl.and_then(|l| l.personality().as_ref())),
                    to(&vl.personality()),
                ),
                (
                    to(&fl.and_then(|l| l.memory_policy().as_ref())),
                    to(&vl.memory_policy()),
                ),
            ];
            let caps = |p: &Option<crate::spec::Process>| {
                p.as_ref().and_then(|p| p.capabilities().clone())
            };
            assert_eq!(caps(full.process()), caps(view.process()), "config {c}");
            for (f, v) in pairs {
                assert_eq!(f, v, "config {c}");
                // The first config sets every field, so none compares None to None.
                assert!(i > 0 || !f.is_null() && f != json!([]), "config {c}");
            }
        }
    }

    /// The process without its capabilities, whose sets serialize in no
    /// fixed order (compared as sets above).
    fn process(p: &Option<crate::spec::Process>) -> Value {
        let mut v = to(p);
        if let Some(o) = v.as_object_mut() {
            o.remove("capabilities");
        }
        v
    }

    fn to<T: serde::Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }
}
