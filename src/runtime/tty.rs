//! Terminals: receiving the pty master that libcontainer's init sends over the
//! console socket (OCI runtime spec, SCM_RIGHTS), raw mode for our own terminal,
//! and relaying between the two with window-size updates.

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::termios::{self, SetArg, Termios};
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

/// Wait for the init to connect and hand over the pty master.
pub fn receive_master(listener: &UnixListener) -> std::io::Result<OwnedFd> {
    let (stream, _) = listener.accept()?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just gave us this descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(std::io::Error::other("the container sent no terminal"))
}

/// Our terminal in raw mode until dropped.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Copy our terminal's size to the pty.
pub fn sync_size(master: BorrowedFd<'_>) {
    let mut size = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: both ioctls take a pointer to a winsize, which we own.
    unsafe {
        if get_winsize(std::io::stdout().as_raw_fd(), &mut size).is_ok() {
            let _ = set_winsize(master.as_raw_fd(), &size);
        }
    }
}

pub fn set_size(master: BorrowedFd<'_>, rows: u16, cols: u16) {
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads the winsize we own.
    let _ = unsafe { set_winsize(master.as_raw_fd(), &size) };
}

/// Our terminal's size, for the process spec.
pub fn current_size() -> (u16, u16) {
    let mut size = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes into the winsize we own.
    let _ = unsafe { get_winsize(std::io::stdout().as_raw_fd(), &mut size) };
    (size.ws_row, size.ws_col)
}

/// Relay stdin -> master and master -> stdout until the master closes.
/// `tick` runs every round (forward signals, resize); it returns false to stop.
pub fn relay(master: &OwnedFd, mut tick: impl FnMut() -> bool) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut master_file = std::fs::File::from(master.try_clone().expect("dup the pty master"));
    let mut stdin_open = true;
    let mut buf = [0u8; 16 * 1024];
    loop {
        if !tick() {
            return;
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
            Ok(_) => {}
        }
        let master_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let stdin_ready = stdin_open && fds.get(1).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty());
        drop(fds);
        if master_ready {
            match master_file.read(&mut buf) {
                // EIO: every slave closed, the process is gone.
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
            }
        }
        if stdin_ready {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = master_file.write_all(&buf[..n]);
                }
            }
        }
    }
}

/// A console socket path in a fresh private directory: unix socket paths must
/// be short (108 bytes), which container directories are not.
pub fn socket_dir() -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("rde-{}", crate::fsutil::unique_suffix()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}
