//! Interned names (`Symbol`) for variables and functions.
//!
//! Owns the process-wide name table. Invariants: a `Symbol` is a dense index
//! (0, 1, 2, ...) so binding tables can be plain vectors indexed by it; a name
//! is interned once and never removed, so `Symbol::as_str` is `'static`.
//! Reads that must not grow the table (a dynamic `"x" get` of a name nobody
//! declared) use `Symbol::lookup`, so a script cannot grow it by reading.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// An interned name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Symbol(u32);

#[derive(Default)]
struct Interner {
    ids: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

fn table() -> &'static RwLock<Interner> {
    static TABLE: OnceLock<RwLock<Interner>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Symbol {
    /// Interns `name`, returning its symbol.
    pub fn intern(name: &str) -> Symbol {
        if let Some(sym) = Symbol::lookup(name) {
            return sym;
        }
        let mut t = table().write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = t.ids.get(name) {
            return Symbol(id);
        }
        let id = u32::try_from(t.names.len()).unwrap_or(u32::MAX);
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        t.names.push(leaked);
        t.ids.insert(leaked, id);
        Symbol(id)
    }

    /// The symbol of `name` if it was ever interned.
    pub fn lookup(name: &str) -> Option<Symbol> {
        let t = table().read().unwrap_or_else(|e| e.into_inner());
        t.ids.get(name).map(|&id| Symbol(id))
    }

    /// The name this symbol stands for.
    pub fn as_str(self) -> &'static str {
        let t = table().read().unwrap_or_else(|e| e.into_inner());
        t.names.get(self.0 as usize).copied().unwrap_or("")
    }

    /// The symbol at `index` of a symbol-indexed table.
    pub fn from_index(index: usize) -> Symbol {
        Symbol(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// Dense index, for symbol-indexed tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
