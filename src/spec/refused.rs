//! Fields of the runtime spec that outlet reads but does not act on.
//! Accepting one would tell the caller a setting holds when it does not
//! (a cache allocation, a memory cgroup setting), so each is
//! refused here, before any side effect, with an error naming the field.
//! docs/spec-fields.md lists them; `outlet features` does not claim them.

use anyhow::{Result, bail};

use super::Spec;

/// The `linux` and `linux.resources` fields outlet cannot honour.
pub fn check_spec(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if linux.intel_rdt().is_some() {
        bail!(
            "linux.intelRdt: not supported by outlet (no resctrl support; `outlet features` says intelRdt disabled)"
        );
    }
    let mem = linux.resources().as_ref().and_then(|r| r.memory().as_ref());
    if let Some(mem) = mem {
        // Kernels since 5.x keep every memory cgroup hierarchical; `true`
        // is what already holds, `false` cannot be had.
        if mem.use_hierarchy() == Some(false) {
            bail!(
                "linux.resources.memory.useHierarchy: false is not supported (the kernel's memory cgroups are always hierarchical)"
            );
        }
        if mem.check_before_update() == Some(true) {
            bail!("linux.resources.memory.checkBeforeUpdate: true is not supported by outlet");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(json!({"ociVersion": "1.2.0", "linux": linux})).unwrap()
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (linux, field) in [
            (json!({"intelRdt": {"closID": "x"}}), "linux.intelRdt"),
            (
                json!({"resources": {"memory": {"useHierarchy": false}}}),
                "linux.resources.memory.useHierarchy",
            ),
            (
                json!({"resources": {"memory": {"checkBeforeUpdate": true}}}),
                "linux.resources.memory.checkBeforeUpdate",
            ),
        ] {
            let err = check_spec(&spec(linux.clone())).unwrap_err().to_string();
            assert!(err.starts_with(field), "{linux}: {err}");
        }
        // Control: the values that hold anyway pass.
        let linux =
            json!({"resources": {"memory": {"useHierarchy": true, "checkBeforeUpdate": false}}});
        check_spec(&spec(linux.clone())).unwrap_or_else(|e| panic!("{linux}: {e}"));
    }
}
