//! Userspace port proxies: a published port's listening socket on the host side,
//! and for each client a connection made by a caller-supplied function. TCP
//! bytes move socket -> pipe -> socket with splice(2), never through user
//! memory (std::io::copy would use an 8 KiB buffer between two sockets); UDP
//! datagrams are relayed per client address.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A UDP relay's upstream socket per client, with when it was last used.
type Upstreams = HashMap<SocketAddr, (Arc<UdpSocket>, Instant)>;

/// How long an idle UDP client keeps its upstream socket.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// Accept on `listener` forever; join each client to a fresh `connect()`.
pub fn serve_tcp<F>(listener: TcpListener, connect: F) -> JoinHandle<()>
where
    F: Fn() -> io::Result<TcpStream> + Send + Sync + 'static,
{
    let connect = Arc::new(connect);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let connect = connect.clone();
            std::thread::spawn(move || {
                // A service not listening yet: the client sees the connection close, as with docker.
                if let Ok(upstream) = connect() {
                    pipe_both_ways(client, upstream);
                }
            });
        }
    })
}

fn pipe_both_ways(client: TcpStream, upstream: TcpStream) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(mut client_read), Ok(mut upstream_write)) = (client.try_clone(), upstream.try_clone()) else { return };
    let forward = std::thread::spawn(move || {
        let _ = relay(&mut client_read, &mut upstream_write);
        // Half-close: the server sees the end of the request, the reply can still flow.
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = relay(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = forward.join();
}

/// How much one splice moves at most: the pipe between the sockets is made this big.
const SPLICE_CHUNK: usize = 1 << 20;

/// Move bytes from `from` to `to` until end of stream, through a pipe with splice;
/// where splice is refused, through a buffer.
fn relay(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<u64> {
    use rustix::pipe::{SpliceFlags, splice};
    let Ok((pipe_r, pipe_w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else { return io::copy(from, to) };
    let chunk = rustix::pipe::fcntl_setpipe_size(&pipe_w, SPLICE_CHUNK).unwrap_or(64 * 1024);
    let mut total = 0u64;
    loop {
        let n = match splice(&*from, None, &pipe_w, None, chunk, SpliceFlags::MOVE) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::INVAL) if total == 0 => return io::copy(from, to),
            Err(e) => return Err(e.into()),
        };
        let mut left = n;
        while left > 0 {
            match splice(&pipe_r, None, &*to, None, left, SpliceFlags::MOVE) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        total += n as u64;
    }
}

/// Relay datagrams between clients of `socket` and per-client sockets made by `connect()`.
pub fn serve_udp<F>(socket: UdpSocket, connect: F) -> JoinHandle<()>
where
    F: Fn() -> io::Result<UdpSocket> + Send + Sync + 'static,
{
    let socket = Arc::new(socket);
    std::thread::spawn(move || {
        let upstreams: Arc<Mutex<Upstreams>> = Arc::default();
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
            let upstream = {
                let mut map = upstreams.lock().unwrap();
                map.retain(|_, (_, last)| last.elapsed() < UDP_IDLE);
                match map.get_mut(&client) {
                    Some((up, last)) => {
                        *last = Instant::now();
                        Some(up.clone())
                    }
                    None => match connect() {
                        Ok(up) => {
                            let up = Arc::new(up);
                            map.insert(client, (up.clone(), Instant::now()));
                            spawn_udp_replies(socket.clone(), up.clone(), client);
                            Some(up)
                        }
                        Err(_) => None,
                    },
                }
            };
            if let Some(up) = upstream {
                let _ = up.send(&buf[..n]);
            }
        }
    })
}

/// Replies from the service go back to the client that started the exchange.
fn spawn_udp_replies(socket: Arc<UdpSocket>, upstream: Arc<UdpSocket>, client: SocketAddr) {
    std::thread::spawn(move || {
        let _ = upstream.set_read_timeout(Some(UDP_IDLE));
        let mut buf = vec![0u8; 65_536];
        loop {
            match upstream.recv(&mut buf) {
                Ok(n) => {
                    let _ = socket.send_to(&buf[..n], client);
                }
                // A datagram sent before the service was listening came back refused: keep waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(_) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn tcp_bytes_and_half_close_cross_the_proxy() {
        let service = TcpListener::bind("127.0.0.1:0").unwrap();
        let service_addr = service.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in service.incoming().flatten() {
                let mut stream = stream;
                let mut request = Vec::new();
                stream.read_to_end(&mut request).unwrap();
                stream.write_all(&[b"echo:".as_slice(), &request].concat()).unwrap();
            }
        });
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap();
        serve_tcp(front, move || TcpStream::connect(service_addr));
        for size in [5usize, 3 << 20] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut client = TcpStream::connect(front_addr).unwrap();
            client.write_all(&payload).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).unwrap();
            assert_eq!(reply.len(), size + 5);
            assert_eq!(&reply[5..], &payload[..]);
        }
    }

    #[test]
    fn a_closed_service_closes_the_client() {
        let unused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap();
        serve_tcp(front, move || TcpStream::connect(unused));
        let mut client = TcpStream::connect(front_addr).unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).unwrap_or(0), 0);
    }

    #[test]
    fn udp_datagrams_go_there_and_back() {
        let service = UdpSocket::bind("127.0.0.1:0").unwrap();
        let service_addr = service.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = service.recv_from(&mut buf) {
                let _ = service.send_to(&[b"pong:".as_slice(), &buf[..n]].concat(), from);
            }
        });
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap();
        serve_udp(front, move || {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.connect(service_addr)?;
            Ok(s)
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for word in [&b"a"[..], b"bc"] {
            client.send_to(word, front_addr).unwrap();
            let mut buf = [0u8; 64];
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[b"pong:".as_slice(), word].concat()[..]);
        }
    }
}
