//! Loops that never end. A constant-true `while` whose body cannot leave
//! (`break`, `return`, `raise`, an exit call) is the `infinite-loop`
//! heuristic. Such a loop that also swallows what stops a program —
//! `KeyboardInterrupt`, `SystemExit` or every exception (a bare `except`,
//! `except BaseException`, `continue` in a `finally`, `contextlib.suppress`
//! of them) — outlives the interrupt a runner or an operator sends: the
//! `swallowed-interrupt` heuristic. A loop that can leave is an ordinary
//! read-until-EOF loop, whatever it catches.

use super::Walker;
use crate::facts::{FactKind, Heuristic};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Expr, Stmt};

impl Walker<'_> {
    pub(super) fn infinite_loop(&mut self, w: &ast::StmtWhile) {
        let always = match fold(&w.test, &self.env) {
            Some(Value::Int(i)) => i != 0,
            Some(Value::Str(s)) => !s.is_empty(),
            _ => false,
        };
        if always && !exits(&w.body) {
            let pos = self.pos(w);
            self.push(FactKind::Heuristic(Heuristic::InfiniteLoop, 1), pos);
            if swallows(&w.body) {
                self.push(FactKind::Heuristic(Heuristic::SwallowedInterrupt, 1), pos);
            }
        }
    }
}

/// Exceptions whose handling keeps a program alive past an interrupt or exit.
const STOPPERS: [&str; 4] = [
    "BaseException",
    "KeyboardInterrupt",
    "SystemExit",
    "GeneratorExit",
];

/// Whether a loop body swallows a stopping exception (nested function and
/// class bodies are not the loop's).
fn swallows(body: &[Stmt]) -> bool {
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

/// Whether a loop body can leave: `break` (not inside a nested loop), `return`,
/// `raise`, or a call to `exit`/`quit`/`sys.exit`/`os._exit`.
fn exits(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Break(_) | Stmt::Return(_) | Stmt::Raise(_) => true,
        Stmt::If(i) => exits(&i.body) || exits(&i.orelse),
        Stmt::Try(t) => {
            exits(&t.body)
                || exits(&t.orelse)
                || exits(&t.finalbody)
                || t.handlers
                    .iter()
                    .any(|ast::ExceptHandler::ExceptHandler(h)| exits(&h.body))
        }
        Stmt::With(w) => exits(&w.body),
        Stmt::Match(m) => m.cases.iter().any(|c| exits(&c.body)),
        Stmt::For(f) => exits_without_break(&f.body),
        Stmt::While(w) => exits_without_break(&w.body),
        Stmt::Expr(e) => is_exit_call(&e.value),
        _ => false,
    })
}

/// Inside a nested loop only `return`, `raise` and exit calls leave the outer loop.
fn exits_without_break(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Return(_) | Stmt::Raise(_) => true,
        Stmt::If(i) => exits_without_break(&i.body) || exits_without_break(&i.orelse),
        Stmt::Expr(e) => is_exit_call(&e.value),
        _ => false,
    })
}

fn is_exit_call(e: &Expr) -> bool {
    let Expr::Call(c) = e else { return false };
    match c.func.as_ref() {
        Expr::Name(n) => matches!(n.id.as_str(), "exit" | "quit"),
        Expr::Attribute(a) => matches!(a.attr.as_str(), "exit" | "_exit"),
        _ => false,
    }
}
