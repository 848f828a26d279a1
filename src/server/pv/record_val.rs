//! A PV that is a database record's VAL: client writes handed to the
//! record undecoded, and a snapshot the record may let fall behind.
//!
//! A database record keeps its own VAL and processes on every write; going
//! through [`Pv::on_put_handled`] it would get each write as a freshly
//! decoded [`Value`](crate::proto::dbr::Value), allocated for one put and
//! freed by the next. Bound to its record ([`Pv::bound_to_record`]), the
//! channel gives the record the wire bytes instead (plain DBR type,
//! element count, payload), and the record decodes them straight into its
//! own storage. It may decline a write it cannot take that way (another
//! type, an array longer than VAL...): the write then takes the usual
//! path, decoded and given to the put hook.
//!
//! The binding is a concrete type, not a closure behind a pointer: catime's
//! "async put" sends these writes back to back, and a direct call lets the
//! circuit's write path and the record's put compile as one. The record
//! also keeps the snapshot up to date through it (see [`super::deferred`]).

use super::{Pv, PvHandle};
use crate::proto::dbr::DbrType;
use crate::server::db::ValBinding;
use crate::server::error::PutError;

impl Pv {
    /// Make this PV the VAL channel of the record `binding` names: client
    /// writes are offered to the record as wire bytes before they are
    /// decoded, and the record may let the snapshot fall behind while
    /// nobody watches (see the module documentation). Whatever it declines
    /// goes to the put hook as usual, so a PV bound to a record has one of
    /// those too.
    pub(crate) fn bound_to_record(mut self, binding: ValBinding) -> Pv {
        self.record = Some(binding);
        self
    }
}

impl PvHandle {
    /// A client's write of `count` elements of `data_type` given to the
    /// record the PV is bound to. `None`: not bound to a record, or the
    /// record declined (nothing was changed); decode the payload and put it
    /// the usual way.
    #[inline]
    pub(crate) fn client_write_plain(
        &self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        let record = self.record()?;
        if self.0.read_only {
            // The usual path refuses it.
            return None;
        }
        record.write(self, data_type, count, data)
    }

    /// The record the PV is bound to, if any.
    pub(super) fn record(&self) -> Option<&ValBinding> {
        self.0.record.as_ref()
    }
}
