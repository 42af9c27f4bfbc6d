//! Process start-up and exit for the `intelmatch` binary, done here instead of
//! by std's runtime.
//!
//! integratord starts the binary once per alert, so start-up is most of what an
//! alert costs. std's runtime set-up (`lang_start`) spends ~240 µs of CPU on this
//! class of VM before `main` runs, mostly finding the main thread's stack guard
//! through `/proc/self/maps`, which only serves the "stack overflow" message.
//! The binary therefore has a C `main` (see `main.rs`) and does the parts of
//! that set-up that matter itself: standard descriptors that exist and SIGPIPE
//! ignored, so that a closed pipe is an error, not a silent death. It also sets
//! the umask (see [`UMASK`]).

use std::process::ExitCode;

/// The documented modes (files 0640, directories 0750) come out of creation
/// itself whatever umask the caller had. Files are also chmodded after
/// creation, but a directory cannot be: in the setgid data directory a chmod
/// by a user outside group wazuh (the sync user) would clear the inherited
/// setgid bit, and files below would stop being readable by integratord.
pub const UMASK: libc::mode_t = 0o027;

/// What std's runtime would have done before `main`, minus the stack guard.
pub fn prepare() {
    // SAFETY: fcntl/open/signal are called with valid arguments before any
    // other thread exists; nothing here touches Rust-owned memory.
    unsafe {
        for fd in 0..=2 {
            // A closed 0, 1 or 2 would be handed out by the next open (the log
            // file or the queue socket) and get stray prints: park /dev/null there.
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null != fd && null >= 0 {
                    libc::close(null);
                }
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::umask(UMASK);
    }
}

/// Flushes stdout and exits with `code` (std's `exit` runs its clean-up).
pub fn exit(code: ExitCode) -> ! {
    std::process::exit(status(code))
}

/// `ExitCode` has no stable accessor for its value, but compares equal to the
/// `u8` it was built from.
fn status(code: ExitCode) -> i32 {
    (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .map_or(1, i32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_their_value() {
        assert_eq!(status(ExitCode::SUCCESS), 0);
        assert_eq!(status(ExitCode::FAILURE), 1);
        assert_eq!(status(ExitCode::from(2)), 2);
        assert_eq!(status(ExitCode::from(101)), 101);
    }
}
