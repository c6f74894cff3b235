//! `process.env` entries as execve and every runtime take them: `NAME=VALUE`
//! with a non-empty name. runc and crun refuse the others when the process
//! starts; outlet refuses them before any side effect, naming the entry.

use anyhow::{Result, bail};

/// Every entry of `env` (config.json's `process.env`, or an exec process's
/// env with its `--env` overrides), checked.
pub fn check(env: &[String]) -> Result<()> {
    for (i, e) in env.iter().enumerate() {
        let what = match e.split_once('=') {
            None => "no '=' between name and value",
            Some(("", _)) => "the name is empty",
            // execve takes C strings: a NUL would cut the entry short.
            Some(_) if e.contains('\0') => "it holds a NUL byte",
            Some(_) => continue,
        };
        bail!("process.env[{i}] {e:?}: invalid environment variable: {what}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_bad_entry() {
        check(&["A=b".into(), "EMPTY=".into(), "X==y".into()]).unwrap();
        for (bad, needle) in [
            ("FOO", "no '='"),
            ("=x", "name is empty"),
            ("A=b\0c", "NUL"),
        ] {
            let env = vec!["OK=1".to_string(), bad.to_string()];
            let err = check(&env).unwrap_err().to_string();
            assert!(err.contains("process.env[1]"), "{err}");
            assert!(err.contains("invalid environment variable"), "{err}");
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
