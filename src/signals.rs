//! Signals a foreground command receives (Ctrl-C, TERM, ...), remembered so
//! that the command can pass them on to the container's process.

use std::sync::atomic::{AtomicI32, Ordering};

static PENDING: AtomicI32 = AtomicI32::new(0);
static RESIZED: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember(sig: libc::c_int) {
    if sig == libc::SIGWINCH {
        RESIZED.store(1, Ordering::SeqCst);
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Whether our terminal changed size since the last call.
pub fn take_resize() -> bool {
    RESIZED.swap(0, Ordering::SeqCst) == 1
}

/// From now on, these signals are remembered instead of ending rde. Without
/// SA_RESTART, so that a blocking wait returns EINTR and the signal is passed on at once.
pub fn catch_forwardable() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(SigHandler::Handler(remember), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGWINCH] {
        // SAFETY: the handler only stores into an atomic.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// The signal remembered since the last call, if any.
pub fn take_pending() -> Option<i32> {
    Some(PENDING.swap(0, Ordering::SeqCst)).filter(|s| *s != 0)
}

/// Whether a signal that ends a command (INT, TERM, HUP, QUIT) is remembered, without taking it.
pub fn interrupted() -> bool {
    matches!(PENDING.load(Ordering::SeqCst), libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT)
}

/// Pass a remembered signal, if any, on to `pid`.
pub fn forward_to(pid: i32) {
    let sig = PENDING.swap(0, Ordering::SeqCst);
    if sig != 0 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, sig) };
    }
}
