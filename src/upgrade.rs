//! Zero-downtime upgrade: a running gateway hands its listening sockets to a
//! new process over a Unix socket (`[server] upgrade_socket`, SCM_RIGHTS),
//! then stops accepting and drains. Both processes hold the same kernel
//! sockets, so a connection waiting in the backlog is accepted by whichever
//! still accepts: none is refused.
//!
//! The new process (`execgate gateway --upgrade`) listens on the upgrade
//! socket and waits; SIGQUIT makes the old one send its listeners; the new
//! one confirms only once it serves on them, and the old one keeps serving
//! until that confirmation (a new process that fails at start leaves the old
//! one in charge). Pingora's own handover (`pingora_core::server::transfer_fd`)
//! is crate-private and keyed to the listeners Pingora binds itself, so it
//! cannot carry the accept guard's.

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Names the message and the order of its descriptors: the public (proxy)
/// listener, then the admin listener.
const HEADER: &[u8] = b"execgate-listeners/1 proxy admin";

/// What the new process sends back once it serves on the listeners.
const SERVING: &[u8] = b"serving\n";

/// Longest wait of a new process for the old one's listeners (the operator
/// sends SIGQUIT after starting it).
const HANDOVER_WAIT: Duration = Duration::from_secs(60);

/// Longest wait of the old process for the new one to serve (it has already
/// loaded its config and rules when it takes the listeners).
const SERVING_WAIT: Duration = Duration::from_secs(60);

/// The listeners the old process hands over, kept (duplicated) for SIGQUIT.
pub struct Handover {
    socket: PathBuf,
    proxy: OwnedFd,
    admin: OwnedFd,
}

impl Handover {
    /// Keeps duplicates of `proxy` and `admin` to send over `socket`.
    pub fn new(socket: &Path, proxy: &impl AsFd, admin: &impl AsFd) -> Result<Self, String> {
        let dup = |fd: &dyn AsFd, what: &str| {
            fd.as_fd()
                .try_clone_to_owned()
                .map_err(|e| format!("server.upgrade_socket: cannot keep the {what} listener: {e}"))
        };
        Ok(Self {
            socket: socket.to_path_buf(),
            proxy: dup(proxy, "proxy")?,
            admin: dup(admin, "admin")?,
        })
    }

    /// Sends the listeners to the process waiting on the upgrade socket and
    /// waits until it serves on them (blocking). On an error this process
    /// still owns its listeners and keeps serving.
    pub fn send(&self) -> Result<(), String> {
        let path = self.socket.display();
        let stream = UnixStream::connect(&self.socket).map_err(|e| {
            format!("cannot reach a new process on {path}: {e} (start it with --upgrade first)")
        })?;
        same_user(&stream).map_err(|e| format!("{path}: {e}"))?;
        let fds = [self.proxy.as_fd(), self.admin.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err("the listeners do not fit the control message".into());
        }
        rustix::net::sendmsg(
            &stream,
            &[IoSlice::new(HEADER)],
            &mut control,
            SendFlags::NOSIGNAL,
        )
        .map_err(|e| format!("cannot send the listeners over {path}: {e}"))?;
        confirmation(stream).map_err(|e| format!("the new process on {path} {e}"))
    }
}

/// Reads the new process's confirmation that it serves.
fn confirmation(mut stream: UnixStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(SERVING_WAIT))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = (&mut stream)
        .take(SERVING.len() as u64)
        .read_to_end(&mut answer);
    if answer == SERVING {
        Ok(())
    } else {
        Err(format!(
            "did not confirm it serves within {SERVING_WAIT:?} (it failed at start, or is stuck)"
        ))
    }
}

/// The listeners a new process takes over, and the way back to the old one.
pub struct Inherited {
    /// The public listener (the accept guard's).
    pub proxy: TcpListener,
    /// The admin listener.
    pub admin: TcpListener,
    /// Tells the old process once this one serves.
    pub old: OldProcess,
}

