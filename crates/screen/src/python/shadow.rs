//! Names a program defines for itself. `def eval(expr): …` at module level makes
//! later uses of `eval` the program's own function, not the builtin; treating
//! them as the builtin would refuse ordinary calculators. Only definitions that
//! surely run first count: unconditional, at module level, used textually after,
//! and in a program that has no way to undo a binding (`del`, `global`,
//! namespace dictionaries, `delattr`) — otherwise every use stays suspect.

use crate::Map;
use rustpython_parser::ast::{Ranged, Stmt};
use std::sync::OnceLock;

/// Words that can unbind or rebind module names behind the tree's back.
fn undoers() -> Option<&'static regex::Regex> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"\b(del|global|nonlocal|globals|locals|vars|delattr|setattr|__dict__|__builtins__|builtins|__main__|modules|exec|eval|compile|__import__|importlib)\b",
        )
        .ok()
    })
    .as_ref()
}

/// Module-level definitions and the byte from which uses mean them.
#[derive(Debug, Default)]
pub(crate) struct Shadows(Map<String, usize>);

impl Shadows {
    /// The definitions of `body` (the module's statements) that shadow safely.
    pub fn of(text: &str, body: &[Stmt]) -> Self {
        let Some(re) = undoers() else {
            return Self::default();
        };
        let mut map = Map::default();
        for stmt in body {
            // A function's body runs only once the name is bound (recursion is
            // the program's own function); a class body runs before it is.
            let (name, from) = match stmt {
                Stmt::FunctionDef(f) => {
                    (f.name.as_str(), f.body.first().map(|b| b.range().start()))
                }
                Stmt::AsyncFunctionDef(f) => {
                    (f.name.as_str(), f.body.first().map(|b| b.range().start()))
                }
                Stmt::ClassDef(c) => (c.name.as_str(), Some(stmt.range().end())),
                _ => continue,
            };
            let from = from.unwrap_or(stmt.range().end()).to_usize();
            map.entry(name.to_string()).or_insert(from);
        }
        // Only names whose sole mentions are the definition and its uses keep the shadow.
        let undone = re.find_iter(text).any(|m| !map.contains_key(m.as_str()));
        if undone { Self::default() } else { Self(map) }
    }

    /// Whether `name` used at byte `at` is the program's own definition.
    pub fn hides(&self, name: &str, at: usize) -> bool {
        self.0.get(name).is_some_and(|end| at >= *end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustpython_parser::{Mode, ast::Mod, parse};

    fn shadows(src: &str) -> Shadows {
        let Ok(Mod::Module(m)) = parse(src, Mode::Module, "<t>") else {
            panic!("parse")
        };
        Shadows::of(src, &m.body)
    }

    #[test]
    fn a_module_level_def_shadows_later_uses_only() {
        let src = "def eval(e):\n    return eval(e[1:]) if e else 0\nprint(eval('1'))\n";
        let s = shadows(src);
        assert!(
            s.hides("eval", src.find("eval(e[").unwrap_or(0)),
            "recursion"
        );
        assert!(s.hides("eval", src.find("print").unwrap_or(0)));
        assert!(!s.hides("eval", 0));
        assert!(!s.hides("exec", src.len()));
    }

    #[test]
    fn conditional_defs_and_undoable_programs_do_not_shadow() {
        let cond = "if 0:\n    def eval(e):\n        pass\neval('1')\n";
        assert!(!shadows(cond).hides("eval", cond.len()));
        let del = "def eval(e):\n    pass\ndel eval\neval('1')\n";
        assert!(!shadows(del).hides("eval", del.len()));
        let ns = "def eval(e):\n    pass\nglobals().pop('eval')\neval('1')\n";
        assert!(!shadows(ns).hides("eval", ns.len()));
        let class = "class eval:\n    x = eval('1')\n";
        assert!(
            !shadows(class).hides("eval", class.find("eval('").unwrap_or(0)),
            "class bodies run first"
        );
        let both = "def eval(e):\n    pass\ndef f():\n    return exec\n";
        assert!(
            !shadows(both).hides("eval", both.len()),
            "an unshadowed exec elsewhere"
        );
    }
}
