//! `Word`: the built-in vocabulary, one table (`words!` below) with every
//! word's entry: its spellings, its arity, its handler and, for a receiver
//! method, the receivers it accepts, grouped by domain (one module of
//! handlers per domain under `words/`).
//!
//! Invariants: each spelling maps to exactly one `Word`; a word is either in
//! the fixed table (resolved at compile time, cannot be shadowed by a user
//! function) or a receiver method (resolved at run time after user
//! functions, and only when the value on top of the stack supports it,
//! REFERENCE-LANGUAGE §6.2-6.3). Error messages name the word as the program
//! spelled it, so spellings are never normalised here. `ENTRIES` is in the
//! order of `Word`'s variants (both are made by the macro), and whatever
//! is known of a word (its arity, whether it is a method or a socket
//! word...) is read from its entry, never listed elsewhere.

use crate::words::{Handler, Receiver};

/// A word's entry in the table.
pub(crate) struct Entry {
    /// The primary spelling (the disassembler's, and the name of a block's
    /// runner in diagnostics).
    pub name: &'static str,
    /// How many values the word needs on the stack; with fewer it fails
    /// with `stack underflow in WORD: needed N, available M` before its
    /// handler runs (`Vm::exec_word`).
    pub arity: usize,
    pub domain: Domain,
    /// A receiver method's test of the stack: whether what is on top is a
    /// receiver it accepts (`Vm::supports`). `None` for a fixed word.
    pub receiver: Option<Receiver>,
    /// What the word does (in the module of its domain).
    pub handler: Handler,
    /// Whether running the word can look at the bindings of the code that
    /// runs it: it names a binding at run time (`var set get`), runs a
    /// block, or copies every visible binding (`spawn`). Marked `(sees)` in
    /// the table.
    pub sees_bindings: bool,
}

