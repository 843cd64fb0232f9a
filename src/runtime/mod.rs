//! Process plumbing: the clock, the low-priority pool for refresh work, memory release,
//! string interning and logging.

pub mod background;
pub mod clock;
pub mod intern;
pub mod logging;
pub mod memory;
