//! `kill`'s signal argument through `signals::parse`: any text is a signal
//! number in 0..=SIGRTMAX (0 probes the init, as runc's `kill ID 0`) or an error, never a panic or an overflow; and a
//! number it returns, written as a number, parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(n) = outlet::signals::parse(s) else {
        return;
    };
    let max = libc::SIGRTMAX();
    assert!((0..=max).contains(&n), "{s:?} gave signal {n}");
    assert_eq!(outlet::signals::parse(&n.to_string()).ok(), Some(n));
});