/// The table. A domain is written `Domain in module { ... }`: its words'
/// handlers are in `words/module.rs`. A word is written
/// `Variant [spellings] arity handler`, and a receiver method adds
/// `on test`, a test of `words::receiver`; a word that can look at the
/// bindings of the code running it ends with `(sees)`.
macro_rules! words {
    ($(
        $(#[$doc:meta])*
        $domain:ident in $module:ident {
            $($variant:ident [$($spelling:literal),+] $arity:literal $handler:ident $(on $receiver:ident)? $(($sees:ident))?),+ $(,)?
        }
    )+) => {
        /// The domains of the built-in words.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum Domain {
            $($(#[$doc])* $domain),+
        }

        /// A built-in word.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
        pub enum Word { $($($variant),+),+ }

        /// The entries of the words, in the order of `Word`'s variants.
        static ENTRIES: [Entry; [$($(Word::$variant),+),+].len()] = [$($(
            Entry {
                name: words!(@first $($spelling),+),
                arity: $arity,
                domain: Domain::$domain,
                receiver: words!(@receiver $($receiver)?),
                handler: crate::words::$module::$handler,
                sees_bindings: words!(@sees $($sees)?),
            }
        ),+),+];

        impl Word {
            /// The word a spelling names, if any.
            pub fn from_name(name: &str) -> Option<Word> {
                match name {
                    $($($($spelling)|+ => Some(Word::$variant),)+)+
                    _ => None,
                }
            }
        }
    };
    (@first $first:literal $(, $rest:literal)*) => { $first };
    (@receiver) => { None };
    (@receiver $receiver:ident) => { Some(crate::words::receiver::$receiver) };
    (@sees) => { false };
    (@sees sees) => { true };
}

words! {
    /// Stack shuffles (§7.1).
    Stack in stack {
        Dup ["dup"] 1 dup,
        Drop ["drop"] 1 drop,
        Swap ["swap"] 2 swap,
        Over ["over"] 2 over,
        Rot ["rot"] 3 rot,
        Nip ["nip"] 2 nip,
        Tuck ["tuck"] 2 tuck,
        Pick ["pick"] 1 pick,
        Roll ["roll"] 1 roll,
        Depth ["depth"] 0 depth,
        Clear ["clear"] 0 clear,
    }
    /// Arithmetic, comparison and logic (§7.2-7.3).
    Arithmetic in arith {
        Add ["+", "add"] 2 arithmetic,
        Sub ["-", "subtract"] 2 arithmetic,
        Mul ["*", "multiply"] 2 arithmetic,
        Div ["/", "divide"] 2 arithmetic,
        Mod ["%", "modulo"] 2 arithmetic,
        Negate ["negate"] 1 negate_or_abs,
        Abs ["abs"] 1 negate_or_abs,
        Min ["min"] 2 min_or_max,
        Max ["max"] 2 min_or_max,
        Clamp ["clamp"] 3 clamp,
        Eq ["=", "equals"] 2 equality,
        Ne ["!=", "not_equals?"] 2 equality,
        Lt ["<", "less_than?"] 2 order,
        Gt [">", "greater_than?"] 2 order,
        Le ["<=", "less_or_equals?"] 2 order,
        Ge [">=", "greater_or_equals?"] 2 order,
        Not ["not"] 1 not,
        And ["and"] 2 and_or,
        Or ["or"] 2 and_or,
    }
    /// Assertions, predicates and introspection (§7.4-7.5).
    Introspection in introspect {
        Assert ["assert"] 1 assert,
        AssertTrue ["assert_true"] 1 assert_bool,
        AssertFalse ["assert_false"] 1 assert_bool,
        AssertEquals ["assert_equals"] 2 assert_equals,
        AssertOk ["assert_ok"] 1 assert_result,
        AssertError ["assert_error"] 1 assert_result,
        IsNil ["nil?"] 1 is_nil,
        IsCallable ["callable?"] 1 is_callable,
        Type ["type"] 1 type_name,
        ClassOf ["class_of"] 1 class_of,
        InstanceOf ["instance_of?"] 2 instance_of,
        RespondsTo ["responds_to?"] 2 responds_to,
        Inspect ["inspect"] 1 inspect,
        Debug ["debug"] 1 debug,
    }
    /// Bindings named at run time, calls and exit (§4.2, §7.9).
    Control in control {
        Var ["var"] 1 var (sees),
        Set ["set"] 2 set (sees),
        Get ["get"] 1 get (sees),
        Call ["call"] 1 call (sees),
        Exit ["exit"] 1 exit,
    }
    /// Collections, and the words that take a string as a sequence of
    /// characters (§7.7).
    Collections in collections {
        ArrayW ["array", "Array"] 0 make,
        ListW ["list", "List"] 0 make,
        MapW ["map", "Map"] 0 make,
        SetW ["Set"] 0 make,
        New ["new"] 1 new,
        Range ["range"] 2 range,
        IsEmpty ["empty?"] 1 is_empty,
        At ["at"] 2 at,
        Has ["has?"] 2 has,
        Contains ["contains?"] 2 has,
        Take ["take"] 2 take_or_skip,
        Skip ["skip"] 2 take_or_skip,
        Slice ["slice"] 3 slice,
        Push ["push", "push!"] 2 push,
        Put ["put", "put!"] 3 put,
        InsertAt ["insert_at", "insert!"] 3 insert_at,
        Remove ["remove", "remove!"] 2 remove,
        RemoveAt ["remove_at", "remove_at!"] 2 remove_at,
        Count ["count"] 1 count on string_or_collection,
        First ["first"] 1 first_or_last on string_or_sequence,
        Last ["last"] 1 first_or_last on string_or_sequence,
        Reverse ["reverse"] 1 reverse on string_or_sequence,
        Keys ["keys"] 1 keys_or_values on map,
        Values ["values"] 1 keys_or_values on map,
        ClearItems ["clear_items", "clear!"] 1 clear_items on collection,
        Each ["each"] 2 higher_order on collection_or_block (sees),
        Transform ["transform"] 2 higher_order on collection_or_block (sees),
        Select ["select"] 2 higher_order on collection_or_block (sees),
        Reduce ["reduce"] 3 higher_order on sequence_or_block (sees),
        Find ["find"] 2 higher_order on collection_or_block (sees),
        Any ["any?"] 2 higher_order on collection_or_block (sees),
        All ["all?"] 2 higher_order on collection_or_block (sees),
    }
    /// Strings (§7.6).
    Strings in strings {
        Concat ["concat"] 2 concat,
        Repeat ["repeat"] 2 repeat,
        Split ["split"] 2 split,
        Join ["join"] 2 join,
        IndexOf ["index_of"] 2 index_of,
        LastIndexOf ["last_index_of"] 2 index_of,
        StartsWith ["starts_with?"] 2 affix,
        EndsWith ["ends_with?"] 2 affix,
        Replace ["replace"] 3 replace,
        Length ["length"] 1 length on string,
        IsBlank ["blank?"] 1 text on string,
        Trim ["trim"] 1 text on string,
        TrimStart ["trim_start"] 1 text on string,
        TrimEnd ["trim_end"] 1 text on string,
        Uppercase ["uppercase"] 1 text on string,
        Lowercase ["lowercase"] 1 text on string,
        Lines ["lines"] 1 text on string,
        Chars ["chars"] 1 text on string,
    }
    /// Results (§7.8).
    Results in results {
        OkW ["ok"] 1 ok,
        Fail ["fail"] 2 fail,
        IsOk ["ok?"] 1 is_ok,
        ValueW ["value"] 1 unwrap,
        ErrorW ["error"] 1 unwrap,
        ResultEnvelope ["result_envelope"] 2 result_envelope,
        IsError ["error?"] 1 is_error on result,
        UnwrapOr ["unwrap_or"] 2 unwrap_or on result,
        MapResult ["map_result"] 2 map_result on result_or_block (sees),
        AndThen ["and_then"] 2 map_result on result_or_block (sees),
    }
    /// Conversions and JSON (§7.10).
    Conversions in convert {
        ToInteger ["to_integer", "to_number", "to_bigint"] 1 to_integer,
        ToInt ["to_int"] 1 to_integer,
        ToSmallint ["to_smallint"] 1 to_integer,
        ToTinyint ["to_tinyint"] 1 to_integer,
        ToMediumint ["to_mediumint"] 1 to_integer,
        ToUnsignedInt ["to_unsigned_int"] 1 to_integer,
        ToUnsignedSmallint ["to_unsigned_smallint"] 1 to_integer,
        ToUnsignedTinyint ["to_unsigned_tinyint"] 1 to_integer,
        ToUnsignedMediumint ["to_unsigned_mediumint"] 1 to_integer,
        ToUnsignedBigint ["to_unsigned_bigint"] 1 to_integer,
        ToBit ["to_bit"] 1 to_integer,
        ToFloat ["to_float", "to_float64", "to_double", "to_real"] 1 to_float,
        ToFloat32 ["to_float32"] 1 to_float,
        ToString ["to_string"] 1 to_string,
        JsonEncode ["json_encode"] 1 json_encode,
        JsonDecode ["json_decode"] 1 json_decode,
    }
    /// Input, output and the environment (§7.11).
    Io in io {
        Print ["print"] 1 print,
        Println ["println"] 1 print,
        Eprint ["eprint"] 1 print,
        ReadLine ["read_line"] 0 read_line,
        Args ["args"] 0 args,
        Sleep ["sleep"] 1 sleep,
        Random ["random"] 1 random,
        Now ["now", "timestamp_now"] 0 now,
        RuntimeCapabilities ["runtime_capabilities"] 0 runtime_capabilities,
    }
    /// Tasks (§8.1).
    Tasks in tasks {
        Spawn ["spawn"] 1 spawn (sees),
        Await ["await"] 1 await_task,
        AwaitAll ["await_all"] 1 await_all,
        ReleaseTask ["release_task"] 1 release_task,
        Tasks ["tasks"] 0 tasks,
        TaskId ["id"] 1 task_query on task,
        TaskInfo ["info"] 1 task_query on task,
        TaskStatus ["task_status"] 1 task_query on task,
        IsPending ["pending?"] 1 task_query on task,
        IsRunning ["running?"] 1 task_query on task,
        IsCompleted ["completed?"] 1 task_query on task,
        IsFailed ["failed?"] 1 task_query on task,
    }
    /// TCP and WebSocket sockets (REFERENCE-SOCKETS), behind the socket
    /// gate, which `Vm::exec_word` checks before the arity.
    Sockets in sockets {
        TcpListen ["tcp_listen"] 3 tcp_listen,
        TcpListeners ["tcp_listeners"] 0 tcp_listeners,
        TcpListener ["tcp_listener"] 1 tcp_listener,
        TcpAccept ["tcp_accept"] 2 tcp_accept,
        TcpListenerClose ["tcp_listener_close"] 1 tcp_listener_close,
        TcpListenerRelease ["tcp_listener_release"] 1 tcp_listener_release,
        TcpConnect ["tcp_connect"] 3 tcp_connect,
        TcpConnections ["tcp_connections"] 0 tcp_connections,
        TcpConnection ["tcp_connection"] 1 tcp_connection,
        TcpWrite ["tcp_write"] 2 tcp_write,
        TcpRead ["tcp_read"] 2 tcp_read,
        TcpClose ["tcp_close"] 1 tcp_close,
        TcpRelease ["tcp_release"] 1 tcp_release,
        WsListen ["ws_listen"] 3 ws_listen,
        WsListeners ["ws_listeners"] 0 ws_listeners,
        WsListener ["ws_listener"] 1 ws_listener,
        WsAccept ["ws_accept"] 2 ws_accept,
        WsListenerClose ["ws_listener_close"] 1 ws_listener_close,
        WsListenerRelease ["ws_listener_release"] 1 ws_listener_release,
        WsConnect ["ws_connect"] 2 ws_connect,
        WsConnections ["ws_connections"] 0 ws_connections,
        WsConnection ["ws_connection"] 1 ws_connection,
        WsSend ["ws_send"] 2 ws_send,
        WsRead ["ws_read"] 2 ws_read,
        WsClose ["ws_close"] 1 ws_close,
        WsRelease ["ws_release"] 1 ws_release,
    }
}

impl Word {
    /// The word's entry in the table.
    #[inline]
    pub(crate) fn entry(self) -> &'static Entry {
        &ENTRIES[self as usize]
    }

    /// The primary spelling (for the disassembler).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Whether this word dispatches on the receiver on top of the stack.
    pub fn is_method(self) -> bool {
        self.entry().receiver.is_some()
    }

    /// The domain the word belongs to.
    pub fn domain(self) -> Domain {
        self.entry().domain
    }

    /// Whether this is a socket word (behind the socket gate).
    pub fn is_socket(self) -> bool {
        self.domain() == Domain::Sockets
    }

    /// Whether running the word can look at the bindings of the code that
    /// runs it (see `Entry::sees_bindings`).
    pub fn sees_bindings(self) -> bool {
        self.entry().sees_bindings
    }

    /// Whether the word acts outside its task: output, input, time,
    /// randomness, arguments, tasks, sockets and `exit` (a run ahead stops
    /// before it, see `Host::ahead`).
    pub fn acts_outside(self) -> bool {
        matches!(self.domain(), Domain::Io | Domain::Tasks | Domain::Sockets) || self == Word::Exit
    }
}

/// The words that turn the bare word before them into a name
/// (REFERENCE-LANGUAGE §2.6).
pub fn is_pairing_word(name: &str) -> bool {
    matches!(name, "get" | "set" | "var" | "array" | "list" | "map" | "Array" | "List" | "Map" | "Set")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entry is its variant's, and its primary spelling names it.
    #[test]
    fn the_table_is_in_variant_order() {
        for (i, entry) in ENTRIES.iter().enumerate() {
            let word = Word::from_name(entry.name).expect("a primary spelling names a word");
            assert_eq!(word as usize, i, "{}", entry.name);
        }
        assert_eq!(ENTRIES.iter().filter(|e| e.domain == Domain::Sockets).count(), 26);
    }
}
