//! The table of contents: read argv, take one of husk's roles, exit with its status.
#![no_std]
#![no_main]

use husk::args::{self, Command};
use husk::rt::{Process, sys};
use husk::{boot, container, exec, help, init, manage, status};

husk::entry!(main);

// Each role below is a function kept out of line (#[inline(never)]): inlined, they would make
// main's frame the sum of all their locals, and stack probes touch every page of a frame on
// entry, so every process would carry all of them resident.
fn main(process: &'static Process) -> ! {
    // Matched by reference: moving a spec out of the result would copy it first (nearly 2 KiB
    // for `run`'s).
    let code = match &args::parse(process) {
        Err(mistake) => {
            help::usage_error(mistake);
            status::FAILURE
        }
        Ok(Command::Help(topic)) => {
            help::print(*topic);
            0
        }
        Ok(Command::Version) => {
            husk::out::print(help::VERSION);
            0
        }
        // PID 1 of the whole machine: mount the basics, run COMMAND, power off.
        Ok(Command::Init(spec)) if boot::is_kernel_init() => boot::run(spec, process),
        // A container's init, or a subreaper wrapper anywhere else.
        Ok(Command::Init(spec)) => init::run(spec, process),
        // A new container: namespaces, root filesystem, and husk as its PID 1.
        Ok(Command::Run(spec)) => container::run(spec, process),
        // Named containers: join one, list them, signal one, read one's output, wait for,
        // stop or remove one.
        Ok(Command::Exec(spec)) => exec::run(spec, process),
        Ok(Command::Ps { quiet, all }) => manage::ps(*quiet, *all, process),
        Ok(Command::Kill { name, signal }) => manage::kill(name, *signal, process),
        Ok(Command::Logs { name, follow }) => manage::logs(name, *follow, process),
        Ok(Command::Wait { name }) => manage::wait(name, process),
        Ok(Command::Stop { name, timeout_ms }) => manage::stop(name, *timeout_ms, process),
        Ok(Command::Rm { name, force }) => manage::rm(name, *force, process),
        // The image store: list it, remove from it.
        Ok(Command::Images { quiet }) => husk::image::list(*quiet, process),
        Ok(Command::Rmi { first }) => husk::image::remove(*first, process),
        // The OCI runtime interface: what container engines call.
        #[cfg(feature = "oci")]
        Ok(Command::Oci(at)) => husk::oci::main(process, *at),
    };
    sys::exit(code)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    husk::boot::panicked()
}
