//! Container images as skopeo names them: `oci:DIR[:TAG]` (an OCI image layout),
//! `oci-archive:FILE[:TAG]` (that layout in a tar file) and `docker-archive:FILE[:NAME:TAG]`
//! (what `docker save` and `podman save` write). Every blob is checked against its digest
//! before it is used: OCI's by the blob's own sha256, docker's layers by the uncompressed
//! stream's (the config's `rootfs.diff_ids`), the config by the name it is stored under.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::{Stop, Unpack, sha256, stop, why};
use crate::cpath::CPath;
use crate::json::{self, Value};
use crate::rt::sys;

/// Which of the three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Oci,
    OciArchive,
    DockerArchive,
}

/// `--rootfs`'s value as an image reference: its kind, path and tag (possibly empty).
pub fn reference(rootfs: &[u8]) -> Option<(Kind, &[u8], &[u8])> {
    let (kind, rest) = if let Some(rest) = rootfs.strip_prefix(b"oci:") {
        (Kind::Oci, rest)
    } else if let Some(rest) = rootfs.strip_prefix(b"oci-archive:") {
        (Kind::OciArchive, rest)
    } else {
        (Kind::DockerArchive, rootfs.strip_prefix(b"docker-archive:")?)
    };
    let (path, tag) = crate::text::split_once(rest, b':');
    Some((kind, path, tag.unwrap_or(b"")))
}

/// The image's files: a directory (each blob mapped when used) or a tar archive mapped
/// whole (its members found by their headers).
pub struct Layout {
    dir: Option<OwnedFd>,
    archive: Option<sys::Mapped>,
}

/// A file of the layout, in memory.
pub enum Bytes<'l> {
    Mapped(sys::Mapped),
    Slice(&'l [u8]),
}

impl Bytes<'_> {
    pub fn get(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m.bytes(),
            Bytes::Slice(s) => s,
        }
    }
}

impl Layout {
    pub fn open(kind: Kind, path: &[u8]) -> Result<Layout, Stop> {
        let mut c = CPath::new();
        let c = c.of(&[path]).map_err(|e| stop(e, why::ROOTFS))?;
        let flags = OFlags::RDONLY
            | OFlags::CLOEXEC
            | if kind == Kind::Oci { OFlags::DIRECTORY } else { OFlags::empty() };
        let fd = rustix::fs::open(c, flags, Mode::empty()).map_err(|e| stop(e, why::ROOTFS))?;
        if kind == Kind::Oci {
            return Ok(Layout { dir: Some(fd), archive: None });
        }
        Ok(Layout { dir: None, archive: Some(sys::map_file(fd.as_fd())?) })
    }

    /// The file `name` (relative to the layout's top).
    pub fn file(&self, name: &[u8]) -> Result<Bytes<'_>, Stop> {
        let malformed = stop(Errno::NOENT, why::IMAGE);
        if let Some(dir) = &self.dir {
            let mut c = CPath::new();
            let c = c.of(&[name])?;
            // Inside the layout, whatever its index names (openat2 RESOLVE_IN_ROOT).
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            let resolve = rustix::fs::ResolveFlags::IN_ROOT | rustix::fs::ResolveFlags::NO_MAGICLINKS;
            let fd = rustix::fs::openat2(dir, c, flags, Mode::empty(), resolve).map_err(|_| malformed)?;
            return Ok(Bytes::Mapped(sys::map_file(fd.as_fd())?));
        }
        let archive = self.archive.as_ref().map_or(&[][..], |m| m.bytes());
        member(archive, name).map(Bytes::Slice).ok_or(malformed)
    }

    /// The blob `sha256:HEX`, checked against its digest.
    pub fn blob(&self, digest: &[u8]) -> Result<(Bytes<'_>, [u8; 64]), Stop> {
        let hex = hex_of(digest)?;
        let mut path = [0u8; 77];
        path[..13].copy_from_slice(b"blobs/sha256/");
        path[13..].copy_from_slice(&hex);
        let bytes = self.file(&path)?;
        check(bytes.get(), &hex)?;
        Ok((bytes, hex))
    }
}

/// `sha256:` and 64 lowercase hex digits, as a digest must be (never a path).
pub fn hex_of(digest: &[u8]) -> Result<[u8; 64], Stop> {
    let hex = digest.strip_prefix(b"sha256:").unwrap_or(b"");
    let ok = hex.len() == 64 && hex.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    let mut out = [0u8; 64];
    if !ok {
        return Err(stop(Errno::INVAL, why::DIGEST));
    }
    out.copy_from_slice(hex);
    Ok(out)
}

/// Whether `bytes` hash to `hex`.
fn check(bytes: &[u8], hex: &[u8; 64]) -> Result<(), Stop> {
    let mut hash = sha256::Sha256::new();
    hash.update(bytes);
    let mut got = [0u8; 64];
    sha256::hex(&hash.finish(), &mut got);
    if &got != hex {
        return Err(stop(Errno::BADMSG, why::DIGEST));
    }
    Ok(())
}

