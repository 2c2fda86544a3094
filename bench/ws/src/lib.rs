//! Code shared by bench/ws's programs.
pub mod tls;
