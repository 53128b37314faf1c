use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::path::Path;

use oci_spec::runtime::{ContainerProcessState, SECCOMP_FD_NAME};
use rustix::io::Errno;
use rustix::net::{
    connect, send, sendmsg, socket_with, AddressFamily, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

use crate::Error;

/// Sends the container process state and the seccomp notify `fd` to the agent
/// listening on `listener_path` (`linux.seccomp.listenerPath`), over a fresh
/// connection that is closed afterwards, as config-linux.md prescribes.
///
/// `state.fds` is replaced by `["seccompFd"]`, the one fd this sends; the
/// caller fills in the rest (`metadata` = `linux.seccomp.listenerMetadata`).
pub fn send_to_listener(
    listener_path: &Path,
    state: &ContainerProcessState,
    fd: BorrowedFd<'_>,
) -> Result<(), Error> {
    let failed = |syscall| {
        move |errno| Error::Listener {
            path: listener_path.to_owned(),
            syscall,
            errno,
        }
    };

    let mut state = state.clone();
    state.set_fds(vec![SECCOMP_FD_NAME.to_owned()]);
    let payload = serde_json::to_vec(&state).map_err(|source| Error::StateJson {
        path: listener_path.to_owned(),
        source,
    })?;

    let address = SocketAddrUnix::new(listener_path).map_err(failed("sockaddr_un"))?;
    let socket = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(failed("socket"))?;
    connect(&socket, &address).map_err(failed("connect"))?;

    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ancillary = SendAncillaryBuffer::new(&mut space);
    // `space` is sized for exactly this message, so the push cannot fail.
    ancillary.push(SendAncillaryMessage::ScmRights(&fds));

    // The fd travels with the first chunk only; the rest of a long state
    // follows in plain sends, which the spec allows.
    let mut unsent = &payload[..];
    let mut fd_sent = false;
    while !unsent.is_empty() {
        let (syscall, result) = if fd_sent {
            ("send", send(&socket, unsent, SendFlags::NOSIGNAL))
        } else {
            let iov = [IoSlice::new(unsent)];
            let sent = sendmsg(&socket, &iov, &mut ancillary, SendFlags::NOSIGNAL);
            ("sendmsg", sent)
        };
        match result {
            Ok(sent) => {
                fd_sent = true;
                unsent = &unsent[sent..];
            }
            Err(Errno::INTR) => {}
            Err(errno) => return Err(failed(syscall)(errno)),
        }
    }
    Ok(())
}
