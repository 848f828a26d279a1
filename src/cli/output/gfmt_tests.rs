//! `%g` checked against C's printf (a committed table, and optionally a live
//! sweep through python3), and the fast path checked against the exact one.

use super::*;
use crate::rng::Rng;

fn g(x: f64, p: usize) -> String {
    let mut s = String::new();
    write_g(&mut s, x, p);
    s
}

fn g_exact(x: f64, p: usize) -> String {
    let mut s = String::new();
    if x.is_sign_negative() && !x.is_nan() {
        s.push('-');
    }
    let a = x.abs();
    if a == 0.0 || !a.is_finite() {
        write_g(&mut s, a, p);
    } else {
        write_g_exact(&mut s, a, p.max(1));
    }
    s
}

/// Whether `write_g` answers `x` at precision `p` without the exact path.
fn takes_fast_path(x: f64, p: usize) -> bool {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || short_decimal(a, p.max(1), &mut [0; 16]).is_some() {
        return true;
    }
    let short = format!("{a:e}");
    let mut buf = Vec::new();
    let mut exp = parse_sci(short.as_bytes(), |d| buf.push(d));
    fast_digits(&mut buf, &mut exp, p.max(1), a).is_some()
}

/// A spread of doubles that exercises every branch: arbitrary bit patterns,
/// subnormals, short decimals (few shortest digits), exact halfway values
/// and plain values of ordinary size.
fn sample(rng: &mut Rng) -> f64 {
    match rng.below(6) {
        0 => {
            let x = f64::from_bits(rng.next_u64());
            if x.is_nan() {
                1.0
            } else {
                x
            }
        }
        1 => f64::from_bits(rng.next_u64() >> 12),
        2 => {
            let digits = 1 + rng.below(17) as u32;
            let mant = 10u64.pow(digits - 1) + rng.below(9 * 10u64.pow(digits - 1));
            let exp = rng.below(80) as i32 - 40;
            format!("{mant}e{exp}").parse().unwrap_or(0.0)
        }
        3 => {
            // m + 0.5, m5 x 10^k: exactly halfway between two p-digit values.
            let digits = 1 + rng.below(15) as u32;
            let m = rng.below(10u64.pow(digits));
            if rng.below(2) == 0 {
                m as f64 + 0.5
            } else {
                (m * 10 + 5) as f64
            }
        }
        4 => (rng.below(2_000_000) as f64) * 0.5,
        _ => {
            (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
                * 10f64.powi(rng.below(30) as i32 - 15)
        }
    }
}

#[test]
fn matches_c_printf_table() {
    let table = include_str!("../../../tests/fixtures/printf_g.txt");
    let mut checked = 0;
    for line in table.lines() {
        let mut cells = line.split(' ');
        let bits = u64::from_str_radix(cells.next().unwrap_or(""), 16).expect("hex bits");
        let x = f64::from_bits(bits);
        for (p, expected) in cells.enumerate() {
            assert_eq!(g(x, p), expected, "%.{p}g of {x:e} (bits {bits:016x})");
            checked += 1;
        }
    }
    assert!(checked > 15_000, "table too small: {checked}");
}

#[test]
fn fast_path_agrees_with_the_exact_path() {
    let mut rng = Rng(0x5eed_caf0_2026_1125);
    let mut fast = 0u64;
    let mut total = 0u64;
    for _ in 0..60_000 {
        let x = sample(&mut rng);
        let x = if rng.below(2) == 0 { -x } else { x };
        for p in 1..=17 {
            assert_eq!(g(x, p), g_exact(x, p), "%.{p}g of {x:e}");
            fast += u64::from(takes_fast_path(x, p));
            total += 1;
        }
    }
    // The sweep must exercise the fast path (and the fallback) heavily.
    assert!(fast * 10 > total * 6, "fast path taken {fast} of {total}");
    assert!(fast < total, "exact path never taken");
}

#[test]
fn short_decimals_print_their_digits() {
    let mut digits = [0; 16];
    assert_eq!(short_decimal(0.5, 6, &mut digits), Some((1, -1)));
    assert_eq!(&digits[..1], b"5");
    assert_eq!(short_decimal(120.0, 6, &mut digits), Some((3, 2)));
    assert_eq!(&digits[..3], b"120");
    // Seven digits do not fit in six: left to the other paths (a tie here).
    assert_eq!(short_decimal(123456.5, 6, &mut digits), None);
    assert_eq!(short_decimal(0.1, 16, &mut digits), None, "p > 15");
    assert_eq!(g(1e-10, 6), "1e-10");
    assert_eq!(g(0.000125, 6), "0.000125");
    assert_eq!(g(1e15, 15), "1e+15");
    assert_eq!(g(999999999999999.0, 15), "999999999999999");
    assert_eq!(
        g(12.25, 3),
        "12.2",
        "a tie at the last digit rounds to even"
    );
}

#[test]
fn fast_path_covers_typical_waveforms() {
    // bench:wave's values (multiples of 0.5, including exact ties at %g's
    // sixth digit) and integers all avoid the exact path at the default precision.
    for i in (0..2_000_000u64).step_by(997) {
        let x = i as f64 * 0.5;
        assert!(takes_fast_path(x, 6), "{x}");
    }
    assert_eq!(g(123456.5, 6), "123456");
    assert_eq!(g(123457.5, 6), "123458");
    assert_eq!(g(1234565.0, 6), "1.23456e+06");
    assert_eq!(g(0.1, 17), "0.10000000000000001");
    assert_eq!(g(5e-324, 6), "4.94066e-324");
    assert_eq!(g(-0.0, 3), "-0");
    assert_eq!(g(f64::NEG_INFINITY, 3), "-inf");
    assert_eq!(g(9.9999995, 7), "9.999999");
    assert_eq!(g(999999.5, 6), "1e+06");
}

/// A live sweep against C's rules through python3 (not run by default: it
/// needs python3 and takes a while). `cargo test --lib gfmt -- --ignored`.
#[test]
#[ignore]
fn sweep_against_python3() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut rng = Rng(0x0dd_ba11);
    let values: Vec<f64> = (0..200_000).map(|_| sample(&mut rng)).collect();
    let script = "import sys, struct\n\
        for line in sys.stdin:\n\
        \x20   x = struct.unpack('<d', struct.pack('<Q', int(line, 16)))[0]\n\
        \x20   print(' '.join('%.*g' % (p, x) for p in range(18)))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut input = String::new();
    for x in &values {
        input.push_str(&format!("{:016x}\n", x.to_bits()));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python3 output");
    writer.join().expect("writer").expect("write");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut n = 0;
    for (x, line) in values.iter().zip(text.lines()) {
        for (p, expected) in line.split(' ').enumerate() {
            assert_eq!(g(*x, p), expected, "%.{p}g of {x:e}");
        }
        n += 1;
    }
    assert_eq!(n, values.len());
}
