//! Call heuristics: what a call's arguments say beyond its name — imports
//! and attribute names given as strings, `open` modes and paths, `range`
//! bounds, repetitions that build huge sequences, modules rendered as text.

use super::{ATTR_FUNCS, IMPORTERS, MODULE_PATH, RENDERERS, Walker};
use crate::facts::{FactKind, Heuristic, Pos};
use crate::python::fold::{Value, fold};
use rustpython_parser::ast::{self, Constant, Expr, Operator};

impl Walker<'_> {
    pub(super) fn special_call(&mut self, callee: &str, c: &ast::ExprCall, pos: Pos) {
        let arg = |i: usize, kw: &str| argument(c, i, kw);
        if IMPORTERS.contains(&callee) {
            match arg(0, "name").and_then(|a| fold(a, &self.env)) {
                Some(Value::Str(m)) => self.push(FactKind::Import(m), pos),
                _ => self.push(FactKind::Heuristic(Heuristic::DynamicImport, 1), pos),
            }
        } else if ATTR_FUNCS.contains(&callee) {
            self.attribute_name(arg(1, "name"), arg(0, "obj"), pos);
        } else if callee == "operator.attrgetter" {
            // `attrgetter("a.b", "c")`: every argument names attributes.
            c.args
                .iter()
                .for_each(|a| self.attribute_name(Some(a), None, pos));
        } else if callee == "operator.methodcaller" {
            self.attribute_name(c.args.first(), None, pos);
        } else if matches!(callee, "open" | "io.open" | "codecs.open" | "os.open") {
            self.open_call(arg(0, "file"), arg(1, "mode"), pos);
        } else if callee == "range" {
            let biggest = c.args.iter().filter_map(|a| match fold(a, &self.env) {
                Some(Value::Int(i)) => u64::try_from(i.unsigned_abs()).ok(),
                _ => None,
            });
            if let Some(n) = biggest.max() {
                self.push(FactKind::Heuristic(Heuristic::HugeRange, n), pos);
            }
        }
    }

    pub(super) fn open_call(&mut self, file: Option<&Expr>, mode: Option<&Expr>, pos: Pos) {
        if let Some(Value::Str(path)) = file.and_then(|f| fold(f, &self.env))
            && (path.starts_with('/')
                || path.starts_with('~')
                || path.split(['/', '\\']).any(|p| p == ".."))
        {
            self.push(FactKind::Heuristic(Heuristic::OpenAbsolutePath, 1), pos);
        }
        if let Some(Value::Str(m)) = mode.and_then(|m| fold(m, &self.env))
            && m.contains(['w', 'a', 'x', '+'])
        {
            self.push(FactKind::Heuristic(Heuristic::OpenWriteMode, 1), pos);
        }
    }

    pub(super) fn repetition(&mut self, b: &ast::ExprBinOp) {
        let count = match b.op {
            Operator::Mult => self.repeated_items(&b.left, &b.right),
            Operator::Pow | Operator::LShift => self.int(&b.right),
            _ => None,
        };
        if let Some(n) = count {
            let pos = self.pos(b);
            self.push(FactKind::Heuristic(Heuristic::HugeRepetition, n), pos);
        }
    }

    /// How many items `left * right` builds when one side is a sequence
    /// literal (or a repetition of one) and the other a constant count:
    /// `b"x" * 1024 * 1024 * 1024` builds 2**30 bytes.
    pub(super) fn repeated_items(&self, left: &Expr, right: &Expr) -> Option<u64> {
        match (self.sequence_items(left), self.sequence_items(right)) {
            (Some(n), None) => Some(n.saturating_mul(self.int(right)?)),
            (None, Some(n)) => Some(n.saturating_mul(self.int(left)?)),
            _ => None,
        }
    }

    /// The items of a sequence literal, or of a constant repetition of one.
    pub(super) fn sequence_items(&self, e: &Expr) -> Option<u64> {
        let items = match e {
            Expr::List(l) => l.elts.len(),
            Expr::Tuple(t) => t.elts.len(),
            Expr::Constant(c) => match &c.value {
                Constant::Str(s) => s.chars().count(),
                Constant::Bytes(b) => b.len(),
                _ => return None,
            },
            Expr::BinOp(b) if b.op == Operator::Mult => {
                return self.repeated_items(&b.left, &b.right);
            }
            _ => return None,
        };
        u64::try_from(items.max(1)).ok()
    }

    pub(super) fn int(&self, e: &Expr) -> Option<u64> {
        match fold(e, &self.env) {
            Some(Value::Int(i)) => u64::try_from(i).ok(),
            _ => None,
        }
    }

    /// A module printed, converted to text or formatted shows the path of its file.
    pub(super) fn module_shown(&mut self, callee: &str, c: &ast::ExprCall, pos: Pos) {
        if RENDERERS.contains(&callee) && c.args.iter().any(|a| self.bare_module(a)) {
            self.push(FactKind::Attribute(MODULE_PATH.to_string()), pos);
        }
    }
}

/// Argument `index` of a call, or the keyword argument `keyword`.
pub(super) fn argument<'c>(c: &'c ast::ExprCall, index: usize, keyword: &str) -> Option<&'c Expr> {
    c.args.get(index).or_else(|| {
        c.keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == keyword))
            .map(|k| &k.value)
    })
}
