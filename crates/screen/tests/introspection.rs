//! Interpreter hooks and host facts reached through modules other than `sys`'s
//! well-known hooks: refused; the everyday uses of the same modules pass.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use std::path::Path;

fn refused(code: &str) -> bool {
    let rules = RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load");
    screen(
        &rules,
        Some(Language::Python),
        code.as_bytes(),
        &ScreenPolicy::default(),
    )
    .refused
}

#[test]
fn threading_hooks_are_refused() {
    assert!(refused("import threading\nthreading.excepthook = print"));
    assert!(refused(
        "import threading\nthreading.settrace(lambda *a: None)"
    ));
    assert!(refused(
        "from threading import setprofile\nsetprofile(print)"
    ));
}

/// Rebinding a hook is using it, whatever the module is called.
#[test]
fn hooks_rebound_by_assignment_are_refused() {
    assert!(refused("import sys\nsys.excepthook = print"));
    assert!(refused("import sys as s\ns.displayhook = lambda v: None"));
    assert!(refused("import sys\nsys.path_hooks = []"));
    assert!(!refused(
        "class Config:\n    pass\nc = Config()\nc.excepthook = print\nc.path = []\nprint(c.path)"
    ));
}

#[test]
fn host_paths_of_the_interpreter_are_refused() {
    assert!(refused("import sys\nprint(sys.executable)"));
    assert!(refused("import sys\nprint(sys.orig_argv, sys.prefix)"));
    assert!(refused("from sys import base_prefix as b\nprint(b)"));
}

#[test]
fn everyday_threading_and_sys_pass() {
    assert!(!refused(
        "import sys, threading\nsys.setrecursionlimit(10000)\nprint(sys.version_info >= (3, 8), sys.platform, sys.maxsize)\nt = threading.Thread(target=print, args=(1,))\nt.start()\nt.join()\nprint(sys.stdin.readline())"
    ));
}
