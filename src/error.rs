//! One error for every step husk takes: which step, on which path, the kernel's errno and,
//! where it helps, a hint on what to do. Carried up from wherever it happened (across the
//! clone boundary too: spawn's pipe carries the step and errno of a failed exec) and
//! printed in one place, which also picks the exit status.

use rustix::io::Errno;

use crate::rt::Short;
use crate::status;

/// A failed step: printed as `husk: <step> <path>: <reason> (<ERRNO>)[: <hint>]`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Failure<'a> {
    pub step: Short,
    /// What the step was applied to (a path, a name); may be empty.
    pub path: &'a [u8],
    pub errno: Errno,
    /// What to do about it; may be empty.
    pub hint: Hint,
}

/// A hint on what to do, or none: `None` rather than an empty `&str` so that the many
/// failures without one store a single zero word.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Hint(pub Option<Short>);

impl Hint {
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

pub type Result<'a, T> = core::result::Result<T, Failure<'a>>;

impl<'a> Failure<'a> {
    pub fn new(step: &'static str, path: &'a [u8], errno: Errno) -> Failure<'a> {
        Failure { step: Short::new(step), path, errno, hint: Hint(None) }
    }

    pub fn with_hint(self, hint: &'static str) -> Failure<'a> {
        Failure { hint: Hint(if hint.is_empty() { None } else { Some(Short::new(hint)) }), ..self }
    }

    /// Prints the one line on stderr and returns the exit status of the contract: 126 or
    /// 127 when COMMAND itself could not be executed, 125 for every other step.
    #[inline(never)]
    pub fn report(&self) -> u8 {
        let hint = match self.hint.0 {
            Some(hint) => hint.bytes(),
            None => b"",
        };
        crate::out::error_with_hint(self.step.bytes(), self.path, self.errno, hint);
        self.status()
    }

    /// The exit status this failure ends husk with.
    pub fn status(&self) -> u8 {
        if self.step.bytes() == EXEC.as_bytes() {
            status::exec_failure_code(self.errno)
        } else {
            status::FAILURE
        }
    }
}

/// The step of executing COMMAND (execve and the PATH search): its failures are 126/127.
pub const EXEC: &str = "exec";

/// For `map_err`: the failure of `step` on `path` with the errno it gets.
pub fn fail<'a>(step: &'static str, path: &'a [u8]) -> impl FnOnce(Errno) -> Failure<'a> {
    move |errno| Failure::new(step, path, errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_five_words() {
        // Every `?` that carries one up copies it: keep it small (see rt::Short).
        assert_eq!(size_of::<Failure>(), 40);
        assert_eq!(size_of::<Result<()>>(), 40);
    }

    #[test]
    fn exec_failures_are_126_or_127_the_rest_125() {
        assert_eq!(Failure::new(EXEC, b"x", Errno::NOENT).status(), 127);
        assert_eq!(Failure::new(EXEC, b"x", Errno::ACCESS).status(), 126);
        assert_eq!(Failure::new("mount", b"/x", Errno::NOENT).status(), 125);
        assert_eq!(
            fail("chdir", b"/w")(Errno::PERM).with_hint("h"),
            Failure {
                step: Short::new("chdir"),
                path: b"/w",
                errno: Errno::PERM,
                hint: Hint(Some(Short::new("h")))
            }
        );
    }
}
