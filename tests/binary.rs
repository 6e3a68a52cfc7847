//! The shape of the release binary: static, not PIE, stripped, and at most 128 KiB.

const HUSK: &str = env!("CARGO_BIN_EXE_husk");

/// The size budget for everything husk will do: the first wave took ~62 KiB; user
/// namespaces, images (gzip, sha256), netlink and the OCI verbs must fit in the rest.
const MAX_SIZE: usize = 128 * 1024;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[test]
fn small_static_stripped_executable() {
    let elf = std::fs::read(HUSK).unwrap();
    assert!(elf.len() <= MAX_SIZE, "husk is {} bytes, budget {MAX_SIZE}", elf.len());
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "64-bit");
    // e_type 2 = ET_EXEC: a fixed-address executable (ET_DYN would be PIE).
    assert_eq!(u16_at(&elf, 16), 2, "not ET_EXEC");

    let (phoff, phentsize, phnum) = (u64_at(&elf, 32) as usize, u16_at(&elf, 54) as usize, u16_at(&elf, 56));
    let types: Vec<u32> = (0..phnum as usize).map(|i| u32_at(&elf, phoff + i * phentsize)).collect();
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    assert!(!types.contains(&PT_INTERP), "has an ELF interpreter: not static");
    assert!(!types.contains(&PT_DYNAMIC), "has a dynamic section");

    // Stripped: no symbol table among the section names.
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(&elf, 40) as usize,
        u16_at(&elf, 58) as usize,
        u16_at(&elf, 60) as usize,
        u16_at(&elf, 62) as usize,
    );
    let strtab = shoff + shstrndx * shentsize;
    let (str_off, str_size) = (u64_at(&elf, strtab + 24) as usize, u64_at(&elf, strtab + 32) as usize);
    let names = &elf[str_off..str_off + str_size];
    let sections: Vec<String> = (0..shnum)
        .map(|i| {
            let name = u32_at(&elf, shoff + i * shentsize) as usize;
            let end = names[name..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8_lossy(&names[name..name + end]).into_owned()
        })
        .collect();
    for unwanted in [".symtab", ".eh_frame", ".comment", ".interp", ".dynamic"] {
        assert!(!sections.iter().any(|s| s == unwanted), "has {unwanted}: {sections:?}");
    }
}

#[test]
fn runs_with_an_empty_environment() {
    // No libc, no loader: the binary runs from a bare exec with nothing around it.
    let out = std::process::Command::new(HUSK).arg("--version").env_clear().output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), concat!("husk ", env!("CARGO_PKG_VERSION"), "\n"));
    assert!(out.status.success());
}
