//! gzip (RFC 1952) around DEFLATE (RFC 1951), decoded from one slice holding the whole
//! compressed input, the output handed to a sink in chunks as it comes.
//!
//! Speed: Huffman codes up to [`FAST`] bits long are decoded with one table look-up (longer,
//! rare codes by a canonical walk over the code lengths, as zlib's puff does); the bit buffer
//! is refilled 64 bits at a time, which is enough for a whole length/distance pair; matches
//! are copied 8 bytes at a time. All state sits in [`Inflater`] (110 KiB, all zero until
//! used), which the caller places where it wants. Malformed input of any kind gives an
//! error, never a panic: every index below is either masked to its table's size or checked.

use rustix::io::Errno;

/// Why a gzip stream was refused: a fault of the data ([`GzError::reason`] says which), or
/// the sink's own error. Small enough to travel in a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzError {
    NotGzip,
    Corrupt,
    Truncated,
    BadCrc,
    BadLength,
    Garbage,
    Sink(Errno),
}

impl GzError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotGzip => "not gzip",
            Self::Corrupt => "corrupt deflate stream",
            Self::Truncated => "truncated",
            Self::BadCrc => "CRC mismatch",
            Self::BadLength => "length mismatch",
            Self::Garbage => "trailing garbage",
            Self::Sink(_) => "write failed",
        }
    }

    /// The errno to report: the sink's, or EBADMSG for bad data.
    pub fn errno(self) -> Errno {
        match self {
            GzError::Sink(e) => e,
            _ => Errno::BADMSG,
        }
    }
}

use GzError::{BadCrc, BadLength, Corrupt, Garbage, NotGzip, Truncated};

/// Bits decoded by one table look-up.
const FAST: u32 = 10;
/// DEFLATE's window: a match reaches at most this far back.
const WINDOW: usize = 32768;
/// Output is flushed to the sink once it passes this point, keeping the last WINDOW bytes.
const LIMIT: usize = 3 * WINDOW;
/// Room past LIMIT for one more match (258) and the 8-byte overshoot of its copy.
const OUT: usize = LIMIT + 512;

/// One Huffman code: a table for codes up to FAST bits (entry = symbol << 4 | length, or 0
/// when the code is longer or unassigned), and the canonical count/symbol lists for the rest.
struct Huff {
    table: [u16; 1 << FAST],
    counts: [u16; 16],
    syms: [u16; 288],
}

impl Huff {
    const fn new() -> Huff {
        Huff { table: [0; 1 << FAST], counts: [0; 16], syms: [0; 288] }
    }

    /// Builds the code from each symbol's code length (0 = unused, at most 15). An
    /// over-subscribed set is corrupt; an incomplete one is kept, and its unassigned codes
    /// fail when decoded.
    fn build(&mut self, lens: &[u8]) -> Result<(), GzError> {
        self.counts = [0; 16];
        for &l in lens {
            self.counts[usize::from(l & 15)] += 1;
        }
        self.counts[0] = 0;
        let mut offs = [0u16; 16];
        let mut left = 1i32;
        for len in 1..16 {
            left = (left << 1) - i32::from(self.counts[len]);
            if left < 0 {
                return Err(Corrupt);
            }
            if len < 15 {
                offs[len + 1] = offs[len] + self.counts[len];
            }
        }
        for (sym, &l) in lens.iter().enumerate() {
            if l != 0 {
                let o = &mut offs[usize::from(l & 15)];
                *self.syms.get_mut(usize::from(*o)).ok_or(Corrupt)? = sym as u16;
                *o += 1;
            }
        }
        self.table = [0; 1 << FAST];
        let (mut code, mut idx) = (0u32, 0usize);
        for len in 1..=FAST {
            for _ in 0..self.counts[len as usize] {
                let entry = self.syms[idx % 288] << 4 | len as u16;
                let mut i = (code.reverse_bits() >> (32 - len)) as usize;
                while i < 1 << FAST {
                    self.table[i] = entry;
                    i += 1 << len;
                }
                code += 1;
                idx += 1;
            }
            code <<= 1;
        }
        Ok(())
    }
}

