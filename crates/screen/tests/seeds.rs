//! Every module, function, attribute and pattern the users' documents
//! (`shared/seeds/` 000 and 003) forbid has a shipped rule. Most are refused
//! outright; the few that ordinary programs need (`sys`, `threading`,
//! `open`, constant `getattr` …) are reported (`log`) or scored, and their
//! dangerous uses are refused by rules of their own.

use execgate_screen::{Language, RuleSet, ScreenPolicy, screen};
use std::path::Path;

fn shipped() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules load")
}

/// What the shipped rules do with a seed item.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Refused under the default policy.
    Refused,
    /// Reported (with the rule named), not refused on its own.
    Reported(&'static str),
}

use Expect::{Refused, Reported};

/// Seed 000 (`FORBIDDEN_MODULES`, `FORBIDDEN_ATTRIBUTES`, the validators'
/// patterns, `PYODIDE_FORBIDDEN`) and seed 003's Python list.
const PYTHON: &[(&str, Expect)] = &[
    ("import os", Refused),
    ("import shutil", Refused),
    ("import pathlib", Refused),
    ("import tempfile", Refused),
    ("import glob", Refused),
    ("import subprocess", Refused),
    ("import multiprocessing", Refused),
    ("import threading", Reported("PY-IMPORT-WATCHED")),
    ("import socket", Refused),
    ("import urllib.request", Refused),
    ("import urllib2", Refused),
    ("import urllib3", Refused),
    ("import http.client", Refused),
    ("import httplib", Refused),
    ("import ftplib", Refused),
    ("import telnetlib", Refused),
    ("import requests", Refused),
    ("import httpx", Refused),
    ("import sys", Reported("PY-IMPORT-WATCHED")),
    ("import sys\nsys.modules['os']", Refused),
    ("import ctypes", Refused),
    ("import importlib", Refused),
    ("import platform", Refused),
    ("eval('1')", Refused),
    ("exec('1')", Refused),
    ("compile('1', 'f', 'exec')", Refused),
    ("__import__('math')", Refused),
    ("import builtins", Refused),
    ("print(__builtins__)", Refused),
    ("getattr(__builtins__, 'len')", Refused),
    ("open('input.txt')", Reported("PY-REFLECTION-CALL")),
    ("open('/etc/passwd')", Refused),
    ("open('out.txt', 'w')", Reported("PY-OPEN-WRITE")),
    ("getattr(str, 'upper')", Reported("PY-REFLECTION-CALL")),
    ("setattr(str, 'x', 1)", Reported("PY-REFLECTION-CALL")),
    ("delattr(str, 'x')", Reported("PY-REFLECTION-CALL")),
    ("n = input()\ngetattr(str, n)", Refused),
    (
        "().__getattribute__('__class__')",
        Reported("PY-ATTR-GETATTRIBUTE"),
    ),
    ("while True: pass", Reported("PY-INFINITE-LOOP")),
    (
        "for i in range(10 ** 10):\n    pass",
        Reported("PY-HUGE-RANGE"),
    ),
    (
        "data = []\nwhile True:\n    data.append(b'x' * 1024 * 1024)",
        Reported("PY-INFINITE-LOOP"),
    ),
    (
        "bomb = b'x' * 1024 * 1024 * 1024",
        Reported("PY-HUGE-REPETITION"),
    ),
    ("grid = [0] * 10 ** 9", Reported("PY-HUGE-REPETITION")),
    ("import pyodide.http", Refused),
    ("from pyodide.ffi import create_proxy", Refused),
];

/// Seed 003's lists for the pattern-pack languages.
const OTHERS: &[(&str, &str, Expect)] = &[
    ("javascript", "const fs = require('fs');", Refused),
    (
        "javascript",
        "require('child_process').execSync('id')",
        Refused,
    ),
    ("javascript", "const os = require('os');", Refused),
    ("javascript", "eval('1 + 1')", Refused),
    ("javascript", "new Function('return this')()", Refused),
    ("javascript", "console.log(process.env)", Refused),
    ("javascript", "process.exit(1)", Reported("JS-PROCESS-EXIT")),
    ("javascript", "fetch('https://example.com')", Refused),
    ("java", "import java.io.File;", Refused),
    ("java", "import java.net.*;", Refused),
    ("java", "Runtime.getRuntime().exec(\"id\");", Refused),
    ("java", "new ProcessBuilder(\"id\").start();", Refused),
    ("java", "Process p = null;", Refused),
    ("cpp", "#include <fstream>", Refused),
    ("cpp", "#include <sys/socket.h>", Refused),
    ("cpp", "int main() { system(\"id\"); }", Refused),
    ("cpp", "int main() { popen(\"id\", \"r\"); }", Refused),
    ("c", "int main() { system(\"id\"); }", Refused),
    ("c", "#include <sys/socket.h>", Refused),
];

fn check(rules: &RuleSet, language: Language, code: &str, expect: Expect) -> Option<String> {
    let v = screen(
        rules,
        Some(language),
        code.as_bytes(),
        &ScreenPolicy::default(),
    );
    let ok = match expect {
        Refused => v.refused,
        Reported(rule) => !v.refused && v.findings.iter().any(|f| f.rule == rule),
    };
    (!ok).then(|| {
        format!(
            "{language} {code:?}: expected {expect:?}, got {:?}",
            v.findings
        )
    })
}

#[test]
fn every_item_the_seeds_forbid_is_covered() {
    let rules = shipped();
    let python = PYTHON
        .iter()
        .map(|(code, expect)| ("python", *code, *expect));
    let wrong: Vec<String> = python
        .chain(OTHERS.iter().copied())
        .filter_map(|(language, code, expect)| {
            let language = Language::from_name(language).expect("known language");
            check(&rules, language, code, expect)
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
