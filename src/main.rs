use std::process::ExitCode;

fn main() -> ExitCode {
    // Installed into /var/ossec/integrations as `custom-*`, the binary is
    // integratord's integration: argv[0] is set by integratord, so the
    // executable's own file name decides.
    if intelmatch::commands::integrate::invoked_as_integration() {
        return intelmatch::commands::integrate::main_from_integratord();
    }
    intelmatch::commands::main()
}
