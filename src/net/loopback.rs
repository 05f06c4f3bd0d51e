//! A new network namespace starts with `lo` down: bring it up, so that
//! programs in the container can talk to themselves on 127.0.0.1.

use std::os::fd::{AsFd, AsRawFd};


#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("cannot enter the container's network namespace: {0}")]
    Enter(nix::Error),
    #[error("cannot bring up lo: {0}")]
    Up(std::io::Error),
}

/// Bring up `lo` in the network namespace of process `pid`. A forked child
/// enters the namespace and sets the flag, so this process never changes
/// namespace (rootless, it could not come back to the host's).
/// Call only from a single-threaded process (the shim).
pub fn bring_up_in(pid: i32) -> Result<(), LoopbackError> {
    let target = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(LoopbackError::Up)?;
    // SAFETY: the caller is single-threaded; the child only makes syscalls and exits.
    match unsafe { nix::unistd::fork() }.map_err(LoopbackError::Enter)? {
        nix::unistd::ForkResult::Child => {
            let ok = nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).is_ok() && set_up("lo").is_ok();
            // SAFETY: _exit skips destructors and atexit handlers, right for a forked child.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            _ => Err(LoopbackError::Up(std::io::Error::other("the helper could not set the flag"))),
        },
    }
}

fn set_up(name: &str) -> std::io::Result<()> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| std::net::UdpSocket::bind("[::]:0"))?;
    // SAFETY: ifreq is plain data; the ioctls read and write only the struct we own.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
