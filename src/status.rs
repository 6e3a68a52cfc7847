//! The exit-code contract (README, "Exit codes"): how a child's end becomes husk's status.

use rustix::io::Errno;

/// husk itself failed (bad usage, a setup step that failed).
pub const FAILURE: u8 = 125;
/// COMMAND was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// COMMAND was not found.
pub const NOT_FOUND: u8 = 127;

/// What ended a child, as waitpid reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ending {
    Exited(u8),
    Killed(i32),
}

impl Ending {
    /// Decodes a raw wait status (as from waitpid's `wstatus`).
    pub fn from_wait_status(raw: u32) -> Option<Ending> {
        let sig = (raw & 0x7f) as i32;
        if sig == 0 {
            Some(Ending::Exited(((raw >> 8) & 0xff) as u8))
        } else if sig != 0x7f {
            Some(Ending::Killed(sig))
        } else {
            None // stopped or continued: not an ending
        }
    }

    /// The exit code husk passes on: the command's own status, or 128+N for signal N.
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Exited(code) => code,
            Ending::Killed(sig) => (128 + sig) as u8,
        }
    }
}

/// tini's `-e CODE`: the statuses husk passes on as 0. As in tini, a status is what husk
/// would otherwise exit with, so 143 covers `exit 143` and death by SIGTERM alike.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Remap([u32; 8]);

impl Remap {
    pub fn add(&mut self, code: u8) {
        self.0[code as usize / 32] |= 1 << (code % 32);
    }

    pub fn contains(&self, code: u8) -> bool {
        self.0[code as usize / 32] & 1 << (code % 32) != 0
    }

    /// `ending`, or a clean exit when its status is remapped.
    pub fn apply(&self, ending: Ending) -> Ending {
        if self.contains(ending.exit_code()) { Ending::Exited(0) } else { ending }
    }
}

/// The exit code for an execve failure, the way shells report it: 127 when nothing was
/// found to run, 126 when something was found but could not be run.
pub fn exec_failure_code(errno: Errno) -> u8 {
    match errno {
        Errno::NOENT | Errno::NOTDIR => NOT_FOUND,
        _ => CANNOT_EXECUTE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_pass_through() {
        for code in 0..=255u32 {
            let e = Ending::from_wait_status(code << 8).unwrap();
            assert_eq!(e, Ending::Exited(code as u8));
            assert_eq!(e.exit_code(), code as u8);
        }
    }

    #[test]
    fn signals_become_128_plus_n() {
        assert_eq!(Ending::from_wait_status(15).unwrap().exit_code(), 143);
        assert_eq!(Ending::from_wait_status(9).unwrap().exit_code(), 137);
        // core dumped flag (0x80) does not change the signal
        assert_eq!(Ending::from_wait_status(0x80 | 11).unwrap().exit_code(), 139);
        assert_eq!(Ending::from_wait_status(64).unwrap(), Ending::Killed(64));
        // stopped (0x7f) is not an ending
        assert_eq!(Ending::from_wait_status((19 << 8) | 0x7f), None);
    }

    #[test]
    fn remapped_statuses_become_0() {
        for code in 0..=255u8 {
            let mut remap = Remap::default();
            remap.add(code);
            for other in 0..=255u8 {
                assert_eq!(remap.contains(other), other == code);
                let want = if other == code { 0 } else { other };
                assert_eq!(remap.apply(Ending::Exited(other)).exit_code(), want);
            }
        }
        let mut remap = Remap::default();
        remap.add(143);
        assert_eq!(remap.apply(Ending::Killed(15)), Ending::Exited(0));
        assert_eq!(remap.apply(Ending::Killed(9)), Ending::Killed(9));
        assert_eq!(Remap::default().apply(Ending::Exited(143)), Ending::Exited(143));
    }

    #[test]
    fn exec_errors() {
        assert_eq!(exec_failure_code(Errno::NOENT), 127);
        assert_eq!(exec_failure_code(Errno::NOTDIR), 127);
        assert_eq!(exec_failure_code(Errno::ACCESS), 126);
        assert_eq!(exec_failure_code(Errno::NOEXEC), 126);
        assert_eq!(exec_failure_code(Errno::ISDIR), 126);
    }
}
