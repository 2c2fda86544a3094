//! `Word`: the built-in vocabulary, with every spelling that names it.
//!
//! Invariants: each spelling maps to exactly one `Word`; a word is either in
//! the fixed table (resolved at compile time, cannot be shadowed by a user
//! function) or a receiver method (resolved at run time after user
//! functions, and only when the value on top of the stack supports it,
//! REFERENCE-LANGUAGE §6.2-6.3). Error messages name the word as the program
//! spelled it, so spellings are never normalised here.

macro_rules! words {
    ($( $variant:ident $kind:ident [$($spelling:literal),+] ),+ $(,)?) => {
        /// A built-in word.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
        pub enum Word { $($variant),+ }

        impl Word {
            /// The word a spelling names, if any.
            pub fn from_name(name: &str) -> Option<Word> {
                match name {
                    $($($spelling)|+ => Some(Word::$variant),)+
                    _ => None,
                }
            }

            /// The primary spelling (for the disassembler).
            pub fn name(self) -> &'static str {
                match self {
                    $(Word::$variant => words!(@first $($spelling),+),)+
                }
            }

            /// Whether this word dispatches on the receiver on top of the stack.
            pub fn is_method(self) -> bool {
                match self {
                    $(Word::$variant => words!(@method $kind),)+
                }
            }
        }
    };
    (@first $first:literal $(, $rest:literal)*) => { $first };
    (@method fixed) => { false };
    (@method method) => { true };
}