/// A member of an (uncompressed) tar archive in memory, by name (`./` prefixes ignored).
fn member<'a>(archive: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    while let Some(header) = archive.get(at..at + 512) {
        if header[0] == 0 {
            return None;
        }
        let size = octal(&header[124..136])?;
        let data = archive.get(at + 512..at + 512 + size)?;
        let field = |from: usize, to: usize| {
            let f = &header[from..to];
            &f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())]
        };
        // ustar's prefix, then its name.
        let mut full = [0u8; 257];
        let mut len = 0;
        if &header[257..263] == b"ustar\0" && header[345] != 0 {
            for part in [field(345, 500), b"/"] {
                full[len..len + part.len()].copy_from_slice(part);
                len += part.len();
            }
        }
        let short = field(0, 100);
        full[len..len + short.len()].copy_from_slice(short);
        let full = &full[..len + short.len()];
        if full.strip_prefix(b"./").unwrap_or(full) == name && matches!(header[156], b'0' | 0) {
            return Some(data);
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    None
}

fn octal(field: &[u8]) -> Option<usize> {
    let mut n = 0usize;
    for &b in field.iter().skip_while(|&&b| b == b' ' || b == 0).take_while(|&&b| b != b' ' && b != 0) {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n.checked_mul(8)? + (b - b'0') as usize;
    }
    Some(n)
}

/// The image `reference` names: its key in the store (the manifest's digest; docker's
/// image ID, its config's) and, for [`unpack`], how to find its parts again.
pub struct Image {
    pub key: [u8; 64],
    pub kind: Kind,
}

/// Parses a JSON document of the image (malformed: EBADMSG).
fn parse(bytes: &[u8]) -> Result<Value<'_>, Stop> {
    json::parse(bytes).map_err(|_| stop(Errno::BADMSG, why::IMAGE))
}

fn text<'v>(value: Option<Value<'v>>) -> Result<&'v [u8], Stop> {
    let malformed = stop(Errno::BADMSG, why::IMAGE);
    let s = value.and_then(Value::as_str).ok_or(malformed)?;
    // Digests and paths need no escapes; one that has them is refused.
    if s.raw().contains(&b'\\') {
        return Err(malformed);
    }
    Ok(s.raw())
}

/// Finds the image: OCI's manifest by `tag` in index.json (the only one when no tag),
/// docker's by `NAME:TAG` in manifest.json's RepoTags (the only one when none).
pub fn find(layout: &Layout, kind: Kind, tag: &[u8]) -> Result<Image, Stop> {
    let malformed = stop(Errno::BADMSG, why::IMAGE);
    if kind == Kind::DockerArchive {
        let manifest = layout.file(b"manifest.json")?;
        let doc = parse(manifest.get())?;
        let image = pick(doc, tag, |m| tagged(m, tag))?;
        // The config's name holds its digest (`HEX.json`, or `blobs/sha256/HEX`).
        let config = text(image.get(b"Config"))?;
        let name = config.strip_suffix(b".json").unwrap_or(config);
        let hex = name.get(name.len().saturating_sub(64)..).ok_or(malformed)?;
        let mut digest = [0u8; 71];
        digest[..7].copy_from_slice(b"sha256:");
        digest[7..7 + hex.len().min(64)].copy_from_slice(&hex[..hex.len().min(64)]);
        let key = hex_of(&digest)?;
        check(layout.file(config)?.get(), &key)?;
        return Ok(Image { key, kind });
    }
    let index = layout.file(b"index.json")?;
    let doc = parse(index.get())?;
    let manifests = doc.get(b"manifests").ok_or(malformed)?;
    let chosen = pick(manifests, tag, |m| {
        m.path(&[b"annotations", b"org.opencontainers.image.ref.name"])
            .and_then(Value::as_str)
            .is_some_and(|s| s.is(tag))
    })?;
    Ok(Image { key: hex_of(text(chosen.get(b"digest"))?)?, kind })
}

/// Whether a docker archive's image has `name` among its RepoTags, both taken as docker
/// normalizes them (`busybox:1` is `docker.io/library/busybox:1`).
fn tagged(image: Value, name: &[u8]) -> bool {
    fn short(n: &[u8]) -> &[u8] {
        let n = n.strip_prefix(b"docker.io/").unwrap_or(n);
        n.strip_prefix(b"library/").unwrap_or(n)
    }
    let tags = image.get(b"RepoTags").map(Value::items).into_iter().flatten();
    tags.filter_map(Value::as_str).any(|t| !t.raw().contains(&b'\\') && short(t.raw()) == short(name))
}

