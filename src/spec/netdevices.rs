//! `linux.netDevices`: host interfaces create moves into the container's
//! network namespace (src/container/netdev.rs). Checked here, before any
//! side effect: the container must have a network namespace other than
//! the runtime's, made or joined by path (without one there is nowhere to
//! move to), and every name, the host's and the new one, must
//! be a name the kernel accepts (its `dev_valid_name`).

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::Spec;

/// IFNAMSIZ counts the NUL.
const IFNAMSIZ: usize = 16;

pub fn check(spec: &Spec, nss: &[LinuxNamespace]) -> Result<()> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Ok(());
    };
    if devices.is_empty() {
        return Ok(());
    }
    // A joined one (by path) is the container's too: the spec moves devices
    // into "the container network namespace", and a CRI pod's is made by
    // the caller and given by path (runc's netdev.bats).
    if !nss.iter().any(|n| n.typ() == LinuxNamespaceType::Network) {
        bail!(
            "linux.netDevices: the container has no network namespace to move devices into (add {{\"type\": \"network\"}} to linux.namespaces)"
        );
    }
    // A path naming the runtime's own (or PID 1's) namespace is no
    // container's: the kernel takes a move into the namespace a device is
    // already in as done, and the rename in the same request then renames
    // the host's interface in place (and sets it up, and adds addresses).
    // As sysctl.rs refuses a sysctl there. create checks again on the
    // namespace the init is in (container/netdev.rs), in case the path
    // changed since.
    if !crate::fault::control("OUTLET_NETDEV_NS_UNCHECKED")
        && !super::sysctl::own_namespace(nss, LinuxNamespaceType::Network)
            .context("linux.netDevices")?
    {
        bail!(
            "linux.netDevices: the network namespace joined by path is the runtime's own (or PID 1's): a device moved there stays the host's, renamed in place"
        );
    }
    let mut keys: Vec<&String> = devices.keys().collect();
    keys.sort();
    for host in keys {
        if let Err(why) = valid_name(host) {
            bail!("linux.netDevices[{host:?}]: invalid interface name: {why}");
        }
        if let Some(new) = devices[host].name().as_deref().filter(|n| !n.is_empty())
            && let Err(why) = valid_name(new)
        {
            bail!("linux.netDevices[{host:?}].name: invalid interface name {new:?}: {why}");
        }
    }
    Ok(())
}

/// The kernel's rules for an interface name (net/core/dev.c).
fn valid_name(n: &str) -> Result<(), &'static str> {
    if n.is_empty() {
        return Err("empty");
    }
    if n.len() > IFNAMSIZ - 1 {
        return Err("longer than 15 bytes (IFNAMSIZ - 1)");
    }
    if n == "." || n == ".." {
        return Err("\".\" and \"..\" are not names");
    }
    if n.bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        return Err("contains '/', ':', a NUL or white space");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_json(linux: serde_json::Value) -> Result<()> {
        let spec: Spec =
            serde_json::from_value(json!({"ociVersion": "1.3.0", "linux": linux})).unwrap();
        let nss = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        check(&spec, &nss)
    }

    #[test]
    fn names_and_namespace_are_checked() {
        let net = json!([{"type": "network"}]);
        check_json(json!({"namespaces": net, "netDevices": {"d0": {}, "d1": {"name": "eth1"}}}))
            .unwrap();
        check_json(json!({"netDevices": {}})).unwrap();
        for (linux, needle) in [
            (json!({"netDevices": {"d0": {}}}), "no network namespace"),
            (
                json!({"namespaces": [{"type": "network", "path": "/proc/1/ns/net"}],
                "netDevices": {"d0": {}}}),
                // Where PID 1's is unreadable (as on these machines) the
                // stat fails, which refuses too.
                "linux.netDevices",
            ),
            (
                json!({"namespaces": [{"type": "network", "path": "/proc/self/ns/net"}],
                "netDevices": {"d0": {}}}),
                "linux.netDevices: the network namespace joined by path is the runtime's own",
            ),
            (
                json!({"namespaces": net, "netDevices": {"a/b": {}}}),
                "linux.netDevices[\"a/b\"]: invalid",
            ),
            (
                json!({"namespaces": net, "netDevices": {"..": {}}}),
                "linux.netDevices[\"..\"]: invalid",
            ),
            (
                json!({"namespaces": net, "netDevices": {"d0": {"name": "sixteen-bytes-xx"}}}),
                "linux.netDevices[\"d0\"].name: invalid interface name \"sixteen-bytes-xx\": longer",
            ),
            (
                json!({"namespaces": net, "netDevices": {"d0": {"name": "."}}}),
                "linux.netDevices[\"d0\"].name",
            ),
            (
                json!({"namespaces": net, "netDevices": {"d 0": {}}}),
                "white space",
            ),
        ] {
            let err = format!("{:#}", check_json(linux.clone()).unwrap_err());
            assert!(err.contains(needle), "{linux}: {err}");
        }
        // 15 bytes is the longest name.
        check_json(json!({"namespaces": net, "netDevices": {"d0": {"name": "fifteen-bytes-x"}}}))
            .unwrap();
    }
}
