//! In-process checks of the server under monitor load, with raw CA clients:
//! a client that stops reading never holds up another one or the PV's
//! updater, and a subscriber leaving mid-stream does not disturb the rest
//! (the two faults seen in caproto's server). Loopback only.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use caproto::proto::command::{mask, Command, Decoded};
use caproto::proto::dbr::DbrType;
use caproto::proto::Direction;
use caproto::server::{Pv, PvDatabase, PvGroup, PvHandle, Server};
use common::inproc::server_config;

/// Elements of the test waveform: big enough that a stalled reader fills its socket buffers fast.
const WAVE_LEN: usize = 20_000;

struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    async fn connect(port: u16, pv: &str, subscribe: bool) -> RawClient {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut c = RawClient {
            stream,
            buf: Vec::new(),
        };
        c.send(&[
            Command::VersionRequest {
                priority: 0,
                version: 13,
                sequence: 0,
            },
            Command::HostNameRequest {
                name: "host".into(),
            },
            Command::ClientNameRequest {
                name: "user".into(),
            },
            Command::CreateChanRequest {
                name: pv.into(),
                cid: 1,
                version: 13,
            },
        ])
        .await;
        let sid = loop {
            if let Command::CreateChanResponse { sid, .. } = c.recv().await {
                break sid;
            }
        };
        if subscribe {
            c.send(&[Command::EventAddRequest {
                data_type: DbrType::DOUBLE,
                data_count: 0,
                sid,
                subscriptionid: 1,
                low: 0.0,
                high: 0.0,
                to: 0.0,
                mask: mask::VALUE | mask::ALARM,
            }])
            .await;
        }
        c
    }

    async fn send(&mut self, cmds: &[Command]) {
        let mut out = Vec::new();
        for cmd in cmds {
            cmd.encode(&mut out).unwrap();
        }
        self.stream.write_all(&out).await.unwrap();
    }

    async fn recv(&mut self) -> Command {
        loop {
            match Command::decode_from(&self.buf, Direction::Response, 1 << 24).unwrap() {
                Decoded::Command(cmd, used) => {
                    self.buf.drain(..used);
                    return cmd;
                }
                Decoded::Incomplete { .. } => {
                    let n = self.stream.read_buf(&mut self.buf).await.unwrap();
                    assert!(n > 0, "server closed the circuit");
                }
            }
        }
    }

    /// Read subscription events until one carries `value` (first element).
    async fn value_reaches(&mut self, value: f64) {
        loop {
            if let Command::EventAddResponse { data, .. } = self.recv().await {
                let first = data.get(..8).and_then(|b| b.try_into().ok());
                let first = f64::from_be_bytes(first.expect("an event with no data"));
                assert!(first <= value, "saw {first} before {value}");
                if first == value {
                    return;
                }
            }
        }
    }

    /// Wait for `n` subscription events; returns how many were seen.
    async fn events(&mut self, n: usize) -> usize {
        let mut seen = 0;
        while seen < n {
            if let Command::EventAddResponse { .. } = self.recv().await {
                seen += 1;
            }
        }
        seen
    }
}

async fn start() -> (u16, PvHandle, tokio::sync::oneshot::Sender<()>) {
    let mut g = PvGroup::new("bp:");
    let wave = g.add(Pv::new("wave", vec![0.0f64; WAVE_LEN]));
    let mut db = PvDatabase::new();
    db.add_group(g).unwrap();
    let server = Server::bind(db, server_config()).await.unwrap();
    let port = server.tcp_port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    (port, wave, tx)
}

/// Post `n` new waveforms, yielding between them; never blocks on any client.
async fn post(wave: &PvHandle, n: usize, first: usize) {
    for i in first..first + n {
        wave.post(vec![i as f64; WAVE_LEN]).unwrap();
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_does_not_hold_up_others() {
    let (port, wave, _stop) = start().await;
    // Subscribes and then never reads again.
    let _stalled = RawClient::connect(port, "bp:wave", true).await;
    let mut reader = RawClient::connect(port, "bp:wave", true).await;
    // The initial event of the reader's subscription.
    reader.events(1).await;
    // 2000 posts of 160 kB each: far more than the stalled client's socket
    // buffers hold, so its circuit is in back-pressure for most of them.
    // Posting must never wait for it.
    let updater = {
        let wave = wave.clone();
        tokio::spawn(async move { post(&wave, 2000, 1).await })
    };
    tokio::time::timeout(Duration::from_secs(60), updater)
        .await
        .expect("posting blocked on a stalled client")
        .unwrap();
    // The reader did not read meanwhile, so its own queue coalesced; it must
    // still get the newest value.
    tokio::time::timeout(Duration::from_secs(60), reader.value_reaches(2000.0))
        .await
        .expect("the reading client was starved");
    // Now in lockstep: every further post reaches the reading client while
    // the stalled one stays stalled (32 MB more than it ever read).
    for i in 2001..2201 {
        wave.post(vec![i as f64; WAVE_LEN]).unwrap();
        tokio::time::timeout(Duration::from_secs(60), reader.value_reaches(i as f64))
            .await
            .expect("the reading client was starved");
    }
    assert_eq!(wave.subscriber_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_leaving_under_load_is_harmless() {
    let (port, wave, _stop) = start().await;
    let mut stay = RawClient::connect(port, "bp:wave", true).await;
    for round in 0..5 {
        let mut leave = RawClient::connect(port, "bp:wave", true).await;
        // The initial event: the subscription is live before the posts start.
        // (Without this wait a fast updater could finish before the server
        // handled EVENT_ADD, leaving nothing but the initial event to read.)
        tokio::time::timeout(Duration::from_secs(60), leave.events(1))
            .await
            .expect("the leaving subscriber never got its initial event");
        let updater = {
            let wave = wave.clone();
            tokio::spawn(async move { post(&wave, 200, round * 200).await })
        };
        // At least one update (the server may coalesce the 200 posts), then
        // leave while the updater may still be posting.
        tokio::time::timeout(Duration::from_secs(60), leave.events(1))
            .await
            .expect("the leaving subscriber got no update");
        drop(leave);
        tokio::time::timeout(Duration::from_secs(60), updater)
            .await
            .expect("the updater waited for a client")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(60), stay.events(5))
            .await
            .expect("remaining subscriber stopped getting events");
    }
    // The departed circuits' subscriptions are gone.
    tokio::time::timeout(Duration::from_secs(30), async {
        while wave.subscriber_count() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("subscriptions of closed circuits were not released");
}
