// Rust's own start-up (lang_start) is skipped: for the main thread it reads
// /proc/self/maps to find the stack guard, and installs SIGSEGV/SIGBUS
// handlers on a fresh alternate stack, some fifteen syscalls that only buy
// a nicer message on stack overflow. outlet starts once per call, and
// create, run and exec start twice (see security/protected_exe.rs). `main`
// below keeps what outlet relies on: SIGPIPE ignored (a closed pipe is an
// error, not a death) and fds 0-2 open. The command line comes from main's
// own argv: std::env::args is empty without lang_start on musl (only glibc
// hands argv to .init_array, where std would pick it up).
#![no_main]

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;

use clap::Parser;

use outlet::cli::{Cli, Command};
use outlet::security::protected_exe;
use outlet::{commands, logging};

// See syscall/arena.rs: most of outlet's user time in a `run` went to
// musl's malloc.
#[global_allocator]
static ALLOC: outlet::syscall::arena::Arena<{ outlet::syscall::arena::SIZE }> =
    outlet::syscall::arena::Arena::new();

// The C entry point libc's start-up calls. Edition 2024 makes this
// attribute carry the mark of code the compiler cannot check (nothing
// proves the symbol clashes with no other); it is the one such mark left
// outside src/syscall/: the library cannot carry it, being linked into
// every test binary, whose harness has a `main` of its own.
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    std_start();
    if outlet::fault::panic_hook_wanted() {
        std::panic::set_hook(Box::new(on_panic));
    }
    let argv = outlet::cli::runc_spellings(command_line(argc, argv));
    // Before anything else, so that the first process does no work the
    // re-executed one repeats: the name alone says whether it is needed.
    let early = outlet::cli::subcommand_name(&argv)
        .is_some_and(|name| protected_exe::needed_for(name.as_ref()));
    // Nothing is prefaulted (madvise MADV_POPULATE_READ of the image,
    // MADV_POPULATE_WRITE of the arena's first 128 KiB, sessions 6-11):
    // since the hot commands skip clap, the copy touches too little of
    // either for the populate to pay. bench/README.md "Session 12: the
    // storm's CPU": create 0.10-0.2 ms and exec 0.14 ms less CPU without.
    let mut protected = if early {
        protected_exe::ensure(&argv)
    } else {
        Ok(())
    };
    let cli = Cli::try_parse_fast_from(&argv).unwrap_or_else(|| parse_or_exit(&argv));
    let log = logging::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    // Whatever spelling of the command line the quick look missed.
    if !early
        && matches!(
            cli.command,
            Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
        )
    {
        protected = protected_exe::ensure(&argv);
    }
    // An exec that fails before its command runs (the protected binary
    // not made: faults_s8.rs, statfs failing) fails as exec's own: 255.
    let failed = match cli.command {
        Some(Command::Exec(_)) => commands::EXEC_FAILED,
        _ => 1,
    };
    let result = protected.and_then(|()| commands::dispatch(cli, &log));
    let code = match result {
        Ok(code) => code,
        Err(err) if commands::stdout_closed(&err) => outlet::signals::die_of_sigpipe(),
        Err(err) => {
            log.error(&format!("{err:#}"));
            failed
        }
    };
    std::process::exit(code);
}

/// The C runtime's argv as owned strings.
fn command_line(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    (0..count)
        .map(|i| {
            // SAFETY: the C runtime passes argc valid, NUL-terminated
            // strings in argv[0..argc], alive for the whole process.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect()
}

/// A panic anywhere in outlet, and in particular in its cloned children
/// (the init, exec's helper), ends in one line on stderr and a death by
/// SIGABRT of the process that panicked. std's default hook writes its
/// message in several pieces (which interleave with other writers of a
/// shared stderr) and then calls musl's abort(), which in a raw clone3
/// child signals a stale thread id (see syscall/abort.rs): a crash by
/// SIGSEGV in the init, the parent outlet killed in exec's helper. The
/// hook never returns, so nothing unwinds either (debug builds unwind by
/// default, which in a child would run the parent's undo guards). The line
/// is built on the stack: after the init's seccomp filter nothing may
/// allocate (a message with arguments was already formatted by std before
/// the hook runs; the hook adds no allocation of its own). `Box::new` of
/// a function item allocates nothing.
fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    use std::fmt::Write as _;
    let mut line = StackLine::default();
    let _ = line.write_str("outlet: panicked");
    if let Some(at) = info.location() {
        let _ = write!(line, " at {}:{}:{}", at.file(), at.line(), at.column());
    }
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    if let Some(msg) = msg {
        let _ = write!(line, ": {msg}");
    }
    logging::stderr_parts(&[line.as_str()]);
    outlet::syscall::abort::die_of_sigabrt()
}

/// A line formatted into a fixed buffer, cut when full, newlines turned
/// into spaces so that a message stays one line.
struct StackLine {
    buf: [u8; 1000],
    len: usize,
}

impl Default for StackLine {
    fn default() -> StackLine {
        StackLine {
            buf: [0; 1000],
            len: 0,
        }
    }
}

impl StackLine {
    fn as_str(&self) -> &str {
        // Only whole chars of valid str are ever copied in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackLine {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            let c = if c == '\n' { ' ' } else { c };
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            if self.len + bytes.len() > self.buf.len() {
                return Err(std::fmt::Error);
            }
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

/// What std's start-up does that outlet needs: SIGPIPE ignored, and fds
/// 0, 1 and 2 open (on /dev/null when the caller closed them), so that no
/// file outlet opens becomes someone's stdout; such a /dev/null on a
/// read-only mount, as the container inherits it.
fn std_start() {
    // First thing in main: no other thread exists.
    outlet::syscall::start::ignore_sigpipe_and_open_stdio();
    // Before the protected re-exec, which would see those fds open.
    outlet::syscall::start::stdio_null_read_only();
}

/// clap's full parse; a usage error (unknown flag, a missing or badly typed
/// argument) exits 1 as runc's does and as "bad input" must, not clap's 2.
/// `--help` and `--version` still print to stdout and exit 0.
fn parse_or_exit(argv: &[OsString]) -> Cli {
    Cli::try_parse_from(argv).unwrap_or_else(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        let _ = e.print();
        std::process::exit(code)
    })
}
