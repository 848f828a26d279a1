//! Client writes handed to a PV's owner undecoded.
//!
//! A database record keeps its own VAL and processes on every write; going
//! through [`Pv::on_put_handled`] it would get each write as a freshly
//! decoded [`Value`], allocated for one put and freed by the next. A
//! plain-write hook gets the wire bytes instead (plain DBR type, element
//! count, payload) and decodes them straight into the record's storage.
//! It may decline a write it cannot take that way (another type, an array
//! longer than VAL...): the write then takes the usual path, decoded and
//! given to the put hook.

use std::sync::Arc;

use super::{Pv, PvHandle};
use crate::proto::dbr::DbrType;
use crate::server::error::PutError;

/// See the module documentation: `None` declines the write.
pub(super) type PlainWriteHook =
    dyn Fn(&PvHandle, DbrType, u32, &[u8]) -> Option<Result<(), PutError>> + Send + Sync;

impl Pv {
    /// Offer client writes to `hook` as wire bytes before they are decoded
    /// (see the module documentation), with the PV written (so that a hook
    /// need not hold the PV it posts to). Whatever it declines (`None`) goes
    /// to the put hook as usual, so a PV with this hook has one of those too.
    pub(crate) fn on_plain_write(
        mut self,
        hook: impl Fn(&PvHandle, DbrType, u32, &[u8]) -> Option<Result<(), PutError>>
            + Send
            + Sync
            + 'static,
    ) -> Pv {
        self.plain_write = Some(Arc::new(hook));
        self
    }
}

impl PvHandle {
    /// A client's write of `count` elements of `data_type` given to the
    /// PV's plain-write hook. `None`: no hook, or it declined (nothing was
    /// changed); decode the payload and put it the usual way.
    pub(crate) fn client_write_plain(
        &self,
        data_type: DbrType,
        count: u32,
        data: &[u8],
    ) -> Option<Result<(), PutError>> {
        let hook = self.0.plain_write.as_ref()?;
        if self.0.read_only {
            // The usual path refuses it.
            return None;
        }
        hook(self, data_type, count, data)
    }
}
