//! The profile turned into a `FilterPlan` for libseccomp: actions, comparisons,
//! architectures and flags translated, syscall names resolved. Pure: no
//! filter context, no syscall; every error names the field.

use std::fmt;

use anyhow::{Result, bail};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpSyscall};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
    LinuxSyscall,
};

// <linux/seccomp.h>
const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Arguments a syscall has (seccomp_data.args).
const MAX_ARGS: usize = 6;

/// One libseccomp rule: a syscall, an action, and conditions that must all
/// hold (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where it came from, for errors: `syscalls[entry].names[index]`.
    /// Indices, not text: a podman-sized profile has ~400 rules, and
    /// `plan` runs on every create with a profile.
    pub entry: u32,
    pub index: u32,
    pub syscall: i32,
    pub action: ScmpAction,
    pub conditions: Vec<Condition>,
}

impl Rule {
    /// The spec field the rule came from.
    pub fn field(&self) -> String {
        format!(
            "linux.seccomp.syscalls[{}].names[{}]",
            self.entry, self.index
        )
    }
}

/// `linux.seccomp.syscalls[i]`, formatted only when an error needs it.
struct Entry(usize);

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux.seccomp.syscalls[{}]", self.0)
    }
}

/// One argument comparison, with its parts in the open: libseccomp's
/// `ScmpArgCompare` hides them, and the cache key is made of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub arg: u32,
    pub op: ScmpCompareOp,
    pub datum: u64,
}

impl Condition {
    pub fn scmp(&self) -> ScmpArgCompare {
        ScmpArgCompare::new(self.arg, self.op, self.datum)
    }
}

/// The profile translated for libseccomp, before compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPlan {
    pub default_action: ScmpAction,
    pub arches: Vec<ScmpArch>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), without NEW_LISTENER.
    pub flags: u32,
    pub rules: Vec<Rule>,
    /// Syscall names libseccomp does not know on this architecture: skipped,
    /// as runc does (it logs them at debug level).
    pub skipped: Vec<String>,
    /// Architectures this libseccomp cannot filter: skipped with a warning.
    pub skipped_arches: Vec<String>,
    pub notify: bool,
}

/// Spec action + errnoRet -> libseccomp action, with runc's defaults: EPERM
/// for ERRNO and TRACE without errnoRet, KILL meaning KILL_THREAD.
pub fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: impl fmt::Display,
) -> Result<ScmpAction> {
    // config-linux.md: when the action takes no errno, the runtime MUST
    // fail rather than drop the errnoRet it was given.
    if let Some(v) = errno_ret
        && !matches!(
            action,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        let name = serde_json::to_value(action).unwrap_or_default();
        bail!(
            "{field}: errno {v} given for {}, which returns none (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)",
            name.as_str().unwrap_or("this action")
        );
    }
    let ret = |what: &str| -> Result<i32> {
        match errno_ret {
            None => Ok(libc::EPERM),
            Some(v) if v <= u16::MAX as u32 => Ok(v as i32),
            Some(v) => bail!("{field}: {what} {v} does not fit the 16 bits seccomp returns"),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret("errnoRet")?),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret("errnoRet")? as u16),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

/// Spec operator + value(s) -> libseccomp comparison. For MASKED_EQ, `value`
/// is the mask and `valueTwo` the datum, as in runc and libseccomp.
pub fn condition(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
    field: impl fmt::Display,
) -> Result<Condition> {
    if index >= MAX_ARGS {
        bail!("{field}.index: {index} is out of range (a syscall has arguments 0 to 5)");
    }
    let (op, datum) = match op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0))
        }
    };
    Ok(Condition {
        arg: index as u32,
        op,
        datum,
    })
}

