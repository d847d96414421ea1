//! Just enough rtnetlink to plug a container into the bridge without starting a process: a
//! named network namespace (what `ip netns add` makes), a veth pair with one end in it, an
//! address, links up, a default route, and removing them again.
//!
//! Why not `ip`: attaching runs on every container start, and two `ip` processes cost more
//! than the whole setup does in the kernel (`ip` is still used for the bridge, made once).
//! These are system calls on sockets: nothing to time out, no argv, no shell.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 1;

/// Where named network namespaces live (as iproute2 keeps them).
pub const NETNS_DIR: &str = "/run/netns";

/// A netlink request being built: header, fixed part, attributes (4-byte aligned).
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        Msg { buf }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// `struct ifinfomsg` with `flags`/`change` (IFF_UP to bring a link up).
    fn ifinfo(&mut self, index: i32, up: bool) -> &mut Self {
        let mut b = [0u8; 16];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        if up {
            b[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
            b[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
        }
        self.raw(&b)
    }

    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v)
    }

    fn begin(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.attr(ty, &[]);
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// A NETLINK_ROUTE socket, in the network namespace of the thread that opened it.
struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket calls; the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A kernel answer never takes long; a bound keeps a surprise from hanging herodo.
        let tv = libc::timeval {
            tv_sec: 10,
            tv_usec: 0,
        };
        // SAFETY: setsockopt reads the timeval we pass, of the size we pass.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        Ok(Netlink { fd, seq: 0 })
    }

    /// Send one request and wait for its acknowledgement.
    fn request(&mut self, msg: &mut Msg) -> io::Result<()> {
        self.seq += 1;
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // SAFETY: sockaddr_nl zeroed is the kernel's address; we pass our buffer and its size.
        let sent = unsafe {
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 16384];
        loop {
            // SAFETY: recv writes at most buf.len() bytes into buf.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(res) = parse_ack(&buf[..n as usize], seq) {
                return res;
            }
        }
    }
}

/// The acknowledgement for `seq` in a netlink reply: `Some(Ok)` for success, `Some(Err)` with
/// the kernel's errno, `None` when the buffer holds no answer to `seq`.
fn parse_ack(mut buf: &[u8], seq: u32) -> Option<io::Result<()>> {
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(buf[4..6].try_into().ok()?);
        let got = u32::from_ne_bytes(buf[8..12].try_into().ok()?);
        if len < 16 || len > buf.len() {
            return Some(Err(io::Error::other("malformed netlink reply")));
        }
        if ty == NLMSG_ERROR && got == seq && len >= 20 {
            let code = i32::from_ne_bytes(buf[16..20].try_into().ok()?);
            return Some(if code == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(-code))
            });
        }
        buf = &buf[(len + 3) & !3..];
    }
    None
}

