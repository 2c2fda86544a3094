//! The reactor: one actor that owns every socket and timer.
//!
//! Not built yet (see ARCHITECTURE.md, "Roadmap"): it will own listeners and
//! connections in a generation-checked slab, answer socket requests by
//! message, and enforce the host allow-list on every bind and connect. It
//! knows nothing of `lang`.
