//! The glob(3) subset keepalived's `include` uses: `*`, `?`, `[...]` (with `!`/`^` and ranges)
//! within a path component, and `{a,b}` alternatives (GLOB_BRACE). Hidden files match only a
//! pattern that starts with a dot. Results are sorted per pattern, like glob(3).

use std::path::{Path, PathBuf};

/// At most this many paths come out of one pattern.
const MAX_MATCHES: usize = 1024;

/// Whether `pattern` holds glob characters (a literal path that is missing is an error, a glob
/// that matches nothing is not).
pub(crate) fn has_magic(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The existing paths `pattern` matches.
pub(crate) fn expand(pattern: &Path) -> Vec<PathBuf> {
    let pattern = pattern.to_string_lossy();
    let mut out = Vec::new();
    for alternative in braces(&pattern) {
        for path in one(&alternative) {
            if out.len() < MAX_MATCHES && !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Expand the `{a,b}` groups (not nested) of a pattern.
fn braces(pattern: &str) -> Vec<String> {
    let mut done = Vec::new();
    let mut todo = vec![pattern.to_string()];
    while let Some(p) = todo.pop() {
        let group = p
            .find('{')
            .and_then(|open| p[open..].find('}').map(|len| (open, open + len)));
        match group {
            Some((open, close)) if done.len() + todo.len() < MAX_MATCHES => {
                let (head, tail) = (&p[..open], &p[close + 1..]);
                for alt in p[open + 1..close].split(',').rev() {
                    todo.push(format!("{head}{alt}{tail}"));
                }
            }
            _ => done.push(p),
        }
    }
    done
}

/// Expand one brace-free pattern, component by component.
fn one(pattern: &str) -> Vec<PathBuf> {
    let mut bases = vec![if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        if !has_magic(comp) {
            for b in &mut bases {
                b.push(comp);
            }
            continue;
        }
        let pat: Vec<char> = comp.chars().collect();
        let mut next = Vec::new();
        for base in &bases {
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || comp.starts_with('.'))
                .filter(|n| matches(&pat, &n.chars().collect::<Vec<_>>()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
            if next.len() > MAX_MATCHES {
                break;
            }
        }
        bases = next;
    }
    bases.retain(|p| !p.as_os_str().is_empty() && p.exists());
    bases
}

/// Whether the pattern at `pi` (not a `*`) matches `c`; the index after it if so.
fn step(p: &[char], pi: usize, c: char) -> Option<usize> {
    match *p.get(pi)? {
        '?' => Some(pi + 1),
        '[' => match class(p, pi, c) {
            Some((true, next)) => Some(next),
            Some((false, _)) => None,
            None => (c == '[').then_some(pi + 1),
        },
        x => (x == c).then_some(pi + 1),
    }
}

/// A `[...]` class at `start`: whether it holds `c`, and the index after it; None when the
/// class is not closed (then `[` is literal).
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-')
            && let Some(&hi) = p.get(i + 2)
            && hi != ']'
        {
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
}

/// Whether a whole name matches a pattern (iterative, backtracking to the last `*`).
fn matches(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(si) {
        if p.get(pi) == Some(&'*') {
            star = Some((pi, si));
            pi += 1;
            continue;
        }
        if let Some(next) = step(p, pi, c) {
            pi = next;
            si += 1;
            continue;
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(
            &p.chars().collect::<Vec<_>>(),
            &s.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn wildcards() {
        assert!(m("*.conf", "a.conf"));
        assert!(m("*.conf", ".conf"));
        assert!(!m("*.conf", "a.conf.bak"));
        assert!(m("a?c", "abc"));
        assert!(m("[ab]*", "b1"));
        assert!(!m("[!ab]*", "b1"));
        assert!(m("[a-c]x", "bx"));
        assert!(m("[]]", "]"));
        assert!(m("[", "["));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b", "xxaxxbxx"));
    }

    #[test]
    fn brace_alternatives() {
        let mut b = braces("x/{a,b}.{c,d}");
        b.sort();
        assert_eq!(b, ["x/a.c", "x/a.d", "x/b.c", "x/b.d"]);
        assert_eq!(braces("no{brace"), ["no{brace"]);
    }
}
