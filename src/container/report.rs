//! What the container's init tells the host side as it goes, for after the container has
//! ended: each entry the walk created in the rootfs directory (a mount point, to remove
//! then: `rootfs::remove_made`), and that COMMAND started (`--stats` speaks only of a
//! container that ran).
//!
//! One pipe, made before the clone when there is something to hear (a writable rootfs
//! directory, or `--stats`). The init writes a fixed-size [`Note`] per event; the host side
//! reads them all once the init has been reaped. Both ends are non-blocking: a full pipe
//! drops notes (its entries are then not removed), never stalls the init, and the host side
//! never waits for a writer. The init holds its end only until COMMAND has started.

use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};

use crate::rt::sys;

/// One event: `[what, dev, ino]`. `what` is [`STARTED`], or for an entry the walk made
/// (a directory or an empty file), `MADE` | the mount's number << 8 | the length of the
/// mount's destination naming the entry << 16; (dev, ino) is its identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note(pub [u64; 3]);

const MADE: u64 = 1;
const STARTED: u64 = 2;

/// The size of a note in the pipe.
const SIZE: usize = 24;

/// The most bytes of notes the host side reads: every husk mount and volume may create a
/// few components of its destination.
pub const BYTES: usize = 64 * SIZE;

impl Note {
    /// COMMAND is running.
    pub const STARTED: Note = Note([STARTED, 0, 0]);

    /// Mount number `mount`'s destination, up to byte `len`, was created by the walk (a
    /// directory, or an empty file), and its identity is (`dev`, `ino`).
    pub fn made(mount: u8, len: u16, dev: u64, ino: u64) -> Note {
        Note([MADE | ((mount as u64) << 8) | ((len as u64) << 16), dev, ino])
    }

    /// The made entry's (mount number, length, dev, ino), or None for another note.
    pub fn as_made(&self) -> Option<(usize, usize, u64, u64)> {
        let [what, dev, ino] = self.0;
        (what & 0xff == MADE).then_some((((what >> 8) & 0xff) as usize, (what >> 16) as usize, dev, ino))
    }

    /// The init: sends the note, if there is a pipe (one write: atomic, under PIPE_BUF).
    pub fn send(&self, to: Option<BorrowedFd>) {
        let mut bytes = [0u8; SIZE];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        if let Some(fd) = to {
            sys::write_all(fd.as_raw_fd(), &bytes);
        }
    }

    /// The notes in what [`Report::read`] gave.
    pub fn all(bytes: &[u8]) -> impl DoubleEndedIterator<Item = Note> + '_ {
        bytes.chunks_exact(SIZE).map(|chunk| {
            let mut words = [0u64; 3];
            for (word, b) in words.iter_mut().zip(chunk.chunks_exact(8)) {
                *word = u64::from_ne_bytes(b.try_into().unwrap_or_default());
            }
            Note(words)
        })
    }
}

/// The pipe: (read end, write end).
pub struct Report {
    pipe: (OwnedFd, OwnedFd),
}

impl Report {
    /// The pipe, with a blank note in it: its buffer page is then the host side's, and the
    /// init's notes fill it without charging the container's memory limit a page (a pipe's
    /// page belongs to the cgroup of whoever wrote first; later writes merge into it).
    pub fn new() -> Result<Report, Errno> {
        let report = Report { pipe: pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)? };
        Note([0; 3]).send(Some(report.fd()));
        Ok(report)
    }

    /// The init's end.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.1.as_fd()
    }

    /// The host side, once the init has ended: the notes it sent, in order (at most
    /// [`BYTES`] of them; see [`Note::all`]). One read takes all a pipe holds, up to its size.
    pub fn read(self, buf: &mut [u8; BYTES]) -> &[u8] {
        let n = rustix::io::read(&self.pipe.0, &mut buf[..]).unwrap_or(0);
        &buf[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_say_what_was_made() {
        assert_eq!(Note::made(39, 4095, u64::MAX, 7).as_made(), Some((39, 4095, u64::MAX, 7)));
        assert_eq!(Note::made(0, 1, 0, 0).as_made(), Some((0, 1, 0, 0)));
        assert_eq!(Note::STARTED.as_made(), None);
        assert_eq!(Note([0, 1, 2]).as_made(), None);
    }

    #[test]
    fn the_host_side_reads_what_was_sent() {
        let report = Report::new().unwrap();
        let made = Note::made(3, 5, 7, 9);
        made.send(Some(report.fd()));
        Note::STARTED.send(Some(report.fd()));
        let mut buf = [0; BYTES];
        assert_eq!(Note::all(report.read(&mut buf)).collect::<Vec<_>>(), [Note([0; 3]), made, Note::STARTED]);
        let report = Report::new().unwrap();
        for _ in 0..BYTES / SIZE + 2 {
            Note::STARTED.send(Some(report.fd()));
        }
        assert_eq!(Note::all(report.read(&mut buf)).count(), BYTES / SIZE);
    }
}
