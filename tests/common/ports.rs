//! Free loopback ports, so tests can run in parallel without sharing a CA port.

use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

/// Ports already handed out in this process; the OS could otherwise return a
/// port again once our probe sockets are closed.
static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn claim(port: u16) -> bool {
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    if taken.contains(&port) {
        false
    } else {
        taken.push(port);
        true
    }
}

/// A port free for both TCP and UDP on 127.0.0.1: a CA server needs both
/// (TCP for circuits, UDP for searches) on the same number.
pub fn free_tcp_udp_port() -> u16 {
    for _ in 0..1000 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        let port = addr.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("0.0.0.0", port)).is_ok()
            && claim(port)
        {
            return port;
        }
    }
    panic!("no free TCP+UDP port on 127.0.0.1 after 1000 tries");
}

/// A UDP port free on 127.0.0.1 and 0.0.0.0 (a repeater binds the wildcard).
pub fn free_udp_port() -> u16 {
    for _ in 0..1000 {
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = sock.local_addr() else {
            continue;
        };
        let port = addr.port();
        drop(sock);
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("no free UDP port on 127.0.0.1 after 1000 tries");
}

/// Whether something currently holds UDP `port` on the wildcard address.
pub fn udp_port_in_use(port: u16) -> bool {
    UdpSocket::bind(("0.0.0.0", port)).is_err()
}
