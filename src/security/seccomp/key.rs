//! The cache key of a plan: everything its compiled program depends on.

use libseccomp::ScmpAction;

use super::FilterPlan;

/// Everything the compiled program depends on, compactly: a text header
/// naming the format and what compiles the program, then per rule the
/// syscall number and action as fixed-size integers (a Docker/podman
/// profile has ~440 rules, almost none with conditions; Debug-formatting
/// them all cost more than reading the cached program). Only the rare
/// conditions and the arches keep their Debug text, length-prefixed, so
/// the encoding stays unambiguous.
pub(super) fn cache_key(plan: &FilterPlan) -> Vec<u8> {
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let release = crate::syscall::security::kernel_release();
    let mut key = format!(
        "outlet-seccomp-v3\nlibseccomp {lib}\nkernel {release}\narch {}\n{:?}\n",
        std::env::consts::ARCH,
        plan.arches,
    )
    .into_bytes();
    key.reserve(16 + plan.rules.len() * 13);
    push_action(&mut key, plan.default_action);
    key.extend_from_slice(&plan.flags.to_le_bytes());
    key.extend_from_slice(&(plan.rules.len() as u32).to_le_bytes());
    for r in &plan.rules {
        key.extend_from_slice(&r.syscall.to_le_bytes());
        push_action(&mut key, r.action);
        if r.conditions.is_empty() {
            key.extend_from_slice(&0u32.to_le_bytes());
        } else {
            push_text(&mut key, &format!("{:?}", r.conditions));
        }
    }
    key
}

fn push_text(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(&(text.len() as u32).to_le_bytes());
    key.extend_from_slice(text.as_bytes());
}

/// An action as a tag byte and its value (errno, trace message).
fn push_action(key: &mut Vec<u8>, a: ScmpAction) {
    let (tag, value): (u8, u32) = match a {
        ScmpAction::KillProcess => (1, 0),
        ScmpAction::KillThread => (2, 0),
        ScmpAction::Trap => (3, 0),
        ScmpAction::Notify => (4, 0),
        ScmpAction::Errno(e) => (5, e as u32),
        ScmpAction::Trace(t) => (6, u32::from(t)),
        ScmpAction::Log => (7, 0),
        ScmpAction::Allow => (8, 0),
        // Actions a newer libseccomp adds: by name.
        other => {
            key.push(0xff);
            push_text(key, &format!("{other:?}"));
            return;
        }
    };
    key.push(tag);
    key.extend_from_slice(&value.to_le_bytes());
}

/// FNV-1a, 64 bits: stable across builds (std's hasher is not), and only
/// names the file (see `prepare_cached`).
pub(super) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::seccomp::{plan, profile};
    use serde_json::json;

    #[test]
    fn cache_key_tells_plans_apart() {
        let key = |v: serde_json::Value| cache_key(&plan(&profile(v)).unwrap());
        let errno = |e: u32, args: serde_json::Value| {
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": e, "args": args}]})
        };
        let base = key(errno(1, json!([])));
        assert_eq!(base, key(errno(1, json!([]))), "same plan, same key");
        let one_arg = json!([{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]);
        let other_value = json!([{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]);
        let others = [
            key(errno(38, json!([]))),
            key(errno(1, one_arg)),
            key(errno(1, other_value)),
            key(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_LOG"}]})),
            key(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"}]})),
            key(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_ne!(&base, k, "plan {i}");
            for (j, l) in others.iter().enumerate().skip(i + 1) {
                assert_ne!(k, l, "plans {i} and {j}");
            }
        }
    }
}