/// The connection to the old process, open until this one serves.
pub struct OldProcess(UnixStream);

impl OldProcess {
    /// Tells the old process this one serves: it stops accepting and drains.
    pub fn confirm(mut self) -> Result<(), String> {
        self.0
            .write_all(SERVING)
            .map_err(|e| format!("cannot confirm to the old process: {e}"))
    }
}

/// Waits on `socket` for a running gateway's listeners (sent on its SIGQUIT).
pub fn receive(socket: &Path) -> Result<Inherited, String> {
    let path = socket.display();
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("server.upgrade_socket {path}: {e}")),
    }
    let listener =
        UnixListener::bind(socket).map_err(|e| format!("server.upgrade_socket {path}: {e}"))?;
    // Whoever connects is handed nothing but may hand over listeners: only
    // this user may connect, whatever the umask (and the peer is checked too).
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("server.upgrade_socket {path}: {e}"))?;
    tracing::info!(socket = %path, "waiting for the running gateway's listeners (send it SIGQUIT)");
    let taken = accept_until(&listener, Instant::now() + HANDOVER_WAIT);
    let _ = std::fs::remove_file(socket);
    let old = taken?.ok_or_else(|| {
        format!("--upgrade: no running gateway handed over its listeners on {path} within {HANDOVER_WAIT:?} (send it SIGQUIT)")
    })?;
    same_user(&old).map_err(|e| format!("--upgrade: {path}: {e}"))?;
    let (proxy, admin) = read_listeners(&old).map_err(|e| format!("--upgrade: {path}: {e}"))?;
    Ok(Inherited {
        proxy,
        admin,
        old: OldProcess(old),
    })
}

/// The first connection to `listener` before `deadline`, if any.
fn accept_until(listener: &UnixListener, deadline: Instant) -> Result<Option<UnixStream>, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("server.upgrade_socket: {e}"))?;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| format!("server.upgrade_socket: {e}"))?;
                return Ok(Some(stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("server.upgrade_socket: {e}")),
        }
    }
    Ok(None)
}

/// The two listeners of one handover message, checked to be listening TCP sockets.
fn read_listeners(stream: &UnixStream) -> Result<(TcpListener, TcpListener), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut payload = [0u8; 64];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut payload)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| format!("no listeners received: {e}"))?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    if payload.get(..received.bytes) != Some(HEADER) || fds.len() != 2 {
        return Err(format!(
            "not an execgate handover ({} bytes, {} descriptors): is the old process the same program?",
            received.bytes,
            fds.len()
        ));
    }
    let admin = listening(fds.pop(), "admin")?;
    let proxy = listening(fds.pop(), "proxy")?;
    Ok((proxy, admin))
}

/// The process at the other end runs as this one's user: listeners are
/// handed to, and taken from, nobody else.
fn same_user(stream: &UnixStream) -> Result<(), String> {
    let peer = rustix::net::sockopt::socket_peercred(stream)
        .map_err(|e| format!("cannot tell who is connected: {e}"))?;
    let ours = rustix::process::geteuid();
    if peer.uid != ours {
        return Err(format!(
            "refused: the process at the other end (pid {}) runs as uid {}, not as this one's uid {}",
            peer.pid.as_raw_nonzero(),
            peer.uid.as_raw(),
            ours.as_raw()
        ));
    }
    Ok(())
}