/// Whether this kernel can hand the filter a syscall of architecture `a`:
/// the native one and its compat ABIs. A program section for any other
/// can never match, yet the kernel pays for its length at load time (it
/// runs the program for every syscall number to build its action cache):
/// podman's filter plus aarch64 and arm sections loads ~0.1 ms slower here
/// (1.13 ms against 1.03 ms; bench/README.md, "Seccomp").
/// Dropping it changes no outcome, so the profile's meaning is kept.
fn reachable(a: ScmpArch) -> bool {
    if cfg!(target_arch = "x86_64") {
        matches!(
            a,
            ScmpArch::Native | ScmpArch::X8664 | ScmpArch::X86 | ScmpArch::X32
        )
    } else if cfg!(target_arch = "aarch64") {
        matches!(a, ScmpArch::Native | ScmpArch::Aarch64 | ScmpArch::Arm)
    } else {
        // No list of what this kernel can deliver: keep every section.
        true
    }
}

/// Spec architecture -> libseccomp's, by the shared `SCMP_ARCH_*` name.
pub fn arch(a: Arch) -> Option<ScmpArch> {
    let name = serde_json::to_value(a).ok()?;
    name.as_str()?.parse().ok()
}

pub fn flag(f: LinuxSeccompFilterFlag) -> u32 {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
    }
}

/// Rules for one `syscalls[i]` entry. Conditions on distinct arguments form
/// one rule (all must hold); when two conditions test the same argument,
/// libseccomp cannot AND them, so each becomes its own rule (any may match).
/// That is runc's reading, which Docker's and podman's profiles rely on.
fn entry_rules(
    i: usize,
    sc: &LinuxSyscall,
    default: ScmpAction,
    plan: &mut FilterPlan,
) -> Result<()> {
    let field = Entry(i);
    if sc.names().is_empty() {
        bail!("{field}.names: empty (each entry must name at least one syscall)");
    }
    let act = action(sc.action(), sc.errno_ret(), &field)?;
    let mut conds = Vec::new();
    let mut per_arg = [0usize; MAX_ARGS];
    for (k, a) in sc.args().iter().flatten().enumerate() {
        let c = condition(
            a.index(),
            a.op(),
            a.value(),
            a.value_two(),
            format_args!("{field}.args[{k}]"),
        )?;
        per_arg[a.index()] += 1;
        conds.push(c);
    }
    let split = per_arg.iter().any(|&n| n > 1);
    for (j, name) in sc.names().iter().enumerate() {
        if name.is_empty() {
            bail!("{field}.names[{j}]: empty syscall name");
        }
        if act == ScmpAction::Notify && (name == "sendmsg" || name == "write") {
            // The init hands the listener its fd with sendmsg after the
            // filter is in: notifying on it would wait for a listener that
            // has no fd yet.
            bail!("{field}.names[{j}]: SCMP_ACT_NOTIFY cannot be used for {name:?}");
        }
        if act == default {
            // libseccomp refuses a rule that repeats the default action;
            // runc skips it, and so does this: it changes nothing.
            continue;
        }
        let syscall = match ScmpSyscall::from_name(name) {
            Ok(s) => i32::from(s),
            Err(_) => {
                plan.skipped.push(name.clone());
                continue;
            }
        };
        let rule = |conditions| Rule {
            entry: i as u32,
            index: j as u32,
            syscall,
            action: act,
            conditions,
        };
        if split {
            plan.rules.extend(conds.iter().map(|c| rule(vec![*c])));
        } else {
            plan.rules.push(rule(conds.clone()));
        }
    }
    if act == ScmpAction::Notify {
        plan.notify = true;
    }
    Ok(())
}

