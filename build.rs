//! Link husk as a tiny static executable with no C runtime.

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/linker/husk.ld");
    println!("cargo:rerun-if-changed=linker/husk.ld");
    println!("cargo:rerun-if-changed=build.rs");
    for arg in [
        // No crt1.o/crti.o: husk's own `_start` (src/rt/mod.rs) is the entry point.
        "-nostartfiles",
        // No libc, libgcc or libm: everything comes from husk and its Rust crates.
        "-nostdlib",
        // A static executable: no ELF interpreter, nothing to load at run time.
        "-static",
        // A fixed-address executable, not static-pie: static-pie needs a self-relocating
        // startup that husk does not have (seen crashing here on an unapplied relocation).
        "-no-pie",
        // Drop sections nothing refers to (paired with rustc's per-function sections).
        "-Wl,--gc-sections",
        // rust-lld (rustc's default linker driver here): fold functions whose code is
        // identical (monomorphised copies that came out the same; husk never compares
        // function addresses), and merge strings that end another (-O2). -184 and -120 B.
        "-Wl,--icf=all",
        "-Wl,-O2",
        // Our section and segment layout (see the comments in the script).
        &format!("-Wl,-T,{script}"),
        // No .note.gnu.build-id section: the script discards notes, so do not create it.
        "-Wl,--build-id=none",
        // Keep the ELF header and program headers from forcing page alignment of sections.
        "-Wl,-z,norelro",
        "-Wl,-z,noseparate-code",
        "-Wl,-z,max-page-size=4096",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