/// The input as a little-endian bit stream. Past the end it reads zeros; `overrun` tells
/// whether any of those were consumed.
struct Bits<'a> {
    inp: &'a [u8],
    pos: usize,
    buf: u64,
    cnt: u32,
}

impl<'a> Bits<'a> {
    /// Makes at least 56 bits available.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(b) = self.inp.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            self.buf |= word << self.cnt;
            self.pos += (63 - self.cnt as usize) >> 3;
            self.cnt |= 56;
        } else {
            self.refill_end();
        }
    }

    /// The last bytes one at a time, then zeros.
    #[inline(never)]
    fn refill_end(&mut self) {
        {
            while self.cnt <= 56 {
                let byte = self.inp.get(self.pos).copied().unwrap_or(0);
                self.buf |= u64::from(byte) << self.cnt;
                self.pos += 1;
                self.cnt += 8;
            }
        }
    }

    fn overrun(&self) -> bool {
        self.pos * 8 - self.cnt as usize > self.inp.len() * 8
    }

    /// The next `n` (<= 32) bits; the caller made them available.
    #[inline(always)]
    fn take(&mut self, n: u32) -> usize {
        let v = (self.buf & ((1u64 << n) - 1)) as usize;
        self.buf >>= n;
        self.cnt -= n;
        v
    }

    fn get(&mut self, n: u32) -> usize {
        self.refill();
        self.take(n)
    }

    /// One symbol of code `h`; at least 15 bits are available.
    #[inline(always)]
    fn decode(&mut self, h: &Huff) -> Result<usize, GzError> {
        let entry = h.table[(self.buf & ((1 << FAST) - 1)) as usize];
        if entry & 15 != 0 {
            self.take(u32::from(entry & 15));
            return Ok(usize::from(entry >> 4));
        }
        self.decode_long(h)
    }

    #[inline(never)]
    fn decode_long(&mut self, h: &Huff) -> Result<usize, GzError> {
        // A code longer than FAST bits: walk the canonical code one length at a time.
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= ((self.buf >> (len - 1)) & 1) as i32;
            let count = i32::from(h.counts[len]);
            if code - first < count {
                self.take(len as u32);
                let sym = h.syms.get((index + code - first) as usize).ok_or(Corrupt)?;
                return Ok(usize::from(*sym));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(Corrupt)
    }

    /// Drops the bits up to the next byte boundary and hands the rest back to the byte
    /// position, for stored blocks and the gzip trailer.
    fn align(&mut self) -> Result<(), GzError> {
        if self.overrun() {
            return Err(Truncated);
        }
        self.pos -= (self.cnt / 8) as usize;
        self.buf = 0;
        self.cnt = 0;
        Ok(())
    }

    /// A little-endian number of `n` (<= 4) whole bytes at the byte position.
    fn le(&mut self, n: usize) -> Result<u32, GzError> {
        Ok(self.bytes(n)?.iter().rev().fold(0, |v, &b| v << 8 | u32::from(b)))
    }

    /// `n` whole bytes at the byte position (after `align`).
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], GzError> {
        let b = self.inp.get(self.pos..self.pos + n).ok_or(Truncated)?;
        self.pos += n;
        Ok(b)
    }
}

/// Length codes 257..285: base length and extra bits; then distance codes 0..29.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
    227, 258,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577,
];

fn len_extra(i: usize) -> u32 {
    if (8..28).contains(&i) { (i as u32 - 4) / 4 } else { 0 }
}

fn dist_extra(i: usize) -> u32 {
    if i >= 4 { (i as u32 - 2) / 2 } else { 0 }
}