/// Translate and check the profile; no libseccomp context yet.
pub fn plan(seccomp: &LinuxSeccomp) -> Result<FilterPlan> {
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    if default == ScmpAction::Notify {
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    }
    let mut plan = FilterPlan {
        default_action: default,
        arches: Vec::new(),
        flags: 0,
        // One rule per name, mostly: sized up front, since each doubling
        // of a Vec this size is an mmap and a munmap under musl.
        rules: Vec::with_capacity(
            seccomp
                .syscalls()
                .iter()
                .flatten()
                .map(|sc| sc.names().len())
                .sum(),
        ),
        skipped: Vec::new(),
        skipped_arches: Vec::new(),
        notify: false,
    };
    for a in seccomp.architectures().iter().flatten() {
        match arch(*a) {
            Some(sa) if !reachable(sa) => {}
            Some(sa) => plan.arches.push(sa),
            None => plan.skipped_arches.push(
                serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{a:?}")),
            ),
        }
    }
    for f in seccomp.flags().iter().flatten() {
        plan.flags |= flag(*f);
    }
    for (i, sc) in seccomp.syscalls().iter().flatten().enumerate() {
        entry_rules(i, sc, default, &mut plan)?;
    }
    if plan.notify {
        if seccomp.listener_path().is_none() {
            bail!("linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY");
        }
        // TSYNC and NEW_LISTENER are exclusive (both use the return
        // value); the init is single-threaded, so TSYNC has no work to do.
        plan.flags &= !SECCOMP_FILTER_FLAG_TSYNC;
    } else {
        // Only meaningful with a listener; the kernel refuses it (EINVAL)
        // without one.
        plan.flags &= !SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::seccomp::{prepare, profile};
    use serde_json::json;

    fn nr(name: &str) -> i32 {
        i32::from(ScmpSyscall::from_name(name).unwrap())
    }

    #[test]
    fn actions_translate_with_runc_defaults() {
        use LinuxSeccompAction::*;
        let f = "f";
        assert_eq!(
            action(ScmpActErrno, None, f).unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(ScmpActErrno, Some(38), f).unwrap(),
            ScmpAction::Errno(38)
        );
        assert_eq!(action(ScmpActTrace, None, f).unwrap(), ScmpAction::Trace(1));
        assert_eq!(
            action(ScmpActTrace, Some(7), f).unwrap(),
            ScmpAction::Trace(7)
        );
        assert_eq!(
            action(ScmpActKill, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(ScmpActKillThread, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(ScmpActKillProcess, None, f).unwrap(),
            ScmpAction::KillProcess
        );
        assert_eq!(action(ScmpActTrap, None, f).unwrap(), ScmpAction::Trap);
        assert_eq!(action(ScmpActNotify, None, f).unwrap(), ScmpAction::Notify);
        assert_eq!(action(ScmpActLog, None, f).unwrap(), ScmpAction::Log);
        assert_eq!(action(ScmpActAllow, None, f).unwrap(), ScmpAction::Allow);
        let err = action(ScmpActErrno, Some(70000), "linux.seccomp.syscalls[2]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "linux.seccomp.syscalls[2]: errnoRet 70000 does not fit the 16 bits seccomp returns"
        );
    }

    #[test]
    fn operators_translate() {
        use LinuxSeccompOperator::*;
        let c = |op, v, v2| condition(1, op, v, v2, "f").unwrap().scmp();
        let n = |op, d| ScmpArgCompare::new(1, op, d);
        assert_eq!(c(ScmpCmpNe, 5, None), n(ScmpCompareOp::NotEqual, 5));
        assert_eq!(c(ScmpCmpLt, 5, None), n(ScmpCompareOp::Less, 5));
        assert_eq!(c(ScmpCmpLe, 5, None), n(ScmpCompareOp::LessOrEqual, 5));
        assert_eq!(c(ScmpCmpEq, 5, Some(9)), n(ScmpCompareOp::Equal, 5));
        assert_eq!(c(ScmpCmpGe, 5, None), n(ScmpCompareOp::GreaterEqual, 5));
        assert_eq!(c(ScmpCmpGt, 5, None), n(ScmpCompareOp::Greater, 5));
        // value is the mask, valueTwo the datum.
        assert_eq!(
            c(ScmpCmpMaskedEq, 0xff00, Some(0x0800)),
            n(ScmpCompareOp::MaskedEqual(0xff00), 0x0800)
        );
        let err = condition(6, ScmpCmpEq, 0, None, "linux.seccomp.syscalls[1].args[0]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "linux.seccomp.syscalls[1].args[0].index: 6 is out of range (a syscall has arguments 0 to 5)"
        );
    }

    #[test]
    fn architectures_and_flags_translate() {
        assert_eq!(arch(Arch::ScmpArchX86_64), Some(ScmpArch::X8664));
        assert_eq!(arch(Arch::ScmpArchX86), Some(ScmpArch::X86));
        assert_eq!(arch(Arch::ScmpArchAarch64), Some(ScmpArch::Aarch64));
        assert_eq!(arch(Arch::ScmpArchNative), Some(ScmpArch::Native));
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagLog), 2);
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow), 4);
        assert_eq!(flag(LinuxSeccompFilterFlag::SeccompFilterFlagTsync), 1);
        let with = |action: &str| {
            plan(&profile(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/l",
                "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls": [{"names": ["getppid"], "action": action}]}),
            ))
            .unwrap()
            .flags
        };
        // TSYNC cannot go with a listener; WAIT_KILLABLE_RECV needs one.
        assert_eq!(
            with("SCMP_ACT_NOTIFY"),
            SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        );
        assert_eq!(with("SCMP_ACT_ERRNO"), SECCOMP_FILTER_FLAG_TSYNC);
    }

    #[test]
    fn profile_becomes_rules() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [
                {"names": ["read", "write", "no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["lseek"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 2, "value": 255, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }));
        let plan = plan(&p).unwrap();
        assert_eq!(plan.default_action, ScmpAction::Errno(38));
        assert_eq!(plan.arches, vec![ScmpArch::X8664, ScmpArch::X86]);
        assert_eq!(
            plan.flags,
            SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC
        );
        assert_eq!(plan.skipped, vec!["no_such_syscall_xyz".to_string()]);
        assert!(!plan.notify);
        let summary: Vec<(String, i32, ScmpAction, usize)> = plan
            .rules
            .iter()
            .map(|r| (r.field(), r.syscall, r.action, r.conditions.len()))
            .collect();
        // (field syscalls[i].names[j], name, action, conditions)
        let s = |i: usize, j: usize, n: &str, a, c| {
            let field = format!("linux.seccomp.syscalls[{i}].names[{j}]");
            (field, nr(n), a, c)
        };
        assert_eq!(
            summary,
            vec![
                s(0, 0, "read", ScmpAction::Allow, 0),
                s(0, 1, "write", ScmpAction::Allow, 0),
                s(1, 0, "mkdir", ScmpAction::Errno(1), 0),
                // chmod with errnoRet 38 repeats the default: no rule.
                // Two conditions on arg 0: one rule each (OR).
                s(3, 0, "personality", ScmpAction::Allow, 1),
                s(3, 0, "personality", ScmpAction::Allow, 1),
                // Conditions on distinct args: one rule (AND).
                s(4, 0, "lseek", ScmpAction::Allow, 2),
            ]
        );
        assert_eq!(plan.rules[0].syscall, nr("read"));
        assert_eq!(
            plan.rules[5]
                .conditions
                .iter()
                .map(Condition::scmp)
                .collect::<Vec<_>>(),
            vec![
                ScmpArgCompare::new(1, ScmpCompareOp::Equal, 0),
                ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(255), 1)
            ]
        );
        let prepared = prepare(&p).unwrap();
        assert!(prepared.len() > 10);
        assert_eq!(
            prepared.skipped_syscalls(),
            ["no_such_syscall_xyz".to_string()]
        );
    }

    #[test]
    fn profile_errors_name_the_field() {
        let err = |v| format!("{:#}", prepare(&profile(v)).err().expect("must fail"));
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]})),
            "linux.seccomp.syscalls[1].args[0].index: 9 is out of range (a syscall has arguments 0 to 5)"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close", ""], "action": "SCMP_ACT_ERRNO"}]})),
            "linux.seccomp.syscalls[1].names[1]: empty syscall name"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": [], "action": "SCMP_ACT_ERRNO"}]})),
            "linux.seccomp.syscalls[0].names: empty (each entry must name at least one syscall)"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})),
            "linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY"
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"})),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
        );
        assert_eq!(
            err(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
                {"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]})
            ),
            "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for \"sendmsg\""
        );
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn arches_the_kernel_cannot_deliver_are_dropped() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_ARM",
                              "SCMP_ARCH_X86", "SCMP_ARCH_RISCV64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert_eq!(
            plan(&p).unwrap().arches,
            vec![ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
        );
    }
}
