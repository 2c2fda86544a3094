//! Property: no input script makes the compiler or the VM panic or hang.
//! Every input ends, within a bounded number of instructions, in a result,
//! a diagnostic, or a runtime error.

mod common;

use common::TestHost;
use proptest::prelude::*;
use rco_lang::{Outcome, Resume, Vm};
use std::sync::Arc;

/// Tokens scripts are made of: every word, literals, and syntax.
fn token() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "dup",
        "drop",
        "swap",
        "over",
        "rot",
        "nip",
        "tuck",
        "pick",
        "roll",
        "depth",
        "clear",
        "+",
        "-",
        "*",
        "/",
        "%",
        "negate",
        "abs",
        "min",
        "max",
        "clamp",
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "not",
        "and",
        "or",
        "assert",
        "assert_equals",
        "assert_ok",
        "nil?",
        "empty?",
        "ok?",
        "type",
        "inspect",
        "var",
        "set",
        "get",
        "array",
        "list",
        "map",
        "Set",
        "Array",
        "new",
        "range",
        "concat",
        "at",
        "has?",
        "take",
        "skip",
        "repeat",
        "split",
        "join",
        "index_of",
        "slice",
        "replace",
        "push",
        "put",
        "insert_at",
        "remove",
        "remove_at",
        "count",
        "length",
        "first",
        "last",
        "reverse",
        "trim",
        "uppercase",
        "lines",
        "chars",
        "keys",
        "values",
        "clear_items",
        "each",
        "transform",
        "select",
        "reduce",
        "find",
        "any?",
        "all?",
        "error?",
        "unwrap_or",
        "map_result",
        "and_then",
        "ok",
        "fail",
        "value",
        "error",
        "call",
        "to_integer",
        "to_float",
        "to_string",
        "json_encode",
        "json_decode",
        "print",
        "println",
        "read_line",
        "args",
        "random",
        "spawn",
        "await",
        "await_all",
        "tasks",
        "sleep",
        "if",
        "else",
        "end",
        "while",
        "break",
        "continue",
        "return",
        "function",
        "x",
        "y",
        "f",
        "$x",
        "$y",
        "nil",
        "true",
        "false",
        "[",
        "]",
        "(",
        ")",
        "->",
        "\n",
        "((c))",
        "id",
        "task_status",
        "result_envelope",
        "exit",
        "instance_of?",
        "class_of",
        "responds_to?",
    ]);
    prop_oneof![
        4 => words.prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (-3i64..20).prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => "[a-z,\\\\\" ]{0,6}".prop_map(|s| format!("{s:?}")),
        1 => "\\PC{0,4}",
    ]
}

fn run_script(source: &str) {
    let program = match rco_lang::compile("fuzz.rco", source) {
        Ok(p) => Arc::new(p),
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.span.start <= e.span.end && e.span.end as usize <= source.len(), "bad span {e:?}");
            }
            let _ = rco_lang::diagnostic::render_all("fuzz.rco", source, &errors);
            return;
        }
    };
    let _ = program.disassemble();
    let mut vm = Vm::new(program.clone());
    let mut host = TestHost::default();
    for _ in 0..200 {
        match vm.run(&mut host, 1_000) {
            Outcome::Yielded => continue,
            Outcome::Blocked(_) => {
                if let Err(f) = vm.resume(Resume::Done) {
                    let _ = f.render(&program);
                    return;
                }
            }
            Outcome::Failed(f) => {
                let _ = f.render(&program);
                return;
            }
            Outcome::Finished(_) | Outcome::Exited(_) => return,
            Outcome::Waiting => unreachable!("this host starts no effect"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_token_sequences_end_cleanly(tokens in prop::collection::vec(token(), 0..40)) {
        run_script(&tokens.join(" "));
    }

    #[test]
    fn random_bytes_end_cleanly(source in "\\PC{0,80}") {
        run_script(&source);
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    run_script(&"[ ".repeat(100_000));
    run_script(&"1 if ".repeat(100_000));
}

#[test]
fn infinite_recursion_hits_the_call_depth_limit() {
    let program = Arc::new(rco_lang::compile("r.rco", "f function f end\nf").expect("compiles"));
    let mut vm = Vm::new(program);
    let mut host = TestHost::default();
    loop {
        match vm.run(&mut host, 1_000_000) {
            Outcome::Yielded => continue,
            Outcome::Failed(f) => {
                assert!(f.error.message.starts_with("call depth limit exceeded"), "{}", f.error.message);
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