/// The order in which code length code lengths are sent.
const CL_ORDER: [u8; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

pub type Sink<'s> = dyn FnMut(&[u8]) -> Result<(), Errno> + 's;

/// The whole state of a gunzip: output window, two Huffman codes, the CRC-32 tables.
pub struct Inflater {
    out: [u8; OUT],
    lit: Huff,
    dist: Huff,
    crc: [[u32; 256]; 8],
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a member's output stands: bytes in `out` up to `o`, of which those before `done`
/// went to the sink already; the CRC and size of what went.
struct Member {
    o: usize,
    done: usize,
    crc: u32,
    size: u32,
}

impl Inflater {
    /// All zeros, so a static of it costs no file bytes.
    pub const fn new() -> Inflater {
        Inflater { out: [0; OUT], lit: Huff::new(), dist: Huff::new(), crc: [[0; 256]; 8] }
    }

    /// Decompresses the gzip file `input` (one or more members, then optionally zero bytes)
    /// and hands the output to `sink` in pieces of at most 65 KiB.
    pub fn gunzip(&mut self, input: &[u8], sink: &mut Sink) -> Result<(), GzError> {
        crc_tables(&mut self.crc);
        let mut bits = Bits { inp: input, pos: 0, buf: 0, cnt: 0 };
        loop {
            self.member(&mut bits, sink)?;
            let rest = input.get(bits.pos..).unwrap_or_default();
            if rest.is_empty() || rest.iter().all(|&b| b == 0) {
                return Ok(());
            }
            if rest[0] != 0x1f {
                return Err(Garbage);
            }
        }
    }

    fn member(&mut self, bits: &mut Bits, sink: &mut Sink) -> Result<(), GzError> {
        let start = bits.pos;
        let head = bits
            .bytes(10)
            .map_err(|_| if bits.inp.get(start) == Some(&0x1f) { Truncated } else { NotGzip })?;
        if head[..3] != [0x1f, 0x8b, 8] || head[3] & 0xe0 != 0 {
            return Err(NotGzip);
        }
        let flags = head[3];
        if flags & 4 != 0 {
            let n = bits.le(2)?;
            bits.bytes(n as usize)?;
        }
        for flag in [8, 16] {
            // A NUL-terminated name or comment.
            while flags & flag != 0 && bits.le(1)? != 0 {}
        }
        if flags & 2 != 0 {
            let header = &bits.inp[start..bits.pos];
            if bits.le(2)? != crc32(&self.crc, 0, header) & 0xffff {
                return Err(BadCrc);
            }
        }
        let mut m = Member { o: 0, done: 0, crc: 0, size: 0 };
        while !self.block(bits, &mut m, sink)? {}
        bits.align()?;
        self.flush(&mut m, sink)?;
        if bits.le(4)? != m.crc {
            return Err(BadCrc);
        }
        if bits.le(4)? != m.size {
            return Err(BadLength);
        }
        Ok(())
    }

    /// Hands out[done..o] to the sink; once past LIMIT, keeps only the last window.
    fn flush(&mut self, m: &mut Member, sink: &mut Sink) -> Result<(), GzError> {
        let piece = &self.out[m.done..m.o];
        m.crc = crc32(&self.crc, m.crc, piece);
        m.size = m.size.wrapping_add(piece.len() as u32);
        sink(piece).map_err(GzError::Sink)?;
        m.done = m.o;
        if m.o > LIMIT {
            self.out.copy_within(m.o - WINDOW..m.o, 0);
            (m.o, m.done) = (WINDOW, WINDOW);
        }
        Ok(())
    }

    /// Decodes one block; true if it was the last.
    fn block(&mut self, bits: &mut Bits, m: &mut Member, sink: &mut Sink) -> Result<bool, GzError> {
        let head = bits.get(3);
        if bits.overrun() {
            return Err(Truncated);
        }
        match head >> 1 {
            0 => {
                bits.align()?;
                let len = bits.le(4)?;
                if len >> 16 != len & 0xffff ^ 0xffff {
                    return Err(Corrupt);
                }
                let mut left = (len & 0xffff) as usize;
                while left > 0 {
                    if m.o > LIMIT {
                        self.flush(m, sink)?;
                    }
                    let n = left.min(OUT - m.o);
                    self.out[m.o..m.o + n].copy_from_slice(bits.bytes(n)?);
                    m.o += n;
                    left -= n;
                }
            }
            1 => {
                let mut lens = [8u8; 320];
                lens[144..256].fill(9);
                lens[256..280].fill(7);
                self.lit.build(&lens[..288])?;
                self.dist.build(&[5; 30])?;
                self.codes(bits, m, sink)?;
            }
            2 => {
                self.dynamic(bits)?;
                self.codes(bits, m, sink)?;
            }
            _ => return Err(Corrupt),
        }
        Ok(head & 1 != 0)
    }

    /// Reads a dynamic block's code lengths and builds its two codes.
    fn dynamic(&mut self, bits: &mut Bits) -> Result<(), GzError> {
        let nlit = bits.get(5) + 257;
        let ndist = bits.get(5) + 1;
        let ncl = bits.get(4) + 4;
        if nlit > 286 || ndist > 30 {
            return Err(Corrupt);
        }
        let mut cl = [0u8; 19];
        for &i in &CL_ORDER[..ncl] {
            cl[usize::from(i)] = bits.get(3) as u8;
        }
        self.lit.build(&cl)?;
        let mut lens = [0u8; 286 + 30];
        let mut i = 0;
        while i < nlit + ndist {
            bits.refill();
            let sym = bits.decode(&self.lit)?;
            let (val, reps) = match sym {
                0..=15 => (sym as u8, 1),
                16 => (*lens.get(i.wrapping_sub(1)).ok_or(Corrupt)?, 3 + bits.take(2)),
                17 => (0, 3 + bits.take(3)),
                _ => (0, 11 + bits.take(7)),
            };
            let run = lens.get_mut(i..i + reps).filter(|_| i + reps <= nlit + ndist);
            run.ok_or(Corrupt)?.fill(val);
            i += reps;
        }
        if lens[256] == 0 {
            return Err(Corrupt);
        }
        self.lit.build(&lens[..nlit])?;
        self.dist.build(&lens[nlit..nlit + ndist])
    }

    /// Decodes literal/length and distance codes up to the end of the block.
    fn codes(&mut self, bits: &mut Bits, m: &mut Member, sink: &mut Sink) -> Result<(), GzError> {
        let corrupt = |bits: &Bits| if bits.overrun() { Truncated } else { Corrupt };
        loop {
            if m.o > LIMIT {
                // Zeros past the end of the input could decode as literals for ever.
                if bits.overrun() {
                    return Err(Truncated);
                }
                self.flush(m, sink)?;
            }
            bits.refill();
            let sym = bits.decode(&self.lit).map_err(|_| corrupt(bits))?;
            let o = m.o;
            if sym < 256 {
                self.out[o] = sym as u8;
                m.o = o + 1;
                continue;
            }
            if sym == 256 {
                return if bits.overrun() { Err(Truncated) } else { Ok(()) };
            }
            let i = sym - 257;
            let len = usize::from(*LEN_BASE.get(i).ok_or_else(|| corrupt(bits))?) + bits.take(len_extra(i));
            let d = bits.decode(&self.dist).map_err(|_| corrupt(bits))?;
            let dist =
                usize::from(*DIST_BASE.get(d).ok_or_else(|| corrupt(bits))?) + bits.take(dist_extra(d));
            if dist > o {
                return Err(corrupt(bits));
            }
            // 8 bytes at a time, or `dist` when nearer: each read is wholly before its write
            // or overlaps only bytes the next step writes again.
            let out = &mut self.out;
            let end = o + len;
            let step = dist.min(8);
            let (mut s, mut t) = (o - dist, o);
            while t < end {
                let v: [u8; 8] = out[s..s + 8].try_into().unwrap_or_default();
                out[t..t + 8].copy_from_slice(&v);
                s += step;
                t += step;
            }
            m.o = end;
        }
    }
}

/// gunzip into one buffer; the number of bytes written. Output that does not fit is
/// ENOSPC. Uses an `Inflater` on the stack (110 KiB).
pub fn gunzip_to(input: &[u8], out: &mut [u8]) -> Result<usize, GzError> {
    let mut n = 0;
    Inflater::new().gunzip(input, &mut |piece: &[u8]| {
        let dst = out.get_mut(n..n + piece.len()).ok_or(Errno::NOSPC)?;
        dst.copy_from_slice(piece);
        n += piece.len();
        Ok(())
    })?;
    Ok(n)
}

/// Fills the slicing-by-8 tables of the CRC-32 (polynomial 0xedb88320, reflected).
fn crc_tables(t: &mut [[u32; 256]; 8]) {
    for (i, e) in t[0].iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = c >> 1 ^ (0xedb8_8320 & (c & 1).wrapping_neg());
        }
        *e = c;
    }
    for k in 1..8 {
        let (done, next) = t.split_at_mut(k);
        for (e, &prev) in next[0].iter_mut().zip(&done[k - 1]) {
            *e = prev >> 8 ^ done[0][(prev & 0xff) as usize];
        }
    }
}

