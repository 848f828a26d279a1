//! How the tools print: values and whole lines in caproto's (and caget's)
//! formats, numbers as C's printf and Python's repr write them, timestamps,
//! caproto's `--format` templates, and CA status names. Pure functions of
//! what was read; nothing here talks to the network.

pub mod camonitor;
pub mod eca;
pub mod format;
mod gfmt;
pub mod info;
pub mod npfmt;
pub mod numfmt;
pub mod template;
pub mod timefmt;
