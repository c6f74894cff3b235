//! Create-time checks of `process.capabilities`, before any side effect:
//! names spelled as the spec spells them, sets the kernel would refuse in
//! `capabilities::apply`, and capabilities the running kernel does not know
//! (skipped with a warning). Each error names the field.

use anyhow::{Result, bail};
use oci_spec::runtime::LinuxCapabilities;

use super::capabilities::{
    SETS, is_canonical, last_cap, mask, name_of, names, number, number_of, read_bounding, sets,
};

/// Check the capability names in a raw `process.capabilities` JSON object,
/// before typed deserialization (which would only say "no variant for ...").
/// `field` is the path used in messages, e.g. `process.capabilities`.
pub fn check_names(capabilities: &serde_json::Value, field: &str) -> Result<()> {
    let Some(obj) = capabilities.as_object() else {
        if capabilities.is_null() {
            return Ok(());
        }
        bail!("{field}: expected an object");
    };
    for set in SETS {
        let Some(list) = obj.get(set) else { continue };
        if list.is_null() {
            continue;
        }
        let Some(items) = list.as_array() else {
            bail!("{field}.{set}: expected a list of capability names");
        };
        for (i, item) in items.iter().enumerate() {
            let Some(name) = item.as_str() else {
                bail!("{field}.{set}[{i}]: expected a string, found {item}");
            };
            match number_of(name) {
                None => bail!("{field}.{set}: unknown capability {name:?}"),
                Some(nr) if !is_canonical(name) => bail!(
                    "{field}.{set}: {name:?} is not a capability name as the spec spells them \
                     (capabilities(7): {:?})",
                    name_of(nr)
                ),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// `check_names` on `process.capabilities` of a whole config.json.
pub fn check_config_names(config: &serde_json::Value) -> Result<()> {
    match config.pointer("/process/capabilities") {
        Some(caps) => check_names(caps, "process.capabilities"),
        None => Ok(()),
    }
}

/// Capabilities the config names but the running kernel does not know
/// (number above /proc/sys/kernel/cap_last_cap). They are skipped, as runc
/// does ("ignoring unknown or unavailable capabilities"); the caller logs
/// these lines as warnings.
pub fn warnings(caps: Option<&LinuxCapabilities>) -> Vec<String> {
    let Some(caps) = caps else { return Vec::new() };
    unknown_to_kernel(caps, last_cap())
}

fn unknown_to_kernel(caps: &LinuxCapabilities, last: u32) -> Vec<String> {
    let mut out = Vec::new();
    for (set, list) in sets(caps) {
        let mut unknown: Vec<u32> = list
            .into_iter()
            .flatten()
            .map(|&c| number(c))
            .filter(|&nr| nr > last)
            .collect();
        unknown.sort_unstable();
        for nr in unknown {
            out.push(format!(
                "process.capabilities.{set}: ignoring {}, unknown to this kernel (cap_last_cap {last})",
                name_of(nr)
            ));
        }
    }
    out
}

/// Create-time check of the capability sets, before any side effect: what
/// the kernel would refuse in `apply` is refused here with the field named.
pub fn validate(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(caps) = caps else { return Ok(()) };
    let own_bounding = read_bounding()?;
    check_sets(caps, last_cap(), own_bounding)
}

/// The pure part of `validate`, for given kernel facts.
fn check_sets(caps: &LinuxCapabilities, last: u32, own_bounding: u64) -> Result<()> {
    let [(_, bnd), (_, eff), (_, inh), (_, prm), (_, amb)] = sets(caps);
    // The bounding set is dropped before capset, which then refuses an
    // inheritable capability outside it (EPERM from the init, late).
    if let Some(b) = bnd {
        let extra = mask(inh, last) & !mask(Some(b), last);
        if extra != 0 {
            bail!(
                "process.capabilities.inheritable: {} not in process.capabilities.bounding \
                 (the kernel takes no inheritable capability outside the bounding set)",
                names(extra)
            );
        }
    }
    let (eff, inh, prm, amb) = (
        mask(eff, last),
        mask(inh, last),
        mask(prm, last),
        mask(amb, last),
    );
    for (set, m) in [
        ("effective", eff),
        ("inheritable", inh),
        ("permitted", prm),
        ("ambient", amb),
    ] {
        let missing = m & !own_bounding;
        if missing != 0 {
            bail!(
                "process.capabilities.{set}: {} not in outlet's own capability bounding set \
                 (the host withheld it from the runtime), so the container cannot be given it",
                names(missing)
            );
        }
    }
    let extra = eff & !prm;
    if extra != 0 {
        bail!(
            "process.capabilities.effective: {} not in process.capabilities.permitted \
             (the kernel only lets a process use permitted capabilities)",
            names(extra)
        );
    }
    // Ambient capabilities outside permitted and inheritable cannot be
    // raised; like runc (whose own `runc spec` asks for ambient caps with no
    // inheritable set) they are skipped, not an error: see `apply`.
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps_from(v: serde_json::Value) -> LinuxCapabilities {
        serde_json::from_value(v).expect("valid LinuxCapabilities")
    }

    #[test]
    fn unknown_name_is_an_error_naming_the_set() {
        let cfg = json!({"process": {"capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_FOO"], "effective": ["CAP_CHOWN"]}}});
        let err = check_config_names(&cfg).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.capabilities.bounding: unknown capability \"CAP_FOO\""
        );
        let ok = json!({"process": {"capabilities": {"ambient": ["CAP_NET_RAW", "CAP_KILL"]}}});
        check_config_names(&ok).unwrap();
        for bad in [
            "net_raw",
            "NET_RAW",
            "cap_net_raw",
            "CAP_CAP_NET_RAW",
            "Cap_Net_Raw",
        ] {
            let cfg = json!({"process": {"capabilities": {"ambient": [bad]}}});
            let err = check_config_names(&cfg).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "process.capabilities.ambient: {bad:?} is not a capability name as the \
                     spec spells them (capabilities(7): \"CAP_NET_RAW\")"
                )
            );
        }
        check_config_names(&json!({"process": {}})).unwrap();
        let bad = json!({"process": {"capabilities": {"permitted": [5]}}});
        assert!(
            check_config_names(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("process.capabilities.permitted[0]: expected a string")
        );
    }

    #[test]
    fn caps_beyond_kernel_are_skipped_with_a_warning() {
        let caps = caps_from(json!({
            "bounding": ["CAP_BPF", "CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"],
            "permitted": ["CAP_PERFMON"]}));
        // A 5.4 kernel: cap_last_cap 37.
        let w = unknown_to_kernel(&caps, 37);
        assert_eq!(
            w,
            vec![
                "process.capabilities.bounding: ignoring CAP_BPF, unknown to this kernel (cap_last_cap 37)",
                "process.capabilities.bounding: ignoring CAP_CHECKPOINT_RESTORE, unknown to this kernel (cap_last_cap 37)",
                "process.capabilities.permitted: ignoring CAP_PERFMON, unknown to this kernel (cap_last_cap 37)",
            ]
        );
        assert_eq!(mask(caps.bounding().as_ref(), 37), 1);
        assert_eq!(mask(caps.bounding().as_ref(), 40), 1 | 1 << 39 | 1 << 40);
        assert!(unknown_to_kernel(&caps, 40).is_empty());
    }

    #[test]
    fn validate_rules() {
        let all = (1u64 << 41) - 1;
        let no_sys_resource = all & !(1 << 24);
        let sets = |eff: &[&str], prm: &[&str], inh: &[&str], amb: &[&str]| {
            caps_from(
                json!({"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL"], "effective": eff,
                "permitted": prm, "inheritable": inh, "ambient": amb}),
            )
        };
        let k = ["CAP_KILL"];
        check_sets(&sets(&k, &k, &k, &k), 40, no_sys_resource).unwrap();
        // Bounding may name what the runtime lacks: it is only ever dropped.
        let err = check_sets(
            &sets(&["CAP_SYS_RESOURCE"], &["CAP_SYS_RESOURCE"], &[], &[]),
            40,
            no_sys_resource,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "process.capabilities.effective: CAP_SYS_RESOURCE not in outlet's own capability bounding set"
            ),
            "{err}"
        );
        check_sets(
            &sets(&["CAP_SYS_RESOURCE"], &["CAP_SYS_RESOURCE"], &[], &[]),
            40,
            all,
        )
        .unwrap();
        let err = check_sets(&sets(&["CAP_KILL", "CAP_CHOWN"], &k, &[], &[]), 40, all)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "process.capabilities.effective: CAP_CHOWN not in process.capabilities.permitted"
            ),
            "{err}"
        );
        let err = check_sets(&sets(&k, &k, &["CAP_CHOWN"], &[]), 40, all)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "process.capabilities.inheritable: CAP_CHOWN not in process.capabilities.bounding"
            ),
            "{err}"
        );
        // Ambient outside inheritable: skipped at apply time, as runc does.
        check_sets(&sets(&k, &k, &[], &k), 40, all).unwrap();
        // Unknown to the kernel: skipped, not an error.
        check_sets(&sets(&["CAP_BPF"], &[], &[], &[]), 38, all).unwrap();
    }

    /// On this host the runtime lacks CAP_SYS_RESOURCE; asking for a cap
    /// outlet does not have must be a create-time error, not a crash.
    #[test]
    fn validate_refuses_caps_this_runtime_lacks() {
        let own = read_bounding().unwrap();
        let last = last_cap();
        let Some(missing) = (0..=last).find(|nr| own & (1u64 << nr) == 0) else {
            eprintln!("skipped: this process has every capability in its bounding set");
            return;
        };
        let name = name_of(missing);
        let caps = caps_from(json!({"bounding": [name], "permitted": [name], "effective": [name]}));
        let err = validate(Some(&caps)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "process.capabilities.effective: {name} not in outlet's own capability bounding set \
                 (the host withheld it from the runtime), so the container cannot be given it"
            )
        );
        // In the bounding set alone it is fine: there it is only dropped.
        validate(Some(&caps_from(json!({"bounding": [name]})))).unwrap();
    }
}
