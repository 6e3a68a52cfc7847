//! CPU features found at run time with CPUID, and the code that needs them: the SHA-256 block
//! function on the SHA extensions (SHA-NI). `is_x86_feature_detected!` is std-only, so the
//! bits are read here from CPUID as Intel's manual (vol. 2A, "CPUID") documents them.

use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128,
    _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi8,
    _mm_shuffle_epi32, _mm_storeu_si128,
};

/// Proof that this CPU has the SHA extensions plus SSSE3 and SSE4.1 (pshufb, pblendw),
/// which the SHA-NI block function uses. Only [`ShaNi::detect`] makes one.
#[derive(Clone, Copy)]
pub struct ShaNi(());

impl ShaNi {
    /// Some(..) when CPUID says SHA (leaf 7, EBX bit 29), SSSE3 (leaf 1, ECX bit 9) and
    /// SSE4.1 (leaf 1, ECX bit 19) are all present.
    pub fn detect() -> Option<ShaNi> {
        // CPUID exists on every x86_64 CPU; leaf 0 gives the highest standard leaf.
        let max = __cpuid(0).eax;
        if max < 7 {
            return None;
        }
        let ecx1 = __cpuid(1).ecx;
        let ebx7 = __cpuid_count(7, 0).ebx;
        let ok = ebx7 & 1 << 29 != 0 && ecx1 & 1 << 9 != 0 && ecx1 & 1 << 19 != 0;
        ok.then_some(ShaNi(()))
    }

    /// Runs the SHA-256 compression function over each 64-byte block of `blocks` (its length
    /// is a multiple of 64; a tail is ignored), with the round constants `k`.
    pub fn sha256_blocks(self, state: &mut [u32; 8], blocks: &[u8], k: &[u32; 64]) {
        // SAFETY: a `ShaNi` exists only when CPUID reported every feature the function is
        // compiled for.
        unsafe { sha256_ni(state, blocks, k) }
    }
}

/// Intel's SHA extensions keep the eight state words as two vectors, ABEF and CDGH
/// ("Intel SHA Extensions", Gulley et al., 2013): `sha256rnds2` does two rounds on them with
/// two message+constant words; `sha256msg1`/`sha256msg2` compute the message schedule four
/// words at a time.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn sha256_ni(state: &mut [u32; 8], blocks: &[u8], k: &[u32; 64]) {
    // SAFETY: unaligned 16-byte loads from the 32-byte `state` array.
    let (dcba, hgfe) =
        unsafe { (_mm_loadu_si128(state.as_ptr().cast()), _mm_loadu_si128(state.as_ptr().add(4).cast())) };
    // DCBA, HGFE (lowest word first) -> ABEF, CDGH.
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    let mut abef = _mm_alignr_epi8(cdab, efgh, 8);
    let mut cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    // pshufb mask turning each big-endian message word into a native one.
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    for block in blocks.chunks_exact(64) {
        let (abef0, cdgh0) = (abef, cdgh);
        let mut w = [_mm_set_epi64x(0, 0); 4];
        for i in 0..16 {
            let m = if i < 4 {
                // SAFETY: chunks_exact gives 64 bytes; 16*i+16 <= 64 for i < 4.
                let raw = unsafe { _mm_loadu_si128(block.as_ptr().add(16 * i).cast::<__m128i>()) };
                _mm_shuffle_epi8(raw, bswap)
            } else {
                // W[t..t+4] from the four previous groups (w[i % 4] is W[t-16..t-12]).
                let sum = _mm_add_epi32(
                    _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]),
                    _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4),
                );
                _mm_sha256msg2_epu32(sum, w[(i + 3) % 4])
            };
            w[i % 4] = m;
            // SAFETY: 4*i+4 <= 64 words of `k` for i < 16.
            let kv = unsafe { _mm_loadu_si128(k.as_ptr().add(4 * i).cast()) };
            let wk = _mm_add_epi32(m, kv);
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    // ABEF, CDGH -> DCBA, HGFE.
    let feba = _mm_shuffle_epi32(abef, 0x1B);
    let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
    let hgfe = _mm_alignr_epi8(dchg, feba, 8);
    // SAFETY: unaligned 16-byte stores into the 32-byte `state` array.
    unsafe {
        _mm_storeu_si128(state.as_mut_ptr().cast(), dcba);
        _mm_storeu_si128(state.as_mut_ptr().add(4).cast(), hgfe);
    }
}
