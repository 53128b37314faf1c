//! `process.terminal`: the pseudoterminal of the container process, handing
//! its master to a `--console-socket` listener, and proxying it in the
//! foreground when there is no such listener.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::io::{fcntl_setfd, read, write, Errno, FdFlags};
use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use rustix::pty::{ioctl_tiocgptpeer, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{isatty, tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, OptionalActions, Termios, Winsize};

use crate::Error;

/// Turns an opened `/dev/ptmx` of the container into a (master, slave)
/// pair. The slave is obtained from the master itself (`TIOCGPTPEER`), never
/// by opening `/dev/pts/N` by name, which the container could have replaced
/// (CVE-2025-52565). Both descriptors are close-on-exec.
pub fn open_pty(ptmx: OwnedFd) -> Result<(OwnedFd, OwnedFd), Error> {
    fcntl_setfd(&ptmx, FdFlags::CLOEXEC).map_err(|e| Error::terminal("fcntl(FD_CLOEXEC) on ptmx", e))?;
    unlockpt(&ptmx).map_err(|e| Error::terminal("unlockpt", e))?;
    let slave = ioctl_tiocgptpeer(&ptmx, OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| Error::terminal("ioctl(TIOCGPTPEER)", e))?;
    Ok((ptmx, slave))
}

/// Sets the window size of the terminal behind `fd` (`process.consoleSize`).
pub fn set_size(fd: BorrowedFd<'_>, height: u32, width: u32) -> Result<(), Error> {
    let (Ok(rows), Ok(cols)) = (u16::try_from(height), u16::try_from(width)) else {
        return Err(Error::invalid(
            "process.consoleSize",
            format!("{height}x{width}"),
            "height and width must be at most 65535",
        ));
    };
    let size = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    tcsetwinsize(fd, size).map_err(|e| Error::terminal("ioctl(TIOCSWINSZ)", e))
}

/// Connects to the `--console-socket` listener and sends it the pty master:
/// exactly one descriptor in one `SCM_RIGHTS` message, with the pty's name
/// as the (short) payload, which is what go-runc and conmon expect.
pub fn send_console(socket_path: &Path, master: BorrowedFd<'_>) -> Result<(), Error> {
    let socket = UnixStream::connect(socket_path)
        .map_err(|e| Error::terminal(format!("connect to console socket {}", socket_path.display()), e))?;
    send_console_fd(socket.as_fd(), master)
}

/// [`send_console`] over an already connected socket: the init connects
/// before it pivots into the container, where the path is out of reach.
pub fn send_console_fd(socket: BorrowedFd<'_>, master: BorrowedFd<'_>) -> Result<(), Error> {
    let name = ptsname(master, Vec::new()).map_err(|e| Error::terminal("ioctl(TIOCGPTN)", e))?;
    let payload = name.as_bytes();
    let fds = [master];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Error::terminal("SCM_RIGHTS buffer", Errno::NOBUFS));
    }
    let sent = loop {
        match sendmsg(socket, &[IoSlice::new(payload)], &mut control, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            other => break other.map_err(|e| Error::terminal("sendmsg to console socket", e))?,
        }
    };
    // The descriptor travelled with the first byte; the rest is plain data.
    write_all(socket, &payload[sent..]).map_err(|e| Error::terminal("send to console socket", e))
}

/// Makes the pty slave the controlling terminal and the standard streams of
/// the calling process: `setsid`, `TIOCSCTTY`, then `dup2` onto 0, 1 and 2.
pub fn make_controlling(slave: BorrowedFd<'_>) -> Result<(), Error> {
    rustix::process::setsid().map_err(|e| Error::terminal("setsid", e))?;
    rustix::process::ioctl_tiocsctty(slave).map_err(|e| Error::terminal("ioctl(TIOCSCTTY)", e))?;
    let dup_error = |stream: &str, e: Errno| Error::terminal(format!("dup2 pty onto {stream}"), e);
    rustix::stdio::dup2_stdin(slave).map_err(|e| dup_error("stdin", e))?;
    rustix::stdio::dup2_stdout(slave).map_err(|e| dup_error("stdout", e))?;
    rustix::stdio::dup2_stderr(slave).map_err(|e| dup_error("stderr", e))?;
    Ok(())
}

fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> rustix::io::Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How often the proxy compares the size of its own terminal with the
/// container's. Polling instead of a SIGWINCH handler keeps the proxy free
/// of process-wide signal state (masks, handlers) that the caller may own;
/// a caller that does handle SIGWINCH can call [`Proxy::sync_size`] directly.
const SIZE_CHECK_INTERVAL: Timespec = Timespec { tv_sec: 0, tv_nsec: 200_000_000 };

const NO_WAIT: Timespec = Timespec { tv_sec: 0, tv_nsec: 0 };

/// Callback for the caller's own event descriptor in [`Proxy::run_with_events`].
type EventHandler<'h, 'a> = &'h mut dyn FnMut(&mut Proxy<'a>) -> std::io::Result<()>;

/// Foreground pty proxy (`husk run` / `husk exec` with a terminal and no
/// `--console-socket`): copies `input` to the pty master and the master to
/// `output` until the container process exits, mirroring the size of
/// `input`'s terminal. If `input` is a terminal it is put in raw mode for
/// the lifetime of the proxy and restored on drop, also after errors.
///
/// Writes to the master never block: input waits in a buffer (and no more
/// is read) while the container is not consuming it, so a container that is
/// itself blocked on output can always be drained.
pub struct Proxy<'a> {
    master: OwnedFd,
    input: BorrowedFd<'a>,
    output: BorrowedFd<'a>,
    saved_input_mode: Option<Termios>,
    last_size: Option<Winsize>,
    pending_input: Vec<u8>,
}

impl Proxy<'static> {
    /// A proxy between husk's own stdin/stdout and `master`.
    pub fn stdio(master: OwnedFd) -> Result<Self, Error> {
        Proxy::new(master, rustix::stdio::stdin(), rustix::stdio::stdout())
    }
}

impl<'a> Proxy<'a> {
    pub fn new(master: OwnedFd, input: BorrowedFd<'a>, output: BorrowedFd<'a>) -> Result<Self, Error> {
        let flags = fcntl_getfl(&master).map_err(|e| Error::terminal("fcntl(F_GETFL) on pty", e))?;
        fcntl_setfl(&master, flags | OFlags::NONBLOCK).map_err(|e| Error::terminal("fcntl(F_SETFL O_NONBLOCK) on pty", e))?;
        let mut proxy =
            Proxy { master, input, output, saved_input_mode: None, last_size: None, pending_input: Vec::new() };
        if isatty(input) {
            let saved = tcgetattr(input).map_err(|e| Error::terminal("tcgetattr on stdin", e))?;
            let mut raw = saved.clone();
            raw.make_raw();
            tcsetattr(input, OptionalActions::Now, &raw).map_err(|e| Error::terminal("tcsetattr raw on stdin", e))?;
            proxy.saved_input_mode = Some(saved);
            proxy.sync_size()?;
        }
        Ok(proxy)
    }

    /// Copies the window size of the input terminal to the container's pty
    /// if it changed (the kernel then sends SIGWINCH to the container's
    /// foreground process group). No-op when input is not a terminal.
    pub fn sync_size(&mut self) -> Result<(), Error> {
        if self.saved_input_mode.is_none() {
            return Ok(());
        }
        let size = tcgetwinsize(self.input).map_err(|e| Error::terminal("ioctl(TIOCGWINSZ) on stdin", e))?;
        if self.last_size != Some(size) {
            tcsetwinsize(&self.master, size).map_err(|e| Error::terminal("ioctl(TIOCSWINSZ) on pty", e))?;
            self.last_size = Some(size);
        }
        Ok(())
    }

    /// Relays until the process behind `child` (a pidfd) has exited, then
    /// forwards what it left in the pty. End of input stops only the input
    /// direction.
    pub fn run(&mut self, child: BorrowedFd<'_>) -> Result<(), Error> {
        self.relay(child, None)
    }

