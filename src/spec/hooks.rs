//! `hooks`: what config.md asks of each hook that a runtime can only see
//! by running it too late. A relative path would be looked up in
//! outlet's own working directory, and a timeout of zero or less is
//! neither "no timeout" nor a timeout; both are refused before any side
//! effect, naming the hook, instead of failing (or silently running
//! unbounded) halfway through the lifecycle. So is a timeout past
//! `MAX_TIMEOUT`: added to the clock it overflowed, and the panic came at
//! the hook's run, for a poststop hook in every `delete --force`, which
//! then never removed the container (tests/attack_s12.rs).

use anyhow::{Result, bail};
use oci_spec::runtime::{Hook, Hooks};

/// The longest timeout taken, in seconds (136 years): more than any hook
/// waits, and far inside what the monotonic clock can add.
pub const MAX_TIMEOUT: i64 = u32::MAX as i64;

pub fn check(hooks: Option<&Hooks>) -> Result<()> {
    let Some(h) = hooks else {
        return Ok(());
    };
    let kinds: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                bail!(
                    "hooks.{kind}[{i}].path: {:?} is not an absolute path",
                    hook.path()
                );
            }
            if let Some(t) = hook.timeout()
                && t <= 0
            {
                bail!("hooks.{kind}[{i}].timeout: {t}: must be greater than zero");
            }
            if let Some(t) = hook.timeout()
                && t > MAX_TIMEOUT
                && !crate::fault::control("OUTLET_HOOK_TIMEOUT_UNCHECKED")
            {
                bail!("hooks.{kind}[{i}].timeout: {t}: more than {MAX_TIMEOUT} seconds");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hooks(v: serde_json::Value) -> Hooks {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn relative_paths_and_non_positive_timeouts_name_the_hook() {
        for (v, want) in [
            (
                json!({"poststop": [{"path": "/bin/true"}, {"path": "bin/true"}]}),
                "hooks.poststop[1].path: \"bin/true\" is not an absolute path",
            ),
            (
                json!({"createRuntime": [{"path": "/bin/true", "timeout": 0}]}),
                "hooks.createRuntime[0].timeout: 0: must be greater than zero",
            ),
            (
                json!({"startContainer": [{"path": "/bin/true", "timeout": -3}]}),
                "hooks.startContainer[0].timeout: -3: must be greater than zero",
            ),
            (
                json!({"poststop": [{"path": "/bin/true", "timeout": i64::MAX}]}),
                "hooks.poststop[0].timeout: 9223372036854775807: more than 4294967295 seconds",
            ),
        ] {
            let err = check(Some(&hooks(v.clone()))).unwrap_err().to_string();
            assert_eq!(err, want, "{v}");
        }
        // Control: absolute paths with a positive or no timeout pass.
        let ok = json!({"prestart": [{"path": "/bin/true", "timeout": 1},
            {"path": "/bin/true", "timeout": MAX_TIMEOUT}],
            "poststart": [{"path": "/bin/true"}]});
        check(Some(&hooks(ok))).unwrap();
        check(None).unwrap();
    }
}
