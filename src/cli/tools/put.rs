//! What caproto-put does once its arguments are parsed: read, write, read
//! back, and print the old and new values.

use std::io::Write;

use crate::cli::args::put::PutArgs;
use crate::cli::args::put_value::{parse_data, to_value, ParseMode};
use crate::cli::output::format::{Extras, LineFormat};
use crate::cli::output::timefmt::Zone;
use crate::cli::tools::backend::{default_read_type, Backend, ToolChannel, ToolError};
use crate::cli::tools::get::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::proto::dbr::{DbrClass, DbrType};

/// Write DATA to the PV and print `Old : ...` / `New : ...` (or the chosen
/// mode's lines). Exit status 1 on any failure, 2 for unusable DATA/--format.
pub async fn run_put<B: Backend>(
    args: &PutArgs,
    backend: &B,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let fmt = match LineFormat::put(args.mode(), Zone::Local) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "caproto-put: error: --format: {e}");
            return EXIT_USAGE;
        }
    };
    let raw = match args.data_file() {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "caproto-put: error: cannot read {}: {e}",
                    path.display()
                );
                return EXIT_USAGE;
            }
        },
        None => match args.data_text() {
            Ok(text) => text,
            Err(e) => {
                let _ = writeln!(err, "caproto-put: error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let mode = ParseMode {
        array: args.array,
        as_string: args.as_string,
        force_string: args.force_string,
        pad_to: args.array_pad,
    };
    let data = match parse_data(&raw, mode) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "caproto-put: error: {e}");
            return EXIT_USAGE;
        }
    };
    match put_and_read_back(args, backend, &data).await {
        Ok((old, new)) => {
            let n = old.reading.value.len();
            for (which, reading) in [("Old", &old), ("New", &new)] {
                let extras = Extras {
                    which: Some(which),
                    ..Extras::default()
                };
                match fmt.line_with_len(&args.pv_name, reading, extras, n) {
                    Ok(line) => {
                        let _ = writeln!(out, "{line}");
                    }
                    Err(e) => {
                        let _ = writeln!(err, "{}: {e}", args.pv_name);
                        return EXIT_FAILED;
                    }
                }
            }
            let _ = out.flush();
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            EXIT_FAILED
        }
    }
}

async fn put_and_read_back<B: Backend>(
    args: &PutArgs,
    backend: &B,
    data: &crate::cli::args::put_value::PutData,
) -> Result<
    (
        crate::cli::output::format::Response,
        crate::cli::output::format::Response,
    ),
    ToolError,
> {
    let timeout = args.channel.timeout();
    let names = [args.pv_name.clone()];
    let ch = backend
        .connect(&names, timeout)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            Err(ToolError::NotFound {
                pv: args.pv_name.clone(),
            })
        })?;
    let native = ch.native_type();
    let read_type = if args.wide {
        // As caproto: a class request reads enums as numbers.
        DbrType::Value(DbrClass::Time, native)
    } else {
        DbrType::plain(default_read_type(native, args.enum_as_number))
    };
    let value = to_value(data, native).map_err(|reason| ToolError::BadValue {
        pv: args.pv_name.clone(),
        reason,
    })?;
    let old = backend.get(&ch, read_type, None, timeout).await?;
    backend.put(&ch, &value, args.notify, timeout).await?;
    let new = backend.get(&ch, read_type, None, timeout).await?;
    Ok((old, new))
}