    /// [`Proxy::run`] for a caller with its own event source, typically the
    /// signalfd of a foreground `run`/`exec`: whenever `events` is readable,
    /// `on_event` is called (it can forward signals and, on SIGWINCH, call
    /// [`Proxy::sync_size`]).
    pub fn run_with_events(
        &mut self,
        child: BorrowedFd<'_>,
        events: BorrowedFd<'_>,
        mut on_event: impl FnMut(&mut Proxy<'a>) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        self.relay(child, Some((events, &mut on_event)))
    }

    fn relay(&mut self, child: BorrowedFd<'_>, mut events: Option<(BorrowedFd<'_>, EventHandler<'_, 'a>)>) -> Result<(), Error> {
        let mut buf = [0u8; 8192];
        let (mut input_open, mut master_open) = (true, true);
        loop {
            // Slots: child, then the caller's events, master, input if present.
            let mut fds = vec![PollFd::from_borrowed_fd(child, PollFlags::IN)];
            if let Some((events_fd, _)) = &events {
                fds.push(PollFd::from_borrowed_fd(*events_fd, PollFlags::IN));
            }
            let master_slot = master_open.then(|| {
                let wanted = if self.pending_input.is_empty() { PollFlags::IN } else { PollFlags::IN | PollFlags::OUT };
                fds.push(PollFd::new(&self.master, wanted));
                fds.len() - 1
            });
            let input_slot = (input_open && self.pending_input.is_empty()).then(|| {
                fds.push(PollFd::from_borrowed_fd(self.input, PollFlags::IN));
                fds.len() - 1
            });
            match poll(&mut fds, Some(&SIZE_CHECK_INTERVAL)) {
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::terminal("poll", e)),
            }
            let revents: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
            drop(fds);

            if let Some((_, on_event)) = &mut events {
                if !revents[1].is_empty() {
                    on_event(self).map_err(|e| Error::terminal("event handler", e))?;
                }
            }
            if let Some(slot) = master_slot {
                if revents[slot].intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                    master_open = self.forward_output(&mut buf)?;
                }
                if master_open && revents[slot].contains(PollFlags::OUT) {
                    self.flush_input()?;
                }
            }
            if let Some(slot) = input_slot {
                if !revents[slot].is_empty() {
                    input_open = self.read_input(&mut buf)?;
                }
            }
            if !revents[0].is_empty() || Self::readable(child)? {
                while master_open && Self::readable(self.master.as_fd())? {
                    master_open = self.forward_output(&mut buf)?;
                }
                return Ok(());
            }
            self.sync_size()?;
        }
    }

    fn readable(fd: BorrowedFd<'_>) -> Result<bool, Error> {
        let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
        poll(&mut fds, Some(&NO_WAIT)).map_err(|e| Error::terminal("poll", e))?;
        Ok(!fds[0].revents().is_empty())
    }

    /// One read from the master to output; false once every slave handle is
    /// closed (the master then reads EIO).
    fn forward_output(&self, buf: &mut [u8]) -> Result<bool, Error> {
        match read(&self.master, &mut *buf) {
            Ok(0) | Err(Errno::IO) => Ok(false),
            Ok(n) => write_all(self.output, &buf[..n]).map(|()| true).map_err(|e| Error::terminal("write to stdout", e)),
            Err(Errno::INTR | Errno::AGAIN) => Ok(true),
            Err(e) => Err(Error::terminal("read from pty", e)),
        }
    }

    /// One read from input into the pending buffer; false at end of input.
    fn read_input(&mut self, buf: &mut [u8]) -> Result<bool, Error> {
        match read(self.input, &mut *buf) {
            Ok(0) | Err(Errno::IO | Errno::BADF) => Ok(false),
            Ok(n) => {
                self.pending_input.extend_from_slice(&buf[..n]);
                self.flush_input().map(|()| true)
            }
            Err(Errno::INTR | Errno::AGAIN) => Ok(true),
            Err(e) => Err(Error::terminal("read from stdin", e)),
        }
    }

    /// Writes as much pending input to the master as it takes right now.
    fn flush_input(&mut self) -> Result<(), Error> {
        while !self.pending_input.is_empty() {
            match write(&self.master, &self.pending_input) {
                Ok(n) => {
                    self.pending_input.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(Error::terminal("write to pty", e)),
            }
        }
        Ok(())
    }
}