words! {
    // stack
    Dup fixed ["dup"], Drop fixed ["drop"], Swap fixed ["swap"], Over fixed ["over"],
    Rot fixed ["rot"], Nip fixed ["nip"], Tuck fixed ["tuck"], Pick fixed ["pick"],
    Roll fixed ["roll"], Depth fixed ["depth"], Clear fixed ["clear"],
    // arithmetic
    Add fixed ["+", "add"], Sub fixed ["-", "subtract"], Mul fixed ["*", "multiply"],
    Div fixed ["/", "divide"], Mod fixed ["%", "modulo"], Negate fixed ["negate"],
    Abs fixed ["abs"], Min fixed ["min"], Max fixed ["max"], Clamp fixed ["clamp"],
    // comparison and logic
    Eq fixed ["=", "equals"], Ne fixed ["!=", "not_equals?"], Lt fixed ["<", "less_than?"],
    Gt fixed [">", "greater_than?"], Le fixed ["<=", "less_or_equals?"],
    Ge fixed [">=", "greater_or_equals?"], Not fixed ["not"], And fixed ["and"], Or fixed ["or"],
    // assertions
    Assert fixed ["assert"], AssertTrue fixed ["assert_true"], AssertFalse fixed ["assert_false"],
    AssertEquals fixed ["assert_equals"], AssertOk fixed ["assert_ok"], AssertError fixed ["assert_error"],
    // predicates and introspection
    IsNil fixed ["nil?"], IsEmpty fixed ["empty?"], IsOk fixed ["ok?"], IsCallable fixed ["callable?"],
    Type fixed ["type"], ClassOf fixed ["class_of"], InstanceOf fixed ["instance_of?"],
    RespondsTo fixed ["responds_to?"], Inspect fixed ["inspect"], Debug fixed ["debug"],
    // bindings and construction
    Var fixed ["var"], Set fixed ["set"], Get fixed ["get"], ArrayW fixed ["array", "Array"],
    ListW fixed ["list", "List"], MapW fixed ["map", "Map"], SetW fixed ["Set"], New fixed ["new"],
    Range fixed ["range"],
    // receiver-first table words
    Concat fixed ["concat"], At fixed ["at"], Has fixed ["has?"], Contains fixed ["contains?"],
    Take fixed ["take"], Skip fixed ["skip"], Repeat fixed ["repeat"], Split fixed ["split"],
    Join fixed ["join"], IndexOf fixed ["index_of"], LastIndexOf fixed ["last_index_of"],
    StartsWith fixed ["starts_with?"], EndsWith fixed ["ends_with?"], Remove fixed ["remove", "remove!"],
    RemoveAt fixed ["remove_at", "remove_at!"], Slice fixed ["slice"], Replace fixed ["replace"],
    InsertAt fixed ["insert_at", "insert!"], Push fixed ["push", "push!"], Put fixed ["put", "put!"],
    // receiver methods
    Length method ["length"], Count method ["count"], First method ["first"], Last method ["last"],
    Reverse method ["reverse"], IsBlank method ["blank?"], Trim method ["trim"],
    TrimStart method ["trim_start"], TrimEnd method ["trim_end"], Uppercase method ["uppercase"],
    Lowercase method ["lowercase"], Lines method ["lines"], Chars method ["chars"], Keys method ["keys"],
    Values method ["values"], ClearItems method ["clear_items", "clear!"], Each method ["each"],
    Transform method ["transform"], Select method ["select"], Reduce method ["reduce"],
    Find method ["find"], Any method ["any?"], All method ["all?"], IsError method ["error?"],
    UnwrapOr method ["unwrap_or"], MapResult method ["map_result"], AndThen method ["and_then"],
    TaskId method ["id"], TaskInfo method ["info"], TaskStatus method ["task_status"],
    IsPending method ["pending?"], IsRunning method ["running?"], IsCompleted method ["completed?"],
    IsFailed method ["failed?"],
    // results
    OkW fixed ["ok"], Fail fixed ["fail"], ValueW fixed ["value"], ErrorW fixed ["error"],
    ResultEnvelope fixed ["result_envelope"],
    // control
    Call fixed ["call"], Exit fixed ["exit"],
    // conversions and JSON
    ToInteger fixed ["to_integer", "to_number", "to_bigint"], ToInt fixed ["to_int"],
    ToSmallint fixed ["to_smallint"], ToTinyint fixed ["to_tinyint"], ToMediumint fixed ["to_mediumint"],
    ToUnsignedInt fixed ["to_unsigned_int"], ToUnsignedSmallint fixed ["to_unsigned_smallint"],
    ToUnsignedTinyint fixed ["to_unsigned_tinyint"], ToUnsignedMediumint fixed ["to_unsigned_mediumint"],
    ToUnsignedBigint fixed ["to_unsigned_bigint"], ToBit fixed ["to_bit"],
    ToFloat fixed ["to_float", "to_float64", "to_double", "to_real"], ToFloat32 fixed ["to_float32"],
    ToString fixed ["to_string"], JsonEncode fixed ["json_encode"], JsonDecode fixed ["json_decode"],
    // input, output, environment
    Print fixed ["print"], Println fixed ["println"], Eprint fixed ["eprint"], ReadLine fixed ["read_line"],
    Args fixed ["args"], Sleep fixed ["sleep"], Random fixed ["random"], Now fixed ["now", "timestamp_now"],
    RuntimeCapabilities fixed ["runtime_capabilities"],
    // tasks
    Spawn fixed ["spawn"], Await fixed ["await"], AwaitAll fixed ["await_all"],
    ReleaseTask fixed ["release_task"], Tasks fixed ["tasks"],
    // TCP sockets
    TcpListen fixed ["tcp_listen"], TcpListeners fixed ["tcp_listeners"], TcpListener fixed ["tcp_listener"],
    TcpAccept fixed ["tcp_accept"], TcpListenerClose fixed ["tcp_listener_close"],
    TcpListenerRelease fixed ["tcp_listener_release"], TcpConnect fixed ["tcp_connect"],
    TcpConnections fixed ["tcp_connections"], TcpConnection fixed ["tcp_connection"], TcpWrite fixed ["tcp_write"],
    TcpRead fixed ["tcp_read"], TcpClose fixed ["tcp_close"], TcpRelease fixed ["tcp_release"],
    // WebSockets
    WsListen fixed ["ws_listen"], WsListeners fixed ["ws_listeners"], WsListener fixed ["ws_listener"],
    WsAccept fixed ["ws_accept"], WsListenerClose fixed ["ws_listener_close"],
    WsListenerRelease fixed ["ws_listener_release"], WsConnect fixed ["ws_connect"],
    WsConnections fixed ["ws_connections"], WsConnection fixed ["ws_connection"], WsSend fixed ["ws_send"],
    WsRead fixed ["ws_read"], WsClose fixed ["ws_close"], WsRelease fixed ["ws_release"],
}

impl Word {
    /// Whether this is one of the 26 socket words (behind the socket gate).
    pub fn is_socket(self) -> bool {
        use Word::*;
        matches!(
            self,
            TcpListen
                | TcpListeners
                | TcpListener
                | TcpAccept
                | TcpListenerClose
                | TcpListenerRelease
                | TcpConnect
                | TcpConnections
                | TcpConnection
                | TcpWrite
                | TcpRead
                | TcpClose
                | TcpRelease
                | WsListen
                | WsListeners
                | WsListener
                | WsAccept
                | WsListenerClose
                | WsListenerRelease
                | WsConnect
                | WsConnections
                | WsConnection
                | WsSend
                | WsRead
                | WsClose
                | WsRelease
        )
    }
}

/// The words that turn the bare word before them into a name
/// (REFERENCE-LANGUAGE §2.6).
pub fn is_pairing_word(name: &str) -> bool {
    matches!(name, "get" | "set" | "var" | "array" | "list" | "map" | "Array" | "List" | "Map" | "Set")
}