/// CRC-32 of `data` continuing from `crc`, eight bytes per step.
fn crc32(t: &[[u32; 256]; 8], crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        let b = |v: u32, s: u32| usize::from((v >> s) as u8);
        c = t[7][b(lo, 0)]
            ^ t[6][b(lo, 8)]
            ^ t[5][b(lo, 16)]
            ^ t[4][b(lo, 24)]
            ^ t[3][b(hi, 0)]
            ^ t[2][b(hi, 8)]
            ^ t[1][b(hi, 16)]
            ^ t[0][b(hi, 24)];
    }
    for &byte in words.remainder() {
        c = t[0][usize::from(c as u8 ^ byte)] ^ c >> 8;
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::sha256::tests::noise;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn pipe(cmd: &str, args: &[&str], data: &[u8]) -> Vec<u8> {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd} runs: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&data).unwrap());
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(out.status.success(), "{cmd} {args:?}");
        out.stdout
    }

    fn gzip(level: &str, data: &[u8]) -> Vec<u8> {
        pipe("gzip", &["-c", level], data)
    }

    fn gunzip_vec(inf: &mut Inflater, gz: &[u8]) -> Result<Vec<u8>, GzError> {
        let mut v = Vec::new();
        inf.gunzip(gz, &mut |p: &[u8]| {
            v.extend_from_slice(p);
            Ok(())
        })?;
        Ok(v)
    }

    /// Text-like data: words from a small vocabulary, so matches of every length and distance.
    fn text(n: usize) -> Vec<u8> {
        let words = ["container ", "husk ", "the ", "image\n", "layer ", "a", "rootfs/", "0123 "];
        let r = noise(n, 7);
        let mut v = Vec::new();
        let mut i = 0;
        while v.len() < n {
            v.extend_from_slice(words[usize::from(r[i % n]) % words.len()].as_bytes());
            if r[(i * 7) % n] > 250 {
                v.extend_from_slice(&r[i % n..(i % n + 40).min(n)]);
            }
            i += 1;
        }
        v.truncate(n);
        v
    }

    fn samples() -> Vec<(&'static str, Vec<u8>)> {
        let husk = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        vec![
            ("empty", Vec::new()),
            ("one byte", b"x".to_vec()),
            ("text", text(300_000)),
            ("random", noise(200_000, 3)),
            ("zeros", vec![0; 1_000_000]),
            ("short periods", (0..100_000u32).map(|i| (i % 5) as u8 + (i % 3) as u8).collect()),
            ("test binary", husk[..husk.len().min(3_000_000)].to_vec()),
        ]
    }

    #[test]
    fn decodes_what_gzip_makes_at_levels_1_6_9() {
        let mut inf = Box::new(Inflater::new());
        for (name, data) in samples() {
            for level in ["-1", "-6", "-9"] {
                let gz = gzip(level, &data);
                assert!(gunzip_vec(&mut inf, &gz).unwrap() == data, "{name} {level}");
                let mut buf = vec![0u8; data.len()];
                assert_eq!(gunzip_to(&gz, &mut buf), Ok(data.len()), "{name} {level}");
                assert!(buf == data);
                if !data.is_empty() {
                    assert_eq!(gunzip_to(&gz, &mut buf[1..]), Err(GzError::Sink(Errno::NOSPC)));
                }
            }
        }
    }

    /// Python's zlib: stored blocks (level 0), fixed Huffman codes only (Z_FIXED), and a
    /// header with FEXTRA, FNAME, FCOMMENT and FHCRC written by hand.
    fn python(script: &str, data: &[u8]) -> Vec<u8> {
        pipe("python3", &["-c", script], data)
    }

    const DEFLATE: &str = "import sys, zlib, struct