/// `fd` as a TCP listener, if it is a listening TCP socket.
fn listening(fd: Option<OwnedFd>, what: &str) -> Result<TcpListener, String> {
    let fd = fd.ok_or_else(|| format!("no {what} listener"))?;
    let not_one = |why: String| format!("the {what} descriptor is not a TCP listener: {why}");
    let kind = rustix::net::sockopt::socket_type(&fd).map_err(|e| not_one(e.to_string()))?;
    let accepts =
        rustix::net::sockopt::socket_acceptconn(&fd).map_err(|e| not_one(e.to_string()))?;
    if kind != rustix::net::SocketType::STREAM || !accepts {
        return Err(not_one("not a listening stream socket".into()));
    }
    let listener = TcpListener::from(fd);
    listener.local_addr().map_err(|e| not_one(e.to_string()))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listeners cross the socket and are the same sockets: a connection
    /// made to the old address is accepted on the received one.
    #[test]
    fn the_listeners_cross_and_accept_on_the_same_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("upgrade.sock");
        let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").unwrap();
        let (proxy_addr, admin_addr) = (proxy.local_addr().unwrap(), admin.local_addr().unwrap());
        let handover = Handover::new(&socket, &proxy, &admin).unwrap();
        drop((proxy, admin));

        let receiver = {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let inherited = receive(&socket).unwrap();
                let addrs = (
                    inherited.proxy.local_addr().unwrap(),
                    inherited.admin.local_addr().unwrap(),
                );
                let _client = std::net::TcpStream::connect(proxy_addr).unwrap();
                inherited.proxy.accept().unwrap();
                inherited.old.confirm().unwrap();
                addrs
            })
        };
        let mut sent = handover.send();
        let deadline = Instant::now() + Duration::from_secs(30);
        while sent.is_err() && Instant::now() < deadline {
            // The receiver has not bound the socket yet.
            std::thread::sleep(Duration::from_millis(20));
            sent = handover.send();
        }
        sent.unwrap();
        assert_eq!(receiver.join().unwrap(), (proxy_addr, admin_addr));
    }

    /// The socket a new process waits on is its user's alone, whatever the umask.
    #[test]
    fn only_the_gateways_user_may_connect_to_the_upgrade_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("upgrade.sock");
        let receiver = waiting_receiver(&socket);
        // Made 0600 just after binding: waited for, the deadline is the verdict.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::metadata(&socket)
            .is_ok_and(|meta| meta.permissions().mode() & 0o777 == 0o600)
        {
            assert!(Instant::now() < deadline, "the socket never became 0600");
            std::thread::sleep(Duration::from_millis(20));
        }
        // End the wait: a foreign message is refused.
        UnixStream::connect(&socket)
            .unwrap()
            .write_all(b"bye")
            .unwrap();
        assert!(receiver.join().unwrap().is_err());
    }

    /// Only listening TCP sockets are taken: a UDP socket or a bound TCP
    /// socket that does not listen has a local address too.
    #[test]
    fn descriptors_that_are_not_listening_tcp_sockets_are_refused() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = listening(Some(OwnedFd::from(udp)), "proxy").unwrap_err();
        assert!(err.contains("not a TCP listener"), "{err}");
        let bound = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            None,
        )
        .unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        rustix::net::bind(&bound, &any).unwrap();
        let err = listening(Some(bound), "admin").unwrap_err();
        assert!(err.contains("not a listening stream socket"), "{err}");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(listening(Some(OwnedFd::from(listener)), "proxy").is_ok());
    }

    /// A new process waiting on `socket` in a thread; its outcome.
    fn waiting_receiver(socket: &Path) -> std::thread::JoinHandle<Result<(), String>> {
        let socket = socket.to_path_buf();
        std::thread::spawn(move || receive(&socket).map(|_| ()))
    }

    #[test]
    fn sending_with_nobody_waiting_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
        let handover = Handover::new(&dir.path().join("none.sock"), &proxy, &proxy).unwrap();
        let err = handover.send().unwrap_err();
        assert!(err.contains("start it with --upgrade first"), "{err}");
    }

    #[test]
    fn a_foreign_message_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("upgrade.sock");
        let receiver = waiting_receiver(&socket);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match UnixStream::connect(&socket) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream.write_all(b"hello").unwrap();
        let err = receiver.join().unwrap().unwrap_err();
        assert!(err.contains("not an execgate handover"), "{err}");
    }
}