impl Drop for Proxy<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved_input_mode {
            // Nothing useful can be done if restoring fails while dropping.
            let _ = tcsetattr(self.input, OptionalActions::Now, saved);
        }
    }
}

/// Runs a [`Proxy`] between husk's stdin/stdout and `master` until the
/// process behind the pidfd `child` exits.
pub fn proxy(master: OwnedFd, child: BorrowedFd<'_>) -> Result<(), Error> {
    Proxy::stdio(master)?.run(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{spawn_forked, ScratchDir};
    use rustix::fs::{open, Mode, OFlags};
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::io::IoSliceMut;
    use std::os::unix::net::UnixListener;

    fn host_pty() -> (OwnedFd, OwnedFd) {
        let ptmx = open("/dev/ptmx", OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC, Mode::empty()).expect("open /dev/ptmx");
        open_pty(ptmx).expect("open_pty")
    }

    #[test]
    fn pty_pair_is_connected_and_sized() {
        let (master, slave) = host_pty();
        set_size(master.as_fd(), 24, 100).unwrap();
        let size = tcgetwinsize(&slave).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (24, 100));
        write_all(master.as_fd(), b"x\n").unwrap();
        let mut buf = [0u8; 8];
        let n = read(&slave, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"x\n");
        let flags = rustix::io::fcntl_getfd(&slave).unwrap();
        assert!(flags.contains(FdFlags::CLOEXEC));
        assert!(set_size(master.as_fd(), 70000, 80).unwrap_err().to_string().starts_with("process.consoleSize"));
    }

    #[test]
    fn console_socket_receives_exactly_one_descriptor() {
        let dir = ScratchDir::new("console");
        let socket_path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&socket_path).unwrap();
        let receiver = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut payload = [0u8; 4096];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let msg = recvmsg(&conn, &mut [IoSliceMut::new(&mut payload)], &mut control, RecvFlags::CMSG_CLOEXEC).unwrap();
            let name = String::from_utf8_lossy(&payload[..msg.bytes]).into_owned();
            let mut fds = Vec::new();
            let mut messages = 0;
            for message in control.drain() {
                messages += 1;
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    fds.extend(received);
                }
            }
            (name, messages, fds)
        });
        let (master, slave) = host_pty();
        send_console(&socket_path, master.as_fd()).unwrap();
        let (name, messages, mut fds) = receiver.join().unwrap();
        assert!(name.starts_with("/dev/pts/"), "{name}");
        assert_eq!((messages, fds.len()), (1, 1));
        // The received descriptor is the master of our pair.
        write_all(fds[0].as_fd(), b"ok\n").unwrap();
        let mut buf = [0u8; 8];
        let n = read(&slave, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"ok\n");
        fds.clear();
    }

    #[test]
    fn proxy_relays_both_ways_until_the_child_exits() {
        let (master, slave) = host_pty();
        let child = spawn_forked(move || {
            make_controlling(slave.as_fd()).map_err(|e| e.to_string())?;
            drop(slave);
            let ctty = rustix::termios::tcgetpgrp(rustix::stdio::stdin()).map_err(|e| format!("no controlling tty: {e}"))?;
            if ctty != rustix::process::getpgrp() {
                return Err("pty is not the controlling terminal".into());
            }
            write_all(rustix::stdio::stdout(), b"hello\n").map_err(|e| e.to_string())?;
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while read(rustix::stdio::stdin(), &mut byte).map_err(|e| e.to_string())? == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            let reply = format!("got {}\n", String::from_utf8_lossy(&line));
            write_all(rustix::stdio::stdout(), reply.as_bytes()).map_err(|e| e.to_string())
        });
        let pidfd = rustix::process::pidfd_open(child.pid(), rustix::process::PidfdFlags::empty()).unwrap();
        let (input_reader, input_writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let (output_reader, output_writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        write_all(input_writer.as_fd(), b"ping\n").unwrap();
        drop(input_writer);
        let mut proxy = Proxy::new(master, input_reader.as_fd(), output_writer.as_fd()).unwrap();
        proxy.run(pidfd.as_fd()).unwrap();
        drop(proxy);
        drop(output_writer);
        child.wait().unwrap();
        let mut output = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(output_reader), &mut output).unwrap();
        assert!(output.contains("hello") && output.contains("got ping"), "{output:?}");
    }

    #[test]
    fn proxy_does_not_deadlock_on_bulk_traffic_both_ways() {
        // The child echoes every input chunk back, twice over, while the
        // proxy feeds it far more than the pty buffers hold in either
        // direction; blocking writes on both sides would deadlock.
        const INPUT_BYTES: usize = 256 * 1024;
        let dir = ScratchDir::new("bulk");
        std::fs::write(dir.path().join("in"), vec![b'a'; INPUT_BYTES]).unwrap();
        let input = std::fs::File::open(dir.path().join("in")).unwrap();
        let output = std::fs::File::create(dir.path().join("out")).unwrap();
        let (master, slave) = host_pty();
        // Raw before the proxy starts: a canonical-mode line would overflow
        // (and drop input) without a newline, and echo would add output.
        let mut mode = tcgetattr(&slave).unwrap();
        mode.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &mode).unwrap();
        let child = spawn_forked(move || {
            make_controlling(slave.as_fd()).map_err(|e| e.to_string())?;
            drop(slave);
            let (mut received, mut chunk) = (0, [0u8; 4096]);
            while received < INPUT_BYTES {
                let n = read(rustix::stdio::stdin(), &mut chunk).map_err(|e| e.to_string())?;
                received += n;
                let echo: Vec<u8> = chunk[..n].iter().map(|_| b'b').collect();
                write_all(rustix::stdio::stdout(), &echo).map_err(|e| e.to_string())?;
                write_all(rustix::stdio::stdout(), &echo).map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let pidfd = rustix::process::pidfd_open(child.pid(), rustix::process::PidfdFlags::empty()).unwrap();
        let mut proxy = Proxy::new(master, input.as_fd(), output.as_fd()).unwrap();
        proxy.run(pidfd.as_fd()).unwrap();
        drop(proxy);
        child.wait().unwrap();
        let written = std::fs::metadata(dir.path().join("out")).unwrap().len();
        assert_eq!(written, 2 * INPUT_BYTES as u64);
    }

    #[test]
    fn proxy_makes_a_terminal_input_raw_mirrors_its_size_and_restores_it() {
        use rustix::termios::LocalModes;
        // A second pty plays the terminal husk runs in.
        let (user_master, user_tty) = host_pty();
        set_size(user_master.as_fd(), 30, 120).unwrap();
        let (master, slave) = host_pty();
        let (_output_reader, output_writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let rows_cols = |fd: &OwnedFd| tcgetwinsize(fd).map(|w| (w.ws_row, w.ws_col)).unwrap();
        let canonical = |fd: &OwnedFd| tcgetattr(fd).unwrap().local_modes.contains(LocalModes::ICANON);
        assert!(canonical(&user_tty));
        {
            let mut proxy = Proxy::new(master, user_tty.as_fd(), output_writer.as_fd()).unwrap();
            assert!(!canonical(&user_tty), "input terminal not in raw mode");
            assert_eq!(rows_cols(&slave), (30, 120));
            set_size(user_master.as_fd(), 40, 90).unwrap();
            proxy.sync_size().unwrap();
            assert_eq!(rows_cols(&slave), (40, 90));
        }
        assert!(canonical(&user_tty), "input terminal mode not restored");
    }
}
