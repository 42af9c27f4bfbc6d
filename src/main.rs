//! The `intelmatch` binary. A C `main`: std's runtime start-up is skipped
//! because integratord starts this binary once per alert (see [`intelmatch::start`]).

#![no_main]

use std::process::ExitCode;

#[no_mangle]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    intelmatch::start::prepare();
    // A panic that escaped the commands' own handling has been logged (or
    // printed by std's hook before logging was set up); exit as std would.
    let code = std::panic::catch_unwind(run).unwrap_or(ExitCode::from(101));
    intelmatch::start::exit(code)
}

fn run() -> ExitCode {
    // Installed into /var/ossec/integrations as `custom-*`, the binary is
    // integratord's integration: argv[0] is set by integratord, so the
    // executable's own file name decides.
    use intelmatch::commands::integrate;
    if integrate::invoked_as_integration() {
        return integrate::main_from_integratord();
    }
    // `intelmatch integrate ...` is spawned once per alert too: its arguments are
    // integratord's, so clap (a tenth of the start-up) is skipped for it.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "integrate") {
        let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
        if !rest.first().is_some_and(|a| a == "-h" || a == "--help") {
            return integrate::run(None, &rest);
        }
    }
    intelmatch::commands::main()
}
