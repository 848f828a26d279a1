//! IPv4 and IPv6 fragments put back together, within bounds.
//!
//! A search datagram naming many PVs can exceed the path MTU and travel as IP fragments; only
//! the first carries the UDP header. [`Defrag`] collects the fragments of each datagram (keyed
//! by source, destination, identification and protocol), using `etherparse`'s
//! [`IpDefragBuf`] for the ranges, and hands back the whole transport payload (UDP or TCP
//! header included) once every byte is there. Memory is bounded: at most
//! [`Limits::datagrams`] datagrams in progress and [`Limits::bytes`] bytes held in all; a
//! datagram not complete after [`Limits::timeout`] of capture time is dropped. Each drop is a
//! [`FragDrop`] for the caller to report.

use std::collections::HashMap;
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};

/// Bounds of the reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Datagrams being reassembled at once.
    pub datagrams: usize,
    /// Bytes held over all of them.
    pub bytes: usize,
    /// Capture time (ns) a datagram may take to complete.
    pub timeout: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            datagrams: 256,
            bytes: 4 * 1024 * 1024,
            // As Linux's ipfrag_time.
            timeout: 30_000_000_000,
        }
    }
}

/// Which datagram a fragment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Sender.
    pub src: IpAddr,
    /// Receiver.
    pub dst: IpAddr,
    /// IP identification (16 bits in IPv4, 32 in the IPv6 fragment header).
    pub id: u32,
    /// The transport protocol number (6 TCP, 17 UDP).
    pub proto: u8,
}

/// One fragment as the link layer found it.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// Its datagram.
    pub key: FragKey,
    /// Offset of `payload` in the datagram's transport bytes, in 8-byte units.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's bytes.
    pub payload: &'a [u8],
}

/// Why fragments were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragDrop {
    /// Fragments that do not fit together (overlapping ends, bad alignment, too big).
    Invalid(String),
    /// Not complete within the timeout.
    TimedOut(FragKey),
    /// The datagram or byte cap was reached; the oldest datagram in progress was dropped.
    Cap(FragKey),
}

#[derive(Debug)]
struct Partial {
    buf: IpDefragBuf,
    started: u64,
    bytes: usize,
}

/// Datagrams being reassembled.
#[derive(Debug, Default)]
pub struct Defrag {
    limits: Limits,
    active: HashMap<FragKey, Partial>,
    bytes: usize,
    last_sweep: u64,
}

impl Defrag {
    /// A reassembler with `limits`.
    pub fn new(limits: Limits) -> Self {
        Defrag {
            limits,
            active: HashMap::new(),
            bytes: 0,
            last_sweep: 0,
        }
    }

    /// Called with every packet's capture time: drops timed-out datagrams, looking at most
    /// once per second of capture time.
    pub fn tick(&mut self, now: u64, drop: &mut impl FnMut(FragDrop)) {
        if !self.active.is_empty() && now.saturating_sub(self.last_sweep) >= 1_000_000_000 {
            self.last_sweep = now;
            self.expire(now, drop);
        }
    }

    /// The capture ended: every datagram still incomplete is dropped.
    pub fn finish(&mut self, drop: &mut impl FnMut(FragDrop)) {
        self.expire(u64::MAX, drop);
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.active.len()
    }

    /// Adds a fragment at capture time `now` (ns). Returns the datagram's transport bytes
    /// once whole; `drop` hears of every datagram given up on.
    pub fn add(
        &mut self,
        f: Fragment<'_>,
        now: u64,
        drop: &mut impl FnMut(FragDrop),
    ) -> Option<Vec<u8>> {
        self.expire(now, drop);
        if !self.active.contains_key(&f.key) {
            while self.active.len() >= self.limits.datagrams.max(1)
                || (self.bytes + f.payload.len() > self.limits.bytes && !self.active.is_empty())
            {
                self.drop_oldest(drop);
            }
            self.active.insert(
                f.key,
                Partial {
                    buf: IpDefragBuf::new(IpNumber(f.key.proto), Vec::new(), Vec::new()),
                    started: now,
                    bytes: 0,
                },
            );
        }
        let p = self.active.get_mut(&f.key)?;
        if let Err(e) = p
            .buf
            .add(IpFragOffset::try_new(f.offset).ok()?, f.more, f.payload)
        {
            self.remove(&f.key);
            drop(FragDrop::Invalid(e.to_string()));
            return None;
        }
        let held = p.buf.data().len();
        self.bytes = self.bytes - p.bytes + held;
        p.bytes = held;
        if p.buf.is_complete() {
            let p = self.remove(&f.key)?;
            let (data, _) = p.buf.take_bufs();
            return Some(data);
        }
        if self.bytes > self.limits.bytes {
            self.remove(&f.key);
            drop(FragDrop::Cap(f.key));
        }
        None
    }

    /// Drops datagrams older than the timeout.
    pub fn expire(&mut self, now: u64, drop: &mut impl FnMut(FragDrop)) {
        if self.active.is_empty() {
            return;
        }
        let timeout = self.limits.timeout;
        let old: Vec<FragKey> = self
            .active
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.started) > timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            self.remove(&k);
            drop(FragDrop::TimedOut(k));
        }
    }

    fn drop_oldest(&mut self, drop: &mut impl FnMut(FragDrop)) {
        if let Some(k) = self
            .active
            .iter()
            .min_by_key(|(_, p)| p.started)
            .map(|(k, _)| *k)
        {
            self.remove(&k);
            drop(FragDrop::Cap(k));
        }
    }

    fn remove(&mut self, k: &FragKey) -> Option<Partial> {
        let p = self.active.remove(k)?;
        self.bytes -= p.bytes;
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            proto: 17,
        }
    }

    #[test]
    fn out_of_order_fragments_make_the_datagram() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut d = Defrag::new(Limits::default());
        let mut drops = Vec::new();
        let mut add = |d: &mut Defrag, off: usize, more: bool| {
            let end = if more { off + 16 } else { data.len() };
            d.add(
                Fragment {
                    key: key(1),
                    offset: (off / 8) as u16,
                    more,
                    payload: &data[off..end],
                },
                0,
                &mut |x| drops.push(x),
            )
        };
        assert_eq!(add(&mut d, 16, true), None);
        assert_eq!(add(&mut d, 32, false), None);
        assert_eq!(add(&mut d, 0, true), Some(data.clone()));
        assert_eq!(d.in_progress(), 0);
        assert!(drops.is_empty());
    }

    #[test]
    fn bounded_in_count_bytes_and_time() {
        let limits = Limits {
            datagrams: 2,
            bytes: 64,
            timeout: 1000,
        };
        let mut d = Defrag::new(limits);
        let mut drops = Vec::new();
        let frag = |id: u32, len: usize| Fragment {
            key: key(id),
            offset: 0,
            more: true,
            payload: &[7u8; 64][..len],
        };
        d.add(frag(1, 16), 0, &mut |x| drops.push(x));
        d.add(frag(2, 16), 10, &mut |x| drops.push(x));
        d.add(frag(3, 16), 20, &mut |x| drops.push(x));
        assert_eq!(drops, [FragDrop::Cap(key(1))]);
        assert_eq!(d.in_progress(), 2);
        d.add(frag(4, 48), 30, &mut |x| drops.push(x));
        assert!(d.bytes <= 64, "{}", d.bytes);
        d.expire(5000, &mut |x| drops.push(x));
        assert_eq!(d.in_progress(), 0);
        assert!(drops.iter().any(|x| matches!(x, FragDrop::TimedOut(_))));
    }
}
