//! What caproto-get does once its arguments are parsed.

use std::io::Write;

use crate::cli::args::dtype::list_types_text;
use crate::cli::args::get::GetArgs;
use crate::cli::output::format::{Extras, LineBuffers, LineError, LineFormat};
use crate::cli::output::timefmt::Zone;
use crate::cli::tools::backend::{default_read_type, Backend, ToolError};
use crate::proto::dbr::DbrType;

/// Exit status: everything worked.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one PV failed (not found, timeout, refused, ...).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the arguments were unusable (same as clap's usage errors).
pub const EXIT_USAGE: u8 = 2;

/// Read every PV and print one line each, in the order given. All PVs are
/// connected and read concurrently. Failures are reported on `err` and do not
/// stop the other PVs; the exit status is 1 if any failed.
pub async fn run_get<B: Backend>(
    args: &GetArgs,
    backend: &B,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    if args.list_types {
        let _ = out.write_all(list_types_text().as_bytes());
        return EXIT_OK;
    }
    let fmt = match LineFormat::get(args.mode(), args.values.data_format(), Zone::Local) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "caproto-get: error: --format: {e}");
            return EXIT_USAGE;
        }
    };
    let timeout = args.channel.timeout();
    let request = args.type_request();
    let enum_as_number = args.values.enum_as_number;
    let pick = move |native| match request {
        Some(r) => r.resolve(native),
        None => DbrType::plain(default_read_type(native, enum_as_number)),
    };
    let mut status = EXIT_OK;
    let mut bufs = LineBuffers::default();
    let names = &args.pv_names;
    let each = |i: usize, result: Result<_, ToolError>| {
        let pv = &names[i];
        match result {
            // Each reading is printed (a large array streamed in chunks) and
            // dropped before the next is awaited.
            Ok(reading) => match fmt.write_line(pv, &reading, Extras::default(), &mut bufs, out) {
                Ok(()) => {}
                Err(LineError::Io(_)) => return false, // stdout closed (e.g. piped into head)
                Err(LineError::Template(e)) => {
                    let _ = writeln!(err, "{pv}: {e}");
                    status = EXIT_FAILED;
                }
            },
            Err(e) => {
                let _ = writeln!(err, "{e}");
                status = EXIT_FAILED;
            }
        }
        true
    };
    backend
        .get_each(names, pick, args.values.count, timeout, each)
        .await;
    let _ = out.flush();
    status
}
