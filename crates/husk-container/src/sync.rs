//! The channel between `husk create` and the container's init: a
//! `SOCK_SEQPACKET` socket pair carrying one small JSON message per packet,
//! optionally with one file descriptor attached (pty master, seccomp
//! listener).

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Child: I unshared a user and/or time namespace; write my maps/offsets.
    Unshared,
    /// Child: the init is this (host) pid (when it is not the first child).
    InitPid(i32),
    /// Child: the rootfs is prepared; run prestart and createRuntime hooks.
    RunHooks,
    /// Child: here is the pty master (attached), for a foreground `run`.
    ConsoleMaster,
    /// Child: here is the seccomp notify listener (attached).
    SeccompListener,
    /// Child: something to log (an ignored capability, an unknown syscall).
    Log(crate::Notice),
    /// Child: set-up is complete, waiting for `start`.
    Ready,
    /// Child: set-up failed.
    Failed(String),
    /// Parent: an idmapped mount prepared on the host (attached), for a
    /// container in its own user namespace.
    MountFd,
    /// Parent: carry on.
    Proceed,
}

pub struct Channel(OwnedFd);

pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?;
    Ok((Channel(a), Channel(b)))
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> std::io::Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Msg, fd: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        let fds;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if let Some(fd) = fd {
            fds = [fd];
            control.push(SendAncillaryMessage::ScmRights(&fds));
        }
        sendmsg(&self.0, &[IoSlice::new(&data)], &mut control, SendFlags::NOSIGNAL)?;
        Ok(())
    }

    /// Receives the next message; `None` when the peer closed its end.
    pub fn recv(&self) -> std::io::Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            match recvmsg(&self.0, &mut [IoSliceMut::new(&mut buf)], &mut control, RecvFlags::CMSG_CLOEXEC) {
                Ok(r) => break r.bytes,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut fd = None;
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = m {
                fd = fds.into_iter().next();
            }
        }
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)?;
        Ok(Some((msg, fd)))
    }

}