fn cstr(s: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The index of interface `name` in the calling thread's network namespace.
fn if_index(name: &str) -> io::Result<u32> {
    let c = cstr(name)?;
    // SAFETY: a valid C string; if_nametoindex only reads it.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

fn mount(src: &str, target: &str, fstype: &str, flags: libc::c_ulong) -> io::Result<()> {
    let (s, t, f) = (cstr(src)?, cstr(target)?, cstr(fstype)?);
    // SAFETY: valid C strings that outlive the call; no data argument.
    if unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, std::ptr::null()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// /run/netns as a shared mount point, the way iproute2 sets it up (so a namespace mounted
/// here is seen from every mount namespace).
fn ensure_netns_dir() -> io::Result<()> {
    std::fs::create_dir_all(NETNS_DIR)?;
    match mount("none", NETNS_DIR, "none", libc::MS_SHARED | libc::MS_REC) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            mount(NETNS_DIR, NETNS_DIR, "none", libc::MS_BIND | libc::MS_REC)?;
            mount("none", NETNS_DIR, "none", libc::MS_SHARED | libc::MS_REC)
        }
        other => other,
    }
}

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// A new network namespace kept alive by a bind mount at /run/netns/NAME (`ip netns add`).
pub fn create_netns(name: &str) -> io::Result<()> {
    ensure_netns_dir()?;
    let path = netns_path(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let target = path.display().to_string();
    // unshare(CLONE_NEWNET) changes only the calling thread: do it on a thread of its own,
    // which ends right after pinning the new namespace with the bind mount.
    let made = std::thread::spawn(move || -> io::Result<()> {
        // SAFETY: unshare only affects this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        mount(
            &format!("/proc/self/task/{tid}/ns/net"),
            &target,
            "none",
            libc::MS_BIND,
        )
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")));
    if made.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    made
}

/// Whether /run/netns/NAME is a mounted network namespace (not a bare file left by a
/// creation cut short).
pub fn netns_mounted(name: &str) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let Ok(c) = cstr(&netns_path(name).display().to_string()) else {
        return false;
    };
    // SAFETY: statfs fills the zeroed struct we pass; the path is a valid C string.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == NSFS_MAGIC
    }
}

/// Unmount and remove /run/netns/NAME (`ip netns del`); a missing one is fine.
pub fn delete_netns(name: &str) -> io::Result<()> {
    let path = netns_path(name);
    let c = cstr(&path.display().to_string())?;
    // SAFETY: a valid path; EINVAL (not mounted) and ENOENT are expected for leftovers.
    unsafe {
        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A veth pair: `host_end` (up, a port of `bridge`) here, `peer` (up) inside the namespace
/// pinned at `netns`.
pub fn add_veth(host_end: &str, bridge: &str, peer: &str, netns: &Path) -> io::Result<()> {
    let master = if_index(bridge)?;
    let ns = std::fs::File::open(netns)?;
    // Both ends are created down: the kernel refuses to open a veth end before its peer is
    // linked to it (ENOTCONN), which is what creating it up would do.
    let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    m.ifinfo(0, false)
        .attr_str(IFLA_IFNAME, host_end)
        .attr(IFLA_MASTER, &master.to_ne_bytes());
    let info = m.begin(IFLA_LINKINFO);
    m.attr(IFLA_INFO_KIND, b"veth");
    let data = m.begin(IFLA_INFO_DATA);
    let p = m.begin(VETH_INFO_PEER);
    m.ifinfo(0, false)
        .attr_str(IFLA_IFNAME, peer)
        .attr(IFLA_NET_NS_FD, &(ns.as_raw_fd() as u32).to_ne_bytes());
    m.end(p);
    m.end(data);
    m.end(info);
    let mut nl = Netlink::open()?;
    nl.request(&mut m)?;
    let idx = if_index(host_end)?;
    nl.request(Msg::new(RTM_NEWLINK, 0).ifinfo(idx as i32, true))
}

/// Delete interface `name` (both ends of a veth go); a missing one is fine.
pub fn delete_link(name: &str) -> io::Result<()> {
    let mut m = Msg::new(RTM_DELLINK, 0);
    m.ifinfo(0, false).attr_str(IFLA_IFNAME, name);
    match Netlink::open()?.request(&mut m) {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
        other => other,
    }
}

/// Inside the namespace pinned at `netns`: loopback up, `ip/prefix` on `dev`, `dev` up, and a
/// default route through `gateway`.
pub fn configure(
    netns: &Path,
    dev: &str,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> io::Result<()> {
    let ns = std::fs::File::open(netns)?;
    let dev = dev.to_string();
    // setns changes only the calling thread: work on a thread of its own.
    std::thread::spawn(move || -> io::Result<()> {
        // SAFETY: setns with a namespace descriptor we own; affects only this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut nl = Netlink::open()?;
        let lo = if_index("lo")?;
        nl.request(Msg::new(RTM_NEWLINK, 0).ifinfo(lo as i32, true))?;
        let idx = if_index(&dev)?;
        let mut a = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        let mut ifa = [0u8; 8];
        ifa[0] = libc::AF_INET as u8;
        ifa[1] = prefix;
        ifa[4..8].copy_from_slice(&idx.to_ne_bytes());
        let broadcast = Ipv4Addr::from(u32::from(ip) | !(u32::MAX << (32 - prefix)));
        a.raw(&ifa)
            .attr(IFA_LOCAL, &ip.octets())
            .attr(IFA_ADDRESS, &ip.octets())
            .attr(IFA_BROADCAST, &broadcast.octets());
        nl.request(&mut a)?;
        nl.request(Msg::new(RTM_NEWLINK, 0).ifinfo(idx as i32, true))?;
        let mut r = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        let rtm = [
            libc::AF_INET as u8,
            0,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        r.raw(&rtm)
            .attr(RTA_GATEWAY, &gateway.octets())
            .attr(RTA_OIF, &idx.to_ne_bytes());
        nl.request(&mut r)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_laid_out_like_iproute2s() {
        let mut m = Msg::new(RTM_DELLINK, 0);
        m.ifinfo(0, false).attr_str(IFLA_IFNAME, "hp0a");
        let b = m.finish(7).to_vec();
        // header (16) + ifinfomsg (16) + attr (4 + "hp0a\0" = 9, padded to 12)
        assert_eq!(b.len(), 44);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 44);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), RTM_DELLINK);
        assert_eq!(
            u16::from_ne_bytes(b[6..8].try_into().unwrap()),
            NLM_F_REQUEST | NLM_F_ACK
        );
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!(u16::from_ne_bytes(b[32..34].try_into().unwrap()), 9);
        assert_eq!(&b[36..41], b"hp0a\0");

        let mut n = Msg::new(RTM_NEWLINK, 0);
        n.ifinfo(3, true);
        let at = n.begin(IFLA_LINKINFO);
        n.attr(IFLA_INFO_KIND, b"veth");
        n.end(at);
        let b = n.finish(1).to_vec();
        assert_eq!(i32::from_ne_bytes(b[20..24].try_into().unwrap()), 3);
        assert_eq!(u32::from_ne_bytes(b[24..28].try_into().unwrap()), IFF_UP);
        // The nest's length covers its header and the inner attribute (4 + 8).
        assert_eq!(u16::from_ne_bytes(b[32..34].try_into().unwrap()), 12);
    }

    #[test]
    fn acks_and_errors() {
        let ack = |seq: u32, code: i32| {
            let mut v = vec![0u8; 36];
            v[0..4].copy_from_slice(&36u32.to_ne_bytes());
            v[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
            v[8..12].copy_from_slice(&seq.to_ne_bytes());
            v[16..20].copy_from_slice(&code.to_ne_bytes());
            v
        };
        assert!(parse_ack(&ack(3, 0), 3).unwrap().is_ok());
        let e = parse_ack(&ack(3, -libc::EEXIST), 3).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert!(
            parse_ack(&ack(2, 0), 3).is_none(),
            "an answer to another request"
        );
        assert!(parse_ack(&[0u8; 4], 3).is_none());
        let mut bad = ack(3, 0);
        bad[0..4].copy_from_slice(&999u32.to_ne_bytes());
        assert!(parse_ack(&bad, 3).unwrap().is_err());
    }
}
