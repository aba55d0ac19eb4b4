//! Everything the CLI prints on standard output goes through here (the `outln!` and `out!`
//! macros), so that a reader closing the pipe early — `cardwatch audit verify | head -1` — ends
//! the command quietly and successfully: the reader had all it wanted. `println!` would panic
//! with "failed printing to stdout". Writers that return their errors instead (exports, `audit
//! show`) end the same way through [`closed`].

use std::fmt;
use std::io::{self, Write};

/// Writes `args` and a newline to standard output.
pub fn line(args: fmt::Arguments<'_>) {
    text(format_args!("{args}\n"));
}

/// Writes `args` to standard output, flushed, so that a closed pipe is seen at the write that
/// met it. A closed pipe ends the process with success; any other failure to write (a full
/// disk behind a redirect) ends it with status 1, saying so on standard error.
pub fn text(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if closed(&e) {
            std::process::exit(0);
        }
        eprintln!("cardwatch: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Whether a write failed because its reader closed the pipe.
pub fn closed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
