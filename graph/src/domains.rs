//! The domains that plug into the extension points, one line each: adding a reacting
//! domain (messaging, calendar, dispatch) is one `register` call here.

use crate::extensions::Extensions;
use crate::state::GraphState;

/// The standard extensions: every domain's hooks, job handlers, periodic jobs and
/// inbound handlers.
pub fn extensions() -> Extensions<GraphState> {
    let mut ext = Extensions::default();
    crate::payments::register(&mut ext);
    crate::messaging::register(&mut ext);
    crate::calendar::register(&mut ext);
    crate::voice::register(&mut ext);
    ext
}
