//! SHA-256 (FIPS 180-4), for image digests: blobs are checked against their `sha256:` names
//! and a tarball's digest names its cache entry. The compression function runs on the SHA
//! extensions when CPUID reports them (`rt::cpu::ShaNi`), else in portable code kept small.

use crate::rt::cpu::ShaNi;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// An incremental SHA-256: `update` with the data in any pieces, then `finish`.
pub struct Sha256 {
    state: [u32; 8],
    /// Bytes of a partial block not yet compressed.
    buf: [u8; 64],
    /// Total bytes given to `update`.
    len: u64,
    ni: Option<ShaNi>,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 {
            state: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            buf: [0; 64],
            len: 0,
            ni: ShaNi::detect(),
        }
    }

    fn blocks(&mut self, data: &[u8]) {
        match self.ni {
            Some(ni) => ni.sha256_blocks(&mut self.state, data, &K),
            None => data.chunks_exact(64).for_each(|b| compress(&mut self.state, b)),
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let used = (self.len % 64) as usize;
        self.len += data.len() as u64;
        if used > 0 {
            let take = data.len().min(64 - used);
            self.buf[used..used + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            if used + take < 64 {
                return;
            }
            let block = self.buf;
            self.blocks(&block);
        }
        let whole = data.len() & !63;
        self.blocks(&data[..whole]);
        self.buf[..data.len() - whole].copy_from_slice(&data[whole..]);
    }

    pub fn finish(mut self) -> [u8; 32] {
        // 0x80, zeros to 56 mod 64, then the length in bits, big-endian.
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        let n = 9 + (119 - (self.len % 64) as usize) % 64;
        pad[n - 8..n].copy_from_slice(&self.len.wrapping_mul(8).to_be_bytes());
        self.update(&pad[..n]);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(4).zip(&self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

/// The portable compression function over one 64-byte block, rolled for size: the whole
/// message schedule first, then the rounds with the working words rotated through an array.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (w, b) in w.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    for i in 16..64 {
        let (w15, w2) = (w[i - 15], w[i - 2]);
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, w) in K.iter().zip(&w) {
        let t1 = h
            .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(k.wrapping_add(*w));
        let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
            .wrapping_add((a & b) ^ (a & c) ^ (b & c));
        (h, g, f, e) = (g, f, e, d.wrapping_add(t1));
        (d, c, b, a) = (c, b, a, t1.wrapping_add(t2));
    }
    for (st, v) in state.iter_mut().zip(&[a, b, c, d, e, f, g, h]) {
        *st = st.wrapping_add(*v);
    }
}

/// Writes `digest` as 64 lowercase hex digits.
pub fn hex(digest: &[u8; 32], out: &mut [u8; 64]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (o, b) in out.chunks_exact_mut(2).zip(digest) {
        o[0] = DIGITS[usize::from(b >> 4)];
        o[1] = DIGITS[usize::from(b & 15)];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn digest(data: &[u8], ni: bool) -> String {
        let mut h = Sha256::new();
        if !ni {
            h.ni = None;
        }
        h.update(data);
        let mut out = [0u8; 64];
        hex(&h.finish(), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn sha256sum(data: &[u8]) -> String {
        let mut child = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sha256sum (coreutils) runs");
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout[..64].to_vec()).unwrap()
    }

    /// Deterministic bytes that are not a pattern a shortcut could hide behind.
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn fips_180_2_vectors_on_both_paths() {
        let million = vec![b'a'; 1_000_000];
        let cases: [(&[u8], &str); 3] = [
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (&million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ];
        for (data, want) in cases {
            assert_eq!(digest(data, false), want);
            assert_eq!(digest(data, true), want);
        }
    }

    #[test]
    fn the_sha_ni_path_is_taken_on_a_cpu_that_has_it() {
        let has = std::fs::read_to_string("/proc/cpuinfo").unwrap().contains(" sha_ni");
        assert_eq!(ShaNi::detect().is_some(), has);
    }

    #[test]
    fn every_length_to_200_matches_sha256sum() {
        let data = noise(200, 0x9e37_79b9_7f4a_7c15);
        for n in 0..=200 {
            let want = sha256sum(&data[..n]);
            assert_eq!(digest(&data[..n], false), want, "software, {n} bytes");
            assert_eq!(digest(&data[..n], true), want, "SHA-NI, {n} bytes");
        }
    }

    #[test]
    fn both_paths_agree_over_many_lengths_and_split_updates() {
        let data = noise(70_000, 0x9e37_79b9_7f4a_7c15);
        for n in (0..70_000).step_by(997).chain([4095, 4096, 4097, 65536]) {
            assert_eq!(digest(&data[..n], false), digest(&data[..n], true), "{n} bytes");
        }
        // Pieces of awkward sizes give the digest of the whole.
        let whole = digest(&data, true);
        for piece in [1, 3, 63, 64, 65, 1000] {
            for ni in [false, true] {
                let mut h = Sha256::new();
                if !ni {
                    h.ni = None;
                }
                data.chunks(piece).for_each(|c| h.update(c));
                let mut out = [0u8; 64];
                hex(&h.finish(), &mut out);
                assert_eq!(out, whole.as_bytes(), "pieces of {piece}, ni {ni}");
            }
        }
    }

    /// `cargo test --release --lib image::sha256::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput() {
        let path = "/tmp/deb.tar.gz";
        let data = std::fs::read(path).unwrap();
        for ni in [true, false] {
            let t = std::time::Instant::now();
            let d = digest(&data, ni);
            let s = t.elapsed().as_secs_f64();
            println!("husk ni={ni}: {d} {:.3}s {:.0} MB/s", s, data.len() as f64 / s / 1e6);
        }
        let t = std::time::Instant::now();
        let out = Command::new("sha256sum").arg(path).output().unwrap();
        let s = t.elapsed().as_secs_f64();
        let d = String::from_utf8_lossy(&out.stdout[..64]).into_owned();
        println!("sha256sum: {d} {:.3}s {:.0} MB/s", s, data.len() as f64 / s / 1e6);
        assert_eq!(d, digest(&data, true));
    }
}
