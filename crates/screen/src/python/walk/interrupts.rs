//! Loops that fight the runner's limits by surviving what stops a program:
//! a loop that never exits and swallows `KeyboardInterrupt`, `SystemExit` or
//! every exception (a bare `except`, `except BaseException`, `continue` in a
//! `finally`, `contextlib.suppress` of them) outlives the interrupt a runner
//! or an operator sends. A loop that can leave (`break`, `return`, an exit
//! call) is an ordinary read-until-EOF loop, whatever it catches.

use rustpython_parser::ast::{self, Expr, Stmt};

/// Exceptions whose handling keeps a program alive past an interrupt or exit.
const STOPPERS: [&str; 4] = [
    "BaseException",
    "KeyboardInterrupt",
    "SystemExit",
    "GeneratorExit",
];

/// Whether a loop body swallows a stopping exception (nested function and
/// class bodies are not the loop's).
pub(super) fn swallows(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Try(t) => {
            try_swallows(&t.handlers, &t.finalbody) || swallows(&t.body) || swallows(&t.orelse)
        }
        Stmt::TryStar(t) => {
            try_swallows(&t.handlers, &t.finalbody) || swallows(&t.body) || swallows(&t.orelse)
        }
        Stmt::With(w) => w.items.iter().any(|i| suppresses(&i.context_expr)) || swallows(&w.body),
        Stmt::If(i) => swallows(&i.body) || swallows(&i.orelse),
        Stmt::For(f) => swallows(&f.body),
        Stmt::While(w) => swallows(&w.body),
        _ => false,
    })
}

fn try_swallows(handlers: &[ast::ExceptHandler], finalbody: &[Stmt]) -> bool {
    let handler = handlers.iter().any(|ast::ExceptHandler::ExceptHandler(h)| {
        let catches = h.type_.as_deref().is_none_or(names_stopper);
        catches && !h.body.iter().any(|s| matches!(s, Stmt::Raise(_)))
    });
    // `continue` in `finally` drops the exception in flight.
    handler || finalbody.iter().any(|s| matches!(s, Stmt::Continue(_)))
}

/// `contextlib.suppress(KeyboardInterrupt, …)` (any spelling of `suppress`).
fn suppresses(e: &Expr) -> bool {
    let Expr::Call(c) = e else { return false };
    let is_suppress = match c.func.as_ref() {
        Expr::Name(n) => n.id.as_str() == "suppress",
        Expr::Attribute(a) => a.attr.as_str() == "suppress",
        _ => false,
    };
    is_suppress && c.args.iter().any(names_stopper)
}

/// `KeyboardInterrupt`, `builtins.SystemExit`, or a tuple holding one.
fn names_stopper(e: &Expr) -> bool {
    match e {
        Expr::Name(n) => STOPPERS.contains(&n.id.as_str()),
        Expr::Attribute(a) => STOPPERS.contains(&a.attr.as_str()),
        Expr::Tuple(t) => t.elts.iter().any(names_stopper),
        _ => false,
    }
}
