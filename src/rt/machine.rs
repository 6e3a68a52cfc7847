//! The machine itself: QEMU's exit port, for husk as the kernel's init under test.

use core::arch::asm;
use linux_raw_sys::general as k;

use super::syscall::{check, syscall3};

/// Writes `value` to I/O port 0xf4 (QEMU's isa-debug-exit device) after asking the kernel for
/// access to that one port. QEMU then exits with status `(value << 1) | 1`. Without the device
/// the write goes nowhere and this returns, so the caller must still power off.
/// Raw: rustix has neither ioperm(2) nor port I/O.
pub fn qemu_debug_exit(value: u8) {
    const PORT: u16 = 0xf4;
    // SAFETY: ioperm(2) grants this process access to one I/O port; plain integers.
    let granted = check(unsafe { syscall3(k::__NR_ioperm, PORT as usize, 1, 1) });
    if granted.is_ok() {
        // SAFETY: ioperm above made port 0xf4 accessible; a write to an absent ISA device is
        // ignored by the hardware (or emulator).
        unsafe {
            asm!("out dx, al", in("dx") PORT, in("al") value, options(nomem, nostack));
        }
    }
}
