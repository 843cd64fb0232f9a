//! Process plumbing: the clock, the low-priority pool for refresh work, memory release,
//! string interning and logging.

pub(crate) mod background;
pub(crate) mod clock;
pub(crate) mod intern;
pub(crate) mod logging;
pub(crate) mod memory;
