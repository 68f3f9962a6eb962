//! Compiler options (Judge0 `compiler_options`): a compiler flag can run a
//! program the gateway never screened (`-wrapper`, `-fplugin=`, `-specs=`,
//! `@file`) or compile a host file into an error message (`-include
//! /etc/passwd`). Only a plain allow-list of optimisation, standard, warning
//! and define flags passes.

use crate::model::RequestError;

/// Longest accepted option string (Judge0's own limit).
const MAX_LEN: usize = 512;

/// Flags accepted exactly.
const EXACT: &[&str] = &[
    "-O",
    "-O0",
    "-O1",
    "-O2",
    "-O3",
    "-Os",
    "-Og",
    "-Ofast",
    "-g",
    "-w",
    "-pedantic",
    "-pedantic-errors",
    "-pthread",
    "-static",
    "-lm",
    "-DONLINE_JUDGE",
    "-ansi",
];

/// Flags accepted with a tail of letters, digits and `+ - = _ .`.
const PREFIXES: &[&str] = &["-std=", "-W", "-D", "-f", "-m", "-l"];

/// Refuses `options` unless every token is an allowed flag.
pub(crate) fn check_compiler_options(options: &str, field: &str) -> Result<(), RequestError> {
    if options.len() > MAX_LEN {
        return Err(RequestError::new(field, "is longer than 512 bytes"));
    }
    match options.split_whitespace().find(|token| !allowed(token)) {
        Some(token) => Err(RequestError::new(
            field,
            format!("option {token:?} is not allowed"),
        )),
        None => Ok(()),
    }
}

fn allowed(token: &str) -> bool {
    if EXACT.contains(&token) {
        return true;
    }
    let plain_tail = |tail: &str| {
        !tail.is_empty()
            && tail
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-=_.".contains(c))
    };
    // `-fplugin=x.so` loads code; `-Wl,…`, `-Wp,…` pass options on (no commas pass the tail check).
    !token.starts_with("-fplugin")
        && PREFIXES
            .iter()
            .any(|p| token.strip_prefix(p).is_some_and(plain_tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyday_flags_pass() {
        for ok in [
            "",
            "-O2 -std=c++17",
            "-Wall -Wextra -Werror=return-type -DLOCAL -DN=100 -lm -march=native",
            "-fsanitize=address -fno-exceptions -g -pthread",
        ] {
            assert!(
                check_compiler_options(ok, "compiler_options").is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn flags_that_run_or_read_other_files_are_refused() {
        for bad in [
            "-wrapper /bin/sh,-c,id",
            "-fplugin=./evil.so",
            "-specs=/tmp/x",
            "@/tmp/args",
            "-include /etc/passwd",
            "-Wl,--wrap=main",
            "-B/tmp",
            "main.c",
            "-DX=$(id)",
        ] {
            let err = check_compiler_options(bad, "compiler_options").unwrap_err();
            assert_eq!(err.field, "compiler_options");
            assert!(err.message.contains("is not allowed"), "{bad}: {err}");
        }
        assert!(check_compiler_options(&"-O2 ".repeat(200), "c").is_err());
    }
}