d = sys.stdin.buffer.read()
level, strategy = {}
c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
raw = c.compress(d) + c.flush()
head = b'\\x1f\\x8b\\x08' + bytes([{}]) + b'\\0\\0\\0\\0\\0\\3' + {}
if {}: head += struct.pack('<H', zlib.crc32(head) & 0xffff)
sys.stdout.buffer.write(head + raw + struct.pack('<II', zlib.crc32(d), len(d) & 0xffffffff))";

    fn deflate(level: i32, fixed: bool, flags: u8, extra: &str, data: &[u8]) -> Vec<u8> {
        let strategy = if fixed { "zlib.Z_FIXED" } else { "zlib.Z_DEFAULT_STRATEGY" };
        let script = DEFLATE
            .replacen("{}", &format!("{level}, {strategy}"), 1)
            .replacen("{}", &flags.to_string(), 1)
            .replacen("{}", extra, 1)
            .replacen("{}", if flags & 2 != 0 { "True" } else { "False" }, 1);
        python(&script, data)
    }

    #[test]
    fn stored_and_fixed_blocks_and_every_header_field() {
        let mut inf = Box::new(Inflater::new());
        for (name, data) in samples() {
            let stored = deflate(0, false, 0, "b''", &data);
            assert!(gunzip_vec(&mut inf, &stored).unwrap() == data, "{name} stored");
            let fixed = deflate(9, true, 0, "b''", &data);
            assert!(gunzip_vec(&mut inf, &fixed).unwrap() == data, "{name} fixed");
        }
        let data = text(5000);
        let extra = "b'\\x04\\0abcd' + b'name.tar\\0' + b'a comment\\0'";
        let full = deflate(6, false, 4 | 8 | 16 | 2, extra, &data);
        assert!(gunzip_vec(&mut inf, &full).unwrap() == data);
        // The header CRC covers the header: a changed name byte is caught.
        let mut bad = full.clone();
        bad[18] ^= 1;
        assert_eq!(gunzip_vec(&mut inf, &bad), Err(BadCrc));
        // Reserved flag bits are refused, as gzip does.
        let mut reserved = full.clone();
        reserved[3] |= 0x20;
        assert_eq!(gunzip_vec(&mut inf, &reserved), Err(NotGzip));
    }

    #[test]
    fn members_concatenated_and_trailing_zeros_as_gzip_accepts_them() {
        let mut inf = Box::new(Inflater::new());
        let (a, b) = (text(70_000), noise(1000, 9));
        let mut cat = gzip("-6", &a);
        cat.extend(gzip("-1", &b));
        cat.extend(gzip("-9", b""));
        let both = [a.clone(), b.clone()].concat();
        assert!(pipe("gzip", &["-dc"], &cat) == both);
        assert!(gunzip_vec(&mut inf, &cat).unwrap() == both);
        // GNU gzip ignores zero bytes after the last member (exit 0) ...
        let mut zeros = cat.clone();
        zeros.extend([0; 1000]);
        assert!(pipe("gzip", &["-dc"], &zeros) == both);
        assert!(gunzip_vec(&mut inf, &zeros).unwrap() == both);
        // ... but warns and exits 2 on other trailing bytes, which tar -xzf takes as failure.
        let mut junk = cat.clone();
        junk.extend(b"\0\0junk");
        assert_eq!(gunzip_vec(&mut inf, &junk), Err(Garbage));
    }

    #[test]
    fn each_kind_of_damage_has_its_reason() {
        let mut inf = Box::new(Inflater::new());
        let data = text(100_000);
        let gz = gzip("-6", &data);
        let n = gz.len();
        let at = |i: usize, x: u8| {
            let mut v = gz.clone();
            v[i] ^= x;
            v
        };
        assert_eq!(gunzip_vec(&mut inf, b""), Err(NotGzip));
        assert_eq!(gunzip_vec(&mut inf, b"hello world, not gzip"), Err(NotGzip));
        assert_eq!(gunzip_vec(&mut inf, &at(2, 1)), Err(NotGzip));
        assert_eq!(gunzip_vec(&mut inf, &gz[..5]), Err(Truncated));
        assert_eq!(gunzip_vec(&mut inf, &gz[..n / 2]), Err(Truncated));
        assert_eq!(gunzip_vec(&mut inf, &gz[..n - 4]), Err(Truncated));
        assert_eq!(gunzip_vec(&mut inf, &at(n - 8, 1)), Err(BadCrc));
        assert_eq!(gunzip_vec(&mut inf, &at(n - 1, 1)), Err(BadLength));
        // Block type 3 is reserved.
        assert_eq!(gunzip_vec(&mut inf, &at(10, 6)), Err(Corrupt));
        // A stored block whose NLEN is not LEN's complement.
        let stored = deflate(0, false, 0, "b''", &data);
        let mut v = stored.clone();
        v[13] ^= 1;
        assert_eq!(gunzip_vec(&mut inf, &v), Err(Corrupt));
        // A distance before the start of the output.
        let far = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(gunzip_vec(&mut inf, &far), Err(Corrupt));
        // The sink's error comes back as it was.
        let failed = inf.gunzip(&gz, &mut |_: &[u8]| Err(Errno::PIPE));
        assert_eq!(failed, Err(GzError::Sink(Errno::PIPE)));
    }

    /// Thousands of damaged variants of real gzip files: every outcome is an error or
    /// output, never a panic or a hang.
    #[test]
    fn damaged_input_never_panics() {
        let mut inf = Box::new(Inflater::new());
        let mut files = vec![gzip("-9", &text(20_000)), gzip("-1", &noise(3000, 5))];
        files.push(deflate(9, true, 0, "b''", &text(3000)));
        files.push(gzip("-6", &std::fs::read(std::env::current_exe().unwrap()).unwrap()[..40_000]));
        let r = noise(100_000, 11);
        let mut k = 0;
        let mut next = || {
            k += 1;
            usize::from(r[k % r.len()]) << 8 | usize::from(r[(k * 31) % r.len()])
        };
        let mut errors = 0;
        for gz in &files {
            for cut in (0..gz.len()).step_by(gz.len() / 300 + 1) {
                assert!(gunzip_vec(&mut inf, &gz[..cut]).is_err(), "cut at {cut}");
            }
            for _ in 0..1500 {
                let mut v = gz.clone();
                for _ in 0..1 + next() % 4 {
                    let i = 10 + next() % (v.len() - 10);
                    v[i] = next() as u8;
                }
                if next() % 3 == 0 {
                    v.truncate(10 + next() % (v.len() - 10));
                }
                errors += usize::from(gunzip_vec(&mut inf, &v).is_err());
            }
        }
        assert!(errors > 5000, "{errors}");
    }

    /// CPU seconds (user + system) this thread has used: others share the machine.
    pub(crate) fn cpu_s() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
    }

    /// `cargo test --release --lib image::inflate::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput() {
        let path = "/tmp/deb.tar.gz";
        let gz = std::fs::read(path).unwrap();
        let mut inf = Box::new(Inflater::new());
        for _ in 0..3 {
            let mut n = 0usize;
            let (t, c) = (std::time::Instant::now(), cpu_s());
            inf.gunzip(&gz, &mut |p: &[u8]| {
                n += p.len();
                Ok(())
            })
            .unwrap();
            let (s, c) = (t.elapsed().as_secs_f64(), cpu_s() - c);
            let mb = n as f64 / 1e6;
            println!("husk: {n} B out, {s:.3} s wall, {c:.2} s cpu: {:.0} MB/s out per cpu s", mb / c);
        }
        let script = format!("TIMEFORMAT='%U %S'; time gzip -dc {path} >/dev/null");
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        let t = String::from_utf8(out.stderr).unwrap();
        let c: f64 = t.split_whitespace().map(|x| x.parse::<f64>().unwrap()).sum();
        println!("gzip -dc: {c:.2} s cpu: {:.0} MB/s out per cpu s", 258.897920 / c);
    }
}
