//! The glue runtime: wires the language (`rco-lang`), the actor scheduler
//! (`rco-actors`) and the reactor (`rco-reactor`), which know nothing of
//! one another.
//!
//! Every Ricochet task, the main program included, is an actor that runs
//! its VM slice by slice; an effect the VM cannot perform alone (`await`,
//! `sleep`, `read_line`, a socket request) parks the actor until its answer
//! arrives as a message.

mod allocator;
pub mod capabilities;
mod output;
pub mod runtime;
mod send;
mod sockets;
mod stdin;
mod task_table;
#[cfg(feature = "test-hooks")]
mod test_hooks;

pub use allocator::MiMalloc;