/// The one item of `list` that `matches` the tag, or the only item when there is no tag.
fn pick<'v>(list: Value<'v>, tag: &[u8], matches: impl Fn(Value<'v>) -> bool) -> Result<Value<'v>, Stop> {
    let mut items = list.items();
    let found = if tag.is_empty() {
        let first = items.next();
        if items.next().is_some() { None } else { first }
    } else {
        list.items().find(|&m| matches(m))
    };
    found.ok_or(stop(Errno::NOENT, why::TAG))
}

/// Unpacks the image's layers in order into the tree of `unpack`, and copies its config
/// into `entry` (as `config`, for the defaults each run takes from it).
pub fn unpack(
    layout: &Layout,
    image: &Image,
    tag: &[u8],
    unpack: &mut Unpack,
    entry: BorrowedFd,
    name: &mut &'static [u8],
) -> Result<(), Stop> {
    let malformed = stop(Errno::BADMSG, why::IMAGE);
    let mut key = [0u8; 71];
    key[..7].copy_from_slice(b"sha256:");
    key[7..].copy_from_slice(&image.key);
    if image.kind == Kind::DockerArchive {
        let manifest = layout.file(b"manifest.json")?;
        let doc = parse(manifest.get())?;
        let chosen = pick(doc, tag, |m| tagged(m, tag))?;
        let config = layout.file(text(chosen.get(b"Config"))?)?;
        check(config.get(), &image.key)?;
        save(entry, config.get())?;
        let config = parse(config.get())?;
        let mut diff_ids = config.path(&[b"rootfs", b"diff_ids"]).ok_or(malformed)?.items();
        for layer in chosen.get(b"Layers").ok_or(malformed)?.items() {
            let want = hex_of(text(diff_ids.next())?)?;
            let bytes = layout.file(text(Some(layer))?)?;
            unpack.stream(bytes.get(), Some(&want), name)?;
        }
        return if diff_ids.next().is_some() { Err(malformed) } else { Ok(()) };
    }
    let (manifest, _) = layout.blob(&key)?;
    let manifest = parse(manifest.get())?;
    let (config, _) = layout.blob(text(manifest.path(&[b"config", b"digest"]))?)?;
    save(entry, config.get())?;
    for layer in manifest.get(b"layers").ok_or(malformed)?.items() {
        let (bytes, _) = layout.blob(text(layer.get(b"digest"))?)?;
        unpack.stream(bytes.get(), None, name)?;
    }
    Ok(())
}

/// The image's config, kept beside its tree.
fn save(entry: BorrowedFd, config: &[u8]) -> Result<(), Stop> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(entry, c"config", flags, Mode::from_raw_mode(0o600))
        .map_err(|e| stop(e, why::STORE))?;
    let mut data = config;
    while !data.is_empty() {
        let n = rustix::io::write(&fd, data).map_err(|e| stop(e, why::STORE))?;
        data = &data[n..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_as_skopeo_names_them() {
        assert_eq!(reference(b"oci:/i"), Some((Kind::Oci, &b"/i"[..], &b""[..])));
        assert_eq!(reference(b"oci:/i:v1"), Some((Kind::Oci, &b"/i"[..], &b"v1"[..])));
        assert_eq!(reference(b"oci-archive:a.tar:v2"), Some((Kind::OciArchive, &b"a.tar"[..], &b"v2"[..])));
        let docker = reference(b"docker-archive:/a.tar:example.com/app:1.0");
        assert_eq!(docker, Some((Kind::DockerArchive, &b"/a.tar"[..], &b"example.com/app:1.0"[..])));
        assert_eq!(reference(b"/plain/dir"), None);
        assert_eq!(reference(b"rootfs.tar.gz"), None);
    }

    #[test]
    fn digests_are_never_paths() {
        let good = [b'a'; 64];
        let mut d = b"sha256:".to_vec();
        d.extend_from_slice(&good);
        assert_eq!(hex_of(&d), Ok(good));
        for bad in [
            &b"sha256:../../etc/passwd"[..],
            b"sha512:aaaa",
            &[&b"sha256:"[..], &[b'A'; 64]].concat(),
            &[&b"sha256:"[..], &[b'a'; 63], b"/"].concat(),
            &[&b"sha256:"[..], &[b'a'; 65]].concat(),
        ] {
            assert_eq!(hex_of(bad).unwrap_err().why, why::DIGEST, "{}", String::from_utf8_lossy(bad));
        }
    }

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in members {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
            h[156] = b'0';
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    #[test]
    fn members_of_an_archive_by_name() {
        let tar = tar_of(&[("./index.json", b"{}"), ("blobs/sha256/ab", b"blob"), ("manifest.json", b"[]")]);
        assert_eq!(member(&tar, b"index.json"), Some(&b"{}"[..]));
        assert_eq!(member(&tar, b"blobs/sha256/ab"), Some(&b"blob"[..]));
        assert_eq!(member(&tar, b"manifest.json"), Some(&b"[]"[..]));
        assert_eq!(member(&tar, b"nope"), None);
        // A size past the end is no member.
        let mut cut = tar_of(&[("x", b"12345")]);
        cut.truncate(515);
        assert_eq!(member(&cut, b"x"), None);
    }
}
